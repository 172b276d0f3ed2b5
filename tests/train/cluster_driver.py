"""A driver for the multi-node test: a loopback Ray cluster (``ray.cluster_utils.Cluster``: a head and two
worker nodes on 127.0.0.1, one logical CPU each), the training stage attached to it by address, a
worker killed after its first epoch; what happened is written as JSON for the test to check.

    python cluster_driver.py WORK_DIR REPORT.json

The nodes start in ``WORK_DIR/nodes`` (their working directory); the driver then trains from
``WORK_DIR/driver`` with the relative run path ``runs/run``. Only the processes this script started
(the cluster's, descendants of this process) are killed or stopped.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
#: every Ray process of this script (nodes, workers, the driver) takes 127.0.0.1 as its address: Ray
#: otherwise replaces a loopback address by the machine's own (``resolve_ip_for_localhost``)
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

EPOCHS = 3


def _descendants_running(title: str) -> list[int]:
    """Processes under this one whose command line starts with ``title`` (Ray names a busy worker
    ``ray::<function>``)."""
    parents: dict[int, int] = {}
    titles: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            titles[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    me, found = os.getpid(), []
    for pid, cmd in titles.items():
        if not cmd.startswith(title):
            continue
        up = pid
        while up in parents and up not in (0, 1, me):
            up = parents[up]
        if up == me:
            found.append(pid)
    return found


class _KillFirstTraining(logging.Handler):
    """Kills the trainings running when the first ``epoch 1/`` line is logged (once); records every line."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.killed: list[int] = []
        self.victim: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        self.lines.append(line)
        if self.victim is None and f": epoch 1/{EPOCHS} " in line:
            self.victim = line.split(":", 1)[0]  # "train id N"
            for pid in _descendants_running("ray::_on_worker"):
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)


def main(work: Path, report_path: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    from evonas.config.load import config_from_mapping
    from evonas.run.rundir import RunDir
    from evonas.strict import to_mapping
    from evonas.train.stage import train_front
    from fixtures_run import make_run

    nodes_dir, driver_dir = work / "nodes", work / "driver"
    nodes_dir.mkdir()
    (driver_dir / "runs").mkdir(parents=True)
    loopback = {"node_ip_address": "127.0.0.1", "num_cpus": 1, "object_store_memory": 100 << 20}
    os.chdir(nodes_dir)
    cluster = Cluster(initialize_head=True, head_node_args={**loopback, "include_dashboard": False})
    report: dict = {}
    try:
        for _ in range(2):
            cluster.add_node(**loopback)
        cluster.wait_for_nodes()
        report["before"] = [n["NodeManagerAddress"] for n in cluster.global_state.node_table() if n["Alive"]]
        make_run(driver_dir / "runs")
        os.chdir(driver_dir)
        run = RunDir.open("runs/run")
        data = to_mapping(run.config())
        data["device"] = "cpu"
        data["ray"].update(backend="ray", address=cluster.address, max_retries=2)
        data["train"].update(n_train=256, recipe={"epochs": EPOCHS, "batch_size": 64})
        handler = _KillFirstTraining()
        log = logging.getLogger("evonas")
        log.setLevel(logging.INFO)
        log.addHandler(handler)
        rows = train_front(config_from_mapping(data), run, ids=[0, 1, 2])
        report["rows"] = [{k: r[k] for k in ("id", "status", "epochs", "error")} for r in rows]
        report["lines"], report["killed"], report["victim"] = handler.lines, handler.killed, handler.victim
        report["initialized"] = ray.is_initialized()
        report["after"] = [n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]]
        report["still_runs"] = ray.get(ray.remote(num_cpus=1)(lambda: "yes").remote(), timeout=60)
        report["run_dir"] = str(run.path.resolve())
        report["run_files"] = sorted(str(p.relative_to(run.path)) for p in run.path.rglob("*") if p.is_file())
        report["nodes_dir"] = sorted(str(p.relative_to(nodes_dir)) for p in nodes_dir.rglob("*"))
    finally:
        report_path.write_text(json.dumps(report))
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
