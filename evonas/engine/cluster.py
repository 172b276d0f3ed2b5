"""Ray start-up: check the address answers, send the cluster token, connect (the package's one ``ray.init``)."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from evonas.errors import ConfigError, EvonasError

__all__ = ["start_ray"]


def _check_reachable(address: str, timeout_s: float) -> None:
    """Fail in seconds, with a clear message, when a ``host:port`` address does not answer."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"ray.address: {address!r} is not 'auto', 'host:port' or 'ray://host:port'")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as err:
        raise EvonasError(f"ray.address: nothing answers at {hostport} within {timeout_s:g} s ({err}); "
                          f"start the head with `ray start --head --port {port}` or fix the address") from None


def _use_cluster_token() -> None:
    """Ray >= 2.59 heads started with ``ray start`` require the token in ``~/.ray/auth_token`` when
    one exists, but a driver attaching with ``RAY_AUTH_MODE`` unset does not send it: send it."""
    has_token = any(os.environ.get(v) for v in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")) or \
        (Path.home() / ".ray" / "auth_token").is_file()
    if has_token and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        # Ray caches its config at import. Ray has no public call to refresh it: this is the private
        # one Ray itself makes when it turns token mode on for a local cluster (Ray 2.60), kept here alone.
        try:
            from ray._raylet import Config

            Config.initialize("")
        except (ImportError, AttributeError):
            pass


def start_ray(address: str | None = None, connect_timeout_s: float = 10.0) -> bool:
    """Connect this process to Ray: check that ``address`` answers, send the cluster token, init.

    ``None`` starts a local Ray unless one is running. Returns True when this call started
    (or attached) Ray, so that the caller shuts it down when done. Shared by the scoring pool
    and the training stage.
    """
    if address is not None:
        _check_reachable(address, connect_timeout_s)
        _use_cluster_token()
    import ray

    if ray.is_initialized():
        return False
    ray.init(address=address, include_dashboard=False, logging_level="ERROR",
             log_to_driver=True, configure_logging=True)
    return True
