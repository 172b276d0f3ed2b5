"""Shared fixtures: a real local Ray (2 CPUs) for the whole session, and paths."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
SHARED_DATA = REPO.parent / "shared" / "data"

torch.set_num_threads(1)
#: every Ray a test starts, in this process or a child, stays on the loopback: Ray otherwise moves a node
#: from 127.0.0.1 to this machine's interface address (``ray._private.services.resolve_ip_for_localhost``)
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


@pytest.fixture(scope="session")
def ray_local():
    """A real local Ray with 2 CPUs, started once and shut down at the end.

    Its workers register the test-only scores of ``fixture_scores`` at start-up.
    """
    ray = pytest.importorskip("ray")
    started = False
    if not ray.is_initialized():
        path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", _node_ip_address="127.0.0.1",
                 runtime_env={"env_vars": {"PYTHONPATH": path}, "worker_process_setup_hook": "fixture_scores.register"})
        started = True
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}, "Ray left the loopback"
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(autouse=True)
def _evonas_logger():
    """Each test starts with the "evonas" logger as it found it (a search sets its handlers and propagation)."""
    log = logging.getLogger("evonas")
    handlers, propagate, level = list(log.handlers), log.propagate, log.level
    yield
    for handler in [h for h in log.handlers if h not in handlers]:
        log.removeHandler(handler)
        handler.close()
    log.propagate, log.level = propagate, level


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env
