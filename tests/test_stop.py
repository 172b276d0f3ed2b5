"""SIGTERM (what batch schedulers and ``kill`` send) ends a run as Ctrl-C does: everything written so far kept, one
line saying how to go on, exit code 128 + the signal; ``--resume`` finishes the run."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from conftest import REPO
from evonas.errors import Stopped, stop_on_sigterm, stop_signal

SMOKE = str(REPO / "configs" / "smoke.yaml")


def test_sigterm_raises_stopped_within_stop_on_sigterm_and_the_handler_found_is_back():
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_sigterm():
        with pytest.raises(Stopped) as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs at the next instruction
        assert stop_signal(stop.value) == signal.SIGTERM and isinstance(stop.value, KeyboardInterrupt)
        # Ray's waits turn what a handler raised into a plain KeyboardInterrupt: the signal is remembered
        assert stop_signal(KeyboardInterrupt()) == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM does not cut the clean-up short
        time.sleep(0.1)
    assert signal.getsignal(signal.SIGTERM) is before
    assert stop_signal(KeyboardInterrupt()) == signal.SIGINT  # Ctrl-C


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _sigterm_when(args: list[str], ready: Callable[[], bool], env: dict[str, str]) -> str:
    """Start ``python -m evonas ARGS``, send it SIGTERM once ``ready()``; its stderr (it must exit with 143)."""
    proc = subprocess.Popen([sys.executable, "-m", "evonas", *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.05)
    assert proc.poll() is None, "the run must be stopped mid-way: " + proc.stderr.read()[-3000:]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    return err


@pytest.mark.slow
def test_sigterm_mid_search_and_mid_training_then_resume_finishes_the_run(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "RAY_ADDRESS": "local"}  # a Ray of its own, whatever else runs on this machine
    line = f"evonas: stopped (SIGTERM); continue with python -m evonas --resume {out}"
    args = ["--config", SMOKE, "--set", "ray.backend=ray", "--set", "search.n_gen=4", "--out", str(out), "--quiet",
            "--set", "train.after_search=true", "--set", "train.candidates=ids", "--set", "train.ids=[0]",
            "--set", "train.recipe.epochs=2", "--set", "train.n_train=64", "--set", "train.recipe.batch_size=32"]
    cands = out / "candidates.csv"
    err = _sigterm_when(args, lambda: cands.exists() and len(cands.read_text().splitlines()) > 9, env)  # generation 2
    assert [ln for ln in err.splitlines() if ln.strip()] == [line]  # one line, no traceback, no Ray stack dump
    assert not (out / "pareto.csv").exists() and len(_rows(cands)) >= 8

    checkpoints = out / "checkpoints"
    err = _sigterm_when(["--resume", str(out), "--quiet"], lambda: any(checkpoints.glob("*.progress.json")), env)
    assert [ln for ln in err.splitlines() if ln.strip()] == [line]
    assert (out / "pareto.csv").exists() and any(checkpoints.glob("*.pt"))  # the epochs trained are kept

    done = subprocess.run([sys.executable, "-m", "evonas", "--resume", str(out), "--quiet"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(cands)
    assert len({r["canonical"] for r in rows}) == len(rows)  # nothing scored twice
    (trained,) = _rows(out / "trained.csv")
    assert (trained["id"], trained["status"], trained["epochs"]) == ("0", "ok", "2")
