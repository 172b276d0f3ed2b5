"""What reaches a Ray cluster's workers, and attaching that says why, on real Ray.

The images are shipped by the driver (a worker that cannot read ``data.root`` scores them all the same),
a plugin's score reaches every worker of a multi-node cluster, a worker that runs another evonas stops
the start with one line naming its node, and token authentication follows Ray's rule for an address
given to it, or fails in one line before ``ray.init``. The clusters are ``ray.cluster_utils.Cluster``s
whose every node listens on 127.0.0.1, run by this file as a script in a process of their own (their
address file goes to a temp dir of theirs, not to /tmp/ray where other Rays would find it).
"""
from __future__ import annotations

import csv
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Ray settings under which a driver and every node stay on the loopback: Ray otherwise replaces a loopback
#: address by this machine's address (``ray._private.services.resolve_ip_for_localhost``)
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
#: what a test's own environment may carry from an earlier local Ray (which sets token mode for itself)
RAY_STATE = ("RAY_AUTH_MODE", "RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Ray state, on the loopback, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in RAY_STATE}
    env.update(LOOPBACK, PYTHONPATH=str(REPO), **extra)
    return env


def _keep(args: dict[str, Any]) -> None:
    """Run a loopback cluster (``args["nodes"]``: each node's extra arguments, the head's first) until stdin
    closes; print its address and ``ray.nodes()`` as one JSON line; a line "remove" on stdin kills the last node."""
    os.environ["RAY_TMPDIR"] = args["tmp"]
    import ray
    from ray.cluster_utils import Cluster

    base = {"node_ip_address": "127.0.0.1", "include_dashboard": False, "object_store_memory": 80 * 2**20}
    head, *others = args["nodes"]
    cluster = Cluster(initialize_head=True, head_node_args={**base, **head})
    for node in others:
        cluster.add_node(**base, **node)
    ray.init(address=cluster.address, logging_level="ERROR")
    nodes = [{"ip": n["NodeManagerAddress"], "id": n["NodeID"]} for n in ray.nodes() if n["Alive"]]
    ray.shutdown()
    print(json.dumps({"address": cluster.address, "nodes": nodes}), flush=True)
    for line in sys.stdin:  # "remove": the last node added goes, as a machine that dies would
        if line.strip() == "remove":
            node = list(cluster.worker_nodes)[-1]
            cluster.remove_node(node, allow_graceful=False)
            print(f"removed {node.node_id}", flush=True)
    cluster.shutdown()


@contextmanager
def loopback_cluster(nodes: list[dict[str, Any]], **env: str) -> Iterator[dict[str, Any]]:
    """A cluster of ``nodes`` on 127.0.0.1 (every node checked by ``ray.nodes()``), under ``clean_env(**env)``;
    yields ``{"address", "nodes": [{"ip", "id"}], "remove_last_node"}`` and stops it after."""
    temp = tempfile.mkdtemp(prefix="evc", dir="/tmp")
    log = open(Path(temp) / "keeper.log", "w")
    proc = subprocess.Popen([sys.executable, __file__, json.dumps({"tmp": temp, "nodes": nodes})],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                            env=clean_env(**env), cwd=temp)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 180)
        line = proc.stdout.readline() if ready else ""
        assert line, f"the cluster did not start: {(Path(temp) / 'keeper.log').read_text()[-3000:]}"
        info = json.loads(line)
        assert len(info["nodes"]) == len(nodes)
        assert {n["ip"] for n in info["nodes"]} == {"127.0.0.1"}  # no node on the machine's interface address

        def remove_last_node() -> str:
            """Kill the last node added; its node id."""
            proc.stdin.write("remove\n")
            proc.stdin.flush()
            said, node_id = proc.stdout.readline().split()
            assert said == "removed"
            return node_id

        info["remove_last_node"] = remove_last_node
        yield info
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        from fixtures_cluster import stop_everything_under  # here: this file also runs as the cluster's keeper

        stop_everything_under(temp)
        shutil.rmtree(temp, ignore_errors=True)


