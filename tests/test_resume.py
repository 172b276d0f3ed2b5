"""A run killed with SIGKILL mid-way resumes without rescoring and ends on the uninterrupted front."""
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

ARGS = ["--config", str(REPO / "configs" / "smoke.yaml"), "--set", "search.n_gen=4", "--set", "ray.backend=serial",
        "--quiet"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_sigkill_then_resume_reaches_the_same_front(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    done = subprocess.run([sys.executable, "-m", "evonas", *ARGS, "--out", str(full)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    n_full = len(_rows(full / "candidates.csv"))

    proc = subprocess.Popen([sys.executable, "-m", "evonas", *ARGS, "--out", str(killed)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cands = killed / "candidates.csv"
    deadline = time.time() + 240
    while time.time() < deadline:
        if cands.exists() and len(cands.read_text().splitlines()) > n_full // 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len(_rows(cands))
    assert 0 < n_before < n_full, "the run must be killed mid-way"
    assert not (killed / "pareto.csv").exists()

    resumed = subprocess.run([sys.executable, "-m", "evonas", "--resume", str(killed), "--quiet"], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows = _rows(cands)
    assert len(rows) == n_full                              # nothing scored twice
    assert len({r["canonical"] for r in rows}) == n_full
    assert (killed / "pareto.csv").read_text() == (full / "pareto.csv").read_text()
    assert "read back, not rescored" in (killed / "run.log").read_text()
