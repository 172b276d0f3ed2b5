"""Attaching to a Ray cluster: an address nobody answers fails fast; a real head started by the test on
127.0.0.1 (stopped afterwards) is attached to and left running."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO
from evonas.errors import EvonasError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_mentioning(text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.fixture
def ray_head():
    """``ray start --head`` on 127.0.0.1 with its own temp dir; only its processes are stopped after."""
    ray_bin = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="evr", dir="/tmp")
    proc = subprocess.run([ray_bin, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                           "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        for _ in range(3):  # stop exactly this head: every process started under its temp dir
            pids = [p for p in _pids_mentioning(temp) if p != os.getpid()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_search_attaches_to_a_running_head_and_leaves_it_running(ray_head, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "evonas", "--config", str(REPO / "configs" / "smoke.yaml"),
                           "--set", f"ray.address={ray_head}", "--set", "search.n_gen=2", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "pareto.csv").is_file()
    assert "2 ray worker(s)" in (out / "run.log").read_text()
    # evonas never shuts down a cluster it did not start: the head still answers
    with socket.create_connection(tuple(ray_head.rsplit(":", 1)[0:1]) + (int(ray_head.rsplit(":", 1)[1]),),
                                  timeout=5):
        pass


def test_an_address_nobody_answers_fails_fast_with_a_clear_line(tmp_path):
    port = _free_port()
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "evonas", "--config", str(REPO / "configs" / "smoke.yaml"),
                           "--set", f"ray.address=127.0.0.1:{port}", "--set", "ray.connect_timeout_s=2",
                           "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2
    assert f"nothing answers at 127.0.0.1:{port}" in proc.stderr
    assert time.time() - t0 < 60


def test_an_address_that_does_not_answer_fails_in_seconds():
    from evonas.engine.cluster import _check_reachable

    t0 = time.perf_counter()
    with pytest.raises(EvonasError, match="nothing answers at 127.0.0.1:9"):
        _check_reachable("127.0.0.1:9", timeout_s=2.0)
    assert time.perf_counter() - t0 < 5