def run_evonas(args: list[str], cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evonas", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=clean_env(**env))


def run_python(code: str, cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=clean_env(**env))


def test_workers_score_the_images_the_driver_shipped_without_reading_data_root(ray_local, tmp_path):
    from evonas.config.load import config_from_mapping
    from evonas.config.schema import RayConfig
    from evonas.engine.ray_start import actor_classes, await_start, plan_pool
    from evonas.engine.records import ScorerSpec
    from evonas.engine.scorer import Scorer
    from evonas.errors import DataError
    from evonas.space.cell import Cell
    from fixtures_data import write_npz

    data = write_npz(tmp_path / "data" / "images.npz", size=16)
    config = config_from_mapping({"dataset": "custom", "data": {"root": str(data)}, "network": {"C": 8, "N": 1},
                                  "objectives": [{"score": "naswot"}, {"score": "flops"}],
                                  "scores": {"naswot": {"batch_size": 8}}})
    spec = ScorerSpec.from_config(config, scores=("naswot",))
    arch = Cell.from_index(6111).arch
    expected = Scorer(spec).score(arch)
    plan = plan_pool(spec, RayConfig(num_actors=1), ray_local.cluster_resources())
    classes, specs = actor_classes(plan, spec)  # the images are read here, once, by the driver
    data.parent.rename(tmp_path / "moved")  # no worker can read data.root now
    with pytest.raises(DataError):
        Scorer(spec)
    actor = classes["cpu"].remote(specs["cpu"])
    try:
        assert len(await_start([actor], 120, "test")) == 1
        ev = ray_local.get(actor.score.remote(arch))
    finally:
        ray_local.kill(actor, no_restart=True)
    assert ev.ok, ev.error
    assert ev.values == expected.values


def test_a_worker_says_where_it_runs_and_must_match_the_drivers_versions_up_to_builds_and_patches():
    from evonas.engine.ray_start import check_versions
    from evonas.engine.records import ScorerSpec
    from evonas.engine.scorer import Scorer, versions
    from evonas.errors import EvonasError

    about = Scorer(ScorerSpec(scores=("params",), device="cpu")).about()
    assert set(about) == {"device", "host", "node_id", "ip", "gpus", "evonas", "torch", "python"}
    assert check_versions(about) is about and {k: about[k] for k in versions()} == versions()
    driver = {"evonas": "0.1.0", "torch": "2.13.0+cpu", "python": "3.11.7"}
    worker = {"device": "cpu", "host": "h", "node_id": "n1", "ip": "10.0.0.2", "evonas": "0.1.0",
              "torch": "2.13.0+cu121", "python": "3.11.9"}
    assert check_versions(worker, driver) is worker  # a CUDA build beside a CPU one, another patch release
    with pytest.raises(EvonasError) as err:
        check_versions({**worker, "python": "3.12.1", "evonas": "0.2.0"}, driver)
    assert str(err.value) == ("the Ray scoring worker on node 10.0.0.2 (host h, node id n1) runs evonas 0.2.0, "
                              "python 3.12.1 where this driver runs evonas 0.1.0, python 3.11.7; install the same "
                              "versions on every node (or ship them: ray.runtime_env pip, py_modules)")


def _fake_evonas(root: Path, version: str) -> Path:
    """A folder holding an ``evonas`` package that is the real one under another version: what a node
    with a newer evonas installed imports first."""
    real = REPO / "evonas"
    (root / "evonas").mkdir(parents=True)
    (root / "evonas" / "__init__.py").write_text(textwrap.dedent(f'''\
        __path__ = [{str(real)!r}]
        exec(compile(open({str(real / "__init__.py")!r}).read(), {str(real / "__init__.py")!r}, "exec"))
        __version__ = {version!r}
        '''))
    return root


@pytest.mark.slow
def test_a_worker_with_another_evonas_stops_the_start_with_one_line_naming_its_node(tmp_path):
    fake = _fake_evonas(tmp_path / "newer", "99.0")
    with loopback_cluster([{"num_cpus": 2, "env_vars": {"PYTHONPATH": str(fake)}}],
                          RAY_AUTH_MODE="disabled") as cluster:
        proc = run_evonas(["--config", str(REPO / "configs" / "smoke.yaml"), "--set", "search.n_gen=1",
                           "--set", f"ray.address={cluster['address']}", "--out", str(tmp_path / "run"), "--quiet"],
                          cwd=tmp_path)
    node = cluster["nodes"][0]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.count("\n") == 1, proc.stderr[-3000:]
    assert proc.stderr.startswith(f"evonas: error: the Ray scoring worker on node 127.0.0.1 (host ")
    assert f"node id {node['id']}) runs evonas 99.0 where this driver runs evonas 0.1.0; " in proc.stderr


PLUGIN = '''\
"""A score of the user's, registered where it is imported: it notes which module file and node scored."""
from dataclasses import dataclass
from pathlib import Path

import evonas


@dataclass(frozen=True)
class NodeSettings:
    record_dir: str = ""
    seconds: float = 0.0


@evonas.register_score("test_plugin_node", direction="max", settings=NodeSettings)
def node_score(ctx, s: NodeSettings) -> float:
    """The cell's index; notes this worker's node and where it imported this module from."""
    import ray

    import time

    node = ray.get_runtime_context().get_node_id()
    (Path(s.record_dir) / node).write_text(__file__)
    time.sleep(s.seconds)
    return float(ctx.cell.index)
'''


@pytest.mark.slow
def test_an_async_cluster_run_ships_the_plugin_to_every_node_and_survives_losing_one(tmp_path):
    """The CLI, attached to a two-node loopback cluster: a score from a local file reaches both nodes' workers;
    the worker node dies mid-run: the run log names the lost node, its worker's cell is retried, the
    replacement that finds no room is given up, and the asynchronous search still scores its whole budget."""
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "my_scores.py").write_text(PLUGIN)
    (tmp_path / "nodes").mkdir()
    token = tmp_path / "token"
    token.write_text("a" * 32)  # the driver has a token; the cluster runs without token authentication
    (tmp_path / "run.yaml").write_text(textwrap.dedent(f"""\
        plugins: [plugin/my_scores.py]
        network: {{C: 8, N: 1}}
        objectives: [{{score: test_plugin_node, direction: max}}, {{score: flops}}]
        scores: {{test_plugin_node: {{record_dir: {tmp_path / 'nodes'}, seconds: 0.5}}}}
        search: {{mode: async, pop_size: 4, max_evals: 24}}
        ray: {{num_actors: 2, start_timeout_s: 8}}
        """))
    quick = {"health_check_period_ms": 500, "health_check_failure_threshold": 3}  # a dead node is declared in ~2 s
    with loopback_cluster([{"num_cpus": 1, "_system_config": quick}, {"num_cpus": 1}],
                          RAY_AUTH_MODE="disabled") as cluster:
        proc = subprocess.Popen([sys.executable, "-m", "evonas", "--config", "run.yaml", "--set",
                                 f"ray.address={cluster['address']}", "--out", "run", "--quiet"], cwd=tmp_path,
                                env=clean_env(RAY_AUTH_TOKEN_PATH=str(token)), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        cands = tmp_path / "run" / "candidates.csv"
        deadline = time.monotonic() + 180
        while not (cands.exists() and len(cands.read_text().splitlines()) > 4):  # 4 cells in
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-3000:]
            time.sleep(0.1)
        noted = {p.name: p.read_text() for p in (tmp_path / "nodes").iterdir()}
        lost = cluster["remove_last_node"]()
        _, err = proc.communicate(timeout=180)
        in_token_mode = run_python(f"""
            from evonas.engine.cluster import start_ray
            start_ray({cluster['address']!r}, 5.0)
            """, tmp_path, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    assert proc.returncode == 0, err[-3000:]
    assert set(noted) == {n["id"] for n in cluster["nodes"]}  # every node's worker scored with the plugin
    assert all("py_modules" in path and str(tmp_path) not in path for path in noted.values())  # the shipped copy
    with open(cands, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and all(r["status"] == "ok" for r in rows)  # the whole budget, no cell lost
    assert len({r["canonical"] for r in rows}) == 24 and {r["node"] for r in rows} == {"127.0.0.1"}
    log = (tmp_path / "run" / "run.log").read_text()
    assert f"Ray node 127.0.0.1 ({lost[:8]}) was lost with 1 worker(s)" in log
    assert f"(node {lost[:8]}): worker died" in log and "retrying (attempt 2 of 3)" in log
    assert "did not start within 8 s of being asked for (ray.start_timeout_s); given up, the pool has 1" in log
    assert in_token_mode.returncode == 1
    assert in_token_mode.stderr.strip().splitlines()[-1].startswith(
        f"evonas.errors.ClusterError: ray.address: the Ray head at {cluster['address']} runs without token "
        f"authentication, but RAY_AUTH_MODE=token is set here")


@pytest.mark.slow
def test_a_head_in_token_mode_is_attached_with_ray_auth_mode_token_else_one_line(tmp_path):
    token = tmp_path / "token"
    token.write_text("b" * 32)
    attach = """
        import time
        from evonas.engine.cluster import start_ray
        t0 = time.monotonic()
        try:
            start_ray({address!r}, 5.0)
        finally:
            print(f"{{time.monotonic() - t0:.1f}}")
        import ray
        print(ray.get(ray.remote(lambda: "ran").remote()))
        """
    with loopback_cluster([{"num_cpus": 1}], RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token)) as cluster:
        code = attach.format(address=cluster["address"])
        without = run_python(code, tmp_path, RAY_AUTH_TOKEN_PATH=str(token))
        with_token = run_python(code, tmp_path, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    assert without.returncode == 1 and float(without.stdout.split()[0]) < 5
    assert without.stderr.strip().splitlines()[-1] == (
        f"evonas.errors.ClusterError: ray.address: the Ray head at {cluster['address']} requires token "
        f"authentication, and Ray sends a token to an address given to it only with RAY_AUTH_MODE=token: set "
        f"RAY_AUTH_MODE=token, with the cluster's token in ~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN")
    assert with_token.returncode == 0, with_token.stderr[-3000:]
    assert with_token.stdout.split()[-1] == "ran"


if __name__ == "__main__":
    _keep(json.loads(sys.argv[1]))
