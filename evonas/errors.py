"""One exception family for evonas: every user-facing failure is an ``EvonasError``; a stop is ``Stopped``.

A run stops as Ctrl-C stops it on SIGTERM too (``stop_on_sigterm``: what batch schedulers and ``kill``
send): the signal raises ``Stopped``, a ``KeyboardInterrupt``, so every clean-up that runs on Ctrl-C runs.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

__all__ = ["EvonasError", "ConfigError", "ArchError", "DataError", "RunDirError", "ClusterError", "Stopped",
           "stop_on_sigterm", "renew_stop_on_sigterm", "stop_signal"]


class EvonasError(Exception):
    """Base class of every error evonas raises on purpose (bad input, missing files)."""


class ConfigError(EvonasError):
    """A configuration value is unknown, of the wrong type or out of range."""


class ArchError(EvonasError, ValueError):
    """An architecture string, index or encoding is malformed or out of range."""


class DataError(EvonasError, FileNotFoundError):
    """A data file or directory is missing or has the wrong format."""


class RunDirError(EvonasError):
    """A run directory is missing, incomplete or incompatible with the request."""


class ClusterError(EvonasError):
    """A Ray address does not answer, or what answers there is not a Ray head."""


class Stopped(KeyboardInterrupt):
    """The process was told to stop by signal ``signum`` (SIGTERM): handled wherever Ctrl-C is."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


#: whether SIGTERM stops this process now (within ``stop_on_sigterm``: the command line's; a library keeps its own),
#: and the signal that stopped it
_ACTIVE: dict[str, Any] = {"stop_on_sigterm": False, "signum": None}


def _raise_stopped(signum: int, frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM does not cut short the clean-up of the first
    _ACTIVE["signum"] = signum
    raise Stopped(signum)


def stop_signal(err: KeyboardInterrupt) -> signal.Signals:
    """The signal that raised ``err``: ``Stopped``'s, or the SIGTERM received within ``stop_on_sigterm`` (Ray's
    waits turn an exception a handler raised into a plain ``KeyboardInterrupt``), else SIGINT (Ctrl-C)."""
    return signal.Signals(getattr(err, "signum", None) or _ACTIVE["signum"] or signal.SIGINT)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within: SIGTERM raises ``Stopped`` in the main thread (Python runs handlers there only; elsewhere nothing
    changes). After: the handler found is back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    _ACTIVE.update(stop_on_sigterm=True, signum=None)
    try:
        yield
    finally:
        _ACTIVE.update(stop_on_sigterm=False, signum=None)
        signal.signal(signal.SIGTERM, previous)


def renew_stop_on_sigterm() -> bool:
    """Within ``stop_on_sigterm``: install its handler again, and say whether it did. ``ray.init`` in the main
    thread puts Ray's own in its place (``sys.exit(15)``, the driver's core worker aborting on the way out), so
    ``engine.cluster.start_ray`` renews it after each ``ray.init``."""
    if not _ACTIVE["stop_on_sigterm"] or threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGTERM, _raise_stopped)
    return True
