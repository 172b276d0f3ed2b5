"""Attaching to a Ray cluster: an address nobody answers, or where something other than a Ray head answers,
fails fast; ``ray.init`` itself is given up after ``ray.connect_timeout_s``; a real head started by the test on
127.0.0.1 in token mode (stopped afterwards) is attached to with ``RAY_AUTH_MODE=token`` and left running."""
from __future__ import annotations

import http.server
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import REPO
from fixtures_cluster import stop_everything_under
from evonas.engine.cluster import check_ray_address
from evonas.errors import ClusterError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _head_env(temp: str, **extra: str) -> dict[str, str]:
    """The environment of a test head and its drivers: token mode with the head's own token (never the user's),
    on the loopback (``ray start`` and ``ray.init`` otherwise replace 127.0.0.1 by this machine's address)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS", "RAY_AUTH_TOKEN")}
    return {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(Path(temp) / "token"),
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", **extra}


@pytest.fixture
def ray_head():
    """``ray start --head`` on 127.0.0.1 in token mode, with its own temp dir and token; only its processes are
    stopped after. Yields its address and the environment its drivers attach with."""
    ray_bin = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="evr", dir="/tmp")
    (Path(temp) / "token").write_text("c" * 32)
    proc = subprocess.run([ray_bin, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                           "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
                          capture_output=True, text=True, timeout=180, env=_head_env(temp, RAY_TMPDIR=temp))
    try:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "Local node IP: 127.0.0.1" in proc.stdout + proc.stderr
        yield f"127.0.0.1:{port}", _head_env(temp)
    finally:
        stop_everything_under(temp)  # exactly this head: every process started under its temp dir
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_search_attaches_to_a_running_head_and_leaves_it_running(ray_head, tmp_path):
    address, env = ray_head
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "evonas", "--config", str(REPO / "configs" / "smoke.yaml"),
                           "--set", f"ray.address={address}", "--set", "search.n_gen=2", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "pareto.csv").is_file()
    assert "2 ray worker(s)" in (out / "run.log").read_text()
    # evonas never shuts down a cluster it did not start: the head still answers
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5):
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
    t0 = time.perf_counter()
    with pytest.raises(ClusterError, match="nothing answers at 127.0.0.1:9"):
        check_ray_address("127.0.0.1:9", timeout_s=2.0)
    assert time.perf_counter() - t0 < 5


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _Silent(socketserver.BaseRequestHandler):
    def handle(self) -> None:  # reads, never answers, until the client goes
        while self.request.recv(1024):
            pass


class _HangsUp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        pass


@pytest.fixture
def listener(request) -> Iterator[str]:
    """A server on the loopback that is no Ray head: a plain HTTP server (the default), or one that
    never answers, or one that hangs up at once. Yields its ``host:port``."""
    handler = {"http": _Quiet, "silent": _Silent, "hangs_up": _HangsUp}[getattr(request, "param", "http")]
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _within(seconds: float, fn: Callable[[], object]) -> object:
    """``fn()``, failing the test (not hanging it) when it has not returned after ``seconds``."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # handed to the test
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.mark.parametrize("listener,said", [("http", "it replied "), ("silent", "it sent nothing within 1.5 s"),
                                           ("hangs_up", "it closed the connection")], indirect=["listener"])
def test_an_address_where_no_ray_head_answers_fails_within_the_timeout(listener, said):
    t0 = time.monotonic()
    with pytest.raises(ClusterError) as err:
        _within(10, lambda: check_ray_address(listener, timeout_s=1.5))
    assert time.monotonic() - t0 < 1.5 + 0.5
    assert str(err.value).startswith(f"ray.address: {listener} answers but is not a Ray head ({said}")
    assert "the head's GCS port, 6379 by default" in str(err.value)


@pytest.mark.parametrize("listener", ["silent"], indirect=True)
def test_ray_init_itself_is_given_up_after_the_connect_timeout(listener, tmp_path):
    """A head that accepts the connection and then says nothing, met by ``ray.init`` itself (past the check)."""
    code = ("from evonas.engine.cluster import _init_within\n"
            f"_init_within(2.0, {listener!r}, 'ray.address', logging_level='ERROR')")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    t0 = time.monotonic()  # on the loopback: Ray would dial 127.0.0.1 at this machine's address otherwise
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})
    assert time.monotonic() - t0 < 2 + 15  # the margin: this interpreter's start-up (ray) on a busy machine
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"evonas.errors.ClusterError: ray.address: ray.init did not connect to the Ray head at {listener} within 2 s "
        f"(ray.connect_timeout_s; it includes uploading ray.runtime_env's working_dir and py_modules): check that "
        f"the head is up and this machine reaches every node of the cluster")


def test_a_ray_client_address_is_only_checked_for_a_connection(listener):
    check_ray_address(f"ray://{listener}", timeout_s=1.5)  # Ray Client gives up by itself; proxies and TLS pass


def test_the_gcs_of_a_real_ray_passes_the_check(ray_local):
    gcs = ray_local.get_runtime_context().gcs_address
    t0 = time.monotonic()
    assert check_ray_address(gcs, timeout_s=5) in (True, False)  # a local Ray is in token mode when a token exists
    assert time.monotonic() - t0 < 1


def test_the_search_exits_2_within_the_timeout_where_no_ray_head_answers(listener, tmp_path):
    timeout_s = 2
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "evonas", "--config", str(REPO / "configs" / "smoke.yaml"),
                           "--set", f"ray.address={listener}", "--set", f"ray.connect_timeout_s={timeout_s}",
                           "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(
        f"evonas: error: ray.address: {listener} answers but is not a Ray head")
    assert time.monotonic() - t0 < timeout_s + 15  # the margin: this interpreter's start-up (torch) on a busy machine


def test_score_and_the_training_stage_check_the_address_the_same_way(listener, tmp_path, capsys):
    from evonas.cli import main
    from evonas.config.load import config_from_mapping
    from evonas.strict import to_mapping
    from evonas.run.rundir import RunDir
    from evonas.train.stage import train_front
    from fixtures_run import make_run

    assert _within(30, lambda: main(["score", "--scores", "flops", "--n", "2", "--address", listener,
                                     "--connect-timeout", "1", "--out", str(tmp_path / "s.csv")])) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"evonas: error: --address: {listener} answers but is not a Ray head") and "6379" in err
    run = RunDir.open(make_run(tmp_path))
    data = to_mapping(run.config())
    data["ray"].update(address=listener, connect_timeout_s=1)
    with pytest.raises(ClusterError, match=f"ray.address: {listener} answers but is not a Ray head"):
        _within(30, lambda: train_front(config_from_mapping(data), run, ids=[1]))


@pytest.mark.slow
def test_a_real_head_passes_the_check_which_sees_that_it_asks_for_a_token(ray_head):
    t0 = time.monotonic()
    assert check_ray_address(ray_head[0], timeout_s=5) is True
    assert time.monotonic() - t0 < 1
