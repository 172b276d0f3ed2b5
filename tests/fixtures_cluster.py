"""Helpers of the tests that run Ray clusters of their own: stop exactly one cluster's processes."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

__all__ = ["stop_everything_under"]


def _pids_mentioning(text: str) -> list[int]:
    """Every process (but this one) whose command line holds ``text``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def stop_everything_under(temp: str) -> None:
    """Kill what is left of a cluster: every process whose command line names its temp dir."""
    for _ in range(3):
        pids = _pids_mentioning(temp)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
