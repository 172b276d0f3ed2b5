"""A run killed with SIGKILL mid-way resumes without rescoring and ends on the uninterrupted front (under Ray,
whose results arrive in any order; the serial replay is the same code path with one order)."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_read_back_evaluations_take_the_place_the_replayed_search_asks_for_them():
    """Whatever order candidates.csv holds them in, the memo ends in submission order."""
    from evonas.engine.evaluator import Evaluator
    from evonas.engine.pool import SerialPool
    from evonas.engine.records import ScorerSpec
    from evonas.space.table import load_table

    table = load_table()
    cells = [c for c in (table.cell(i) for i in range(3, 15625, 97)) if c.is_connected]
    batches = [cells[:20], cells[10:45], cells[40:]]  # overlapping: later batches ask again
    pool = SerialPool(ScorerSpec(scores=("flops",)))
    live = Evaluator(pool, ("flops",))
    for batch in batches:
        live(batch)
    order = list(live.memo)
    replay = Evaluator(pool, ("flops",), resumed=dict(reversed(live.memo.items())))
    for k, batch in enumerate(batches):
        assert [ev and ev.values for ev in replay(batch)] == [ev and ev.values for ev in live(batch)]
        if k == 0:
            assert list(replay.memo) == order[:len(replay.memo)]
    assert list(replay.memo) == order and replay.n_scored == 0 and not replay.resumed


RAY_CONFIG = """\
name: resume-ray
seed: 0
network: {{C: 8, N: 1}}           # flops and params counted live by fvcore: about 0.1 s a cell
objectives:                       # many cells tie on both: the front depends on the memo's order
  - {{score: flops, direction: min}}
  - {{score: params, direction: max}}
search: {{pop_size: 10, n_gen: 10}}
ray: {{backend: ray, num_actors: 2}}
cache: {{dir: {cache}}}
"""


def _reverse_within_generations(path: Path) -> None:
    """Rewrite candidates.csv in another order Ray may deliver results in: last first within each generation."""
    lines = path.read_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    gens: dict[str, list[str]] = {}
    for line in rows:
        gens.setdefault(line.split(",", 1)[0], []).append(line)
    path.write_text(header + "".join(line for g in gens.values() for line in reversed(g)))


@pytest.mark.slow
def test_ray_with_a_cache_sigkill_then_resume_reaches_the_same_front_ids_included(tmp_path):
    """Under Ray results arrive in any order; the resumed memo must still be in the live run's order."""
    config = tmp_path / "ray.yaml"
    config.write_text(RAY_CONFIG.format(cache=tmp_path / "cache"))
    full, killed = tmp_path / "full", tmp_path / "killed"
    done = subprocess.run([sys.executable, "-m", "evonas", "--config", str(config), "--quiet", "--out", str(full)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    n_full = len(_rows(full / "candidates.csv"))
    assert len({r["flops"] for r in _rows(full / "candidates.csv")}) < n_full / 2  # ties abound

    proc = subprocess.Popen([sys.executable, "-m", "evonas", "--config", str(config), "--quiet", "--out", str(killed),
                             "--set", f"cache.dir={tmp_path / 'cache_killed'}"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    cands = killed / "candidates.csv"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if cands.exists() and len(cands.read_text().splitlines()) > n_full // 2:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started, as a crash would
    proc.wait()
    n_before = len(_rows(cands))
    assert 0 < n_before < n_full, "the run must be killed mid-way"
    _reverse_within_generations(cands)

    resumed = subprocess.run([sys.executable, "-m", "evonas", "--resume", str(killed), "--quiet"], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows = _rows(cands)
    assert len(rows) == n_full and len({r["canonical"] for r in rows}) == n_full  # nothing scored twice
    assert (killed / "pareto.csv").read_text() == (full / "pareto.csv").read_text()


def test_a_candidates_file_of_an_older_evonas_is_refused_with_one_clear_error(tmp_path):
    from evonas.errors import RunDirError
    from evonas.run.rundir import CandidateLog

    path = tmp_path / "candidates.csv"
    path.write_text("generation,arch,index,canonical,status,flops,wall_time_s,device,attempts,error\n"
                    "0,|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|,5,0,ok,7.8,0.1,cpu,1,\n")
    with pytest.raises(RunDirError, match="older evonas"):
        CandidateLog.load(path, ("flops",))
    with pytest.raises(RunDirError, match="start a new run"):
        CandidateLog(path, ("flops",))
