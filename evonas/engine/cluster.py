"""Ray start-up: check that a Ray head answers, send the cluster token, connect (the package's one ``ray.init``)."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from evonas.errors import ClusterError, ConfigError

__all__ = ["check_ray_address", "start_ray"]


#: what an HTTP/2 client sends first: the connection preface and an empty SETTINGS frame (RFC 9113, 3.4)
_H2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS = 0x4  # the frame type a gRPC server's first frame has


def _read(sock: socket.socket, n: int, deadline: float) -> tuple[bytes, bool]:
    """Up to ``n`` bytes from the peer before ``deadline``, and whether it closed the connection."""
    got = b""
    while len(got) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return got, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(got))
        except TimeoutError:
            return got, False
        except OSError:  # reset
            return got, True
        if not chunk:
            return got, True
        got += chunk
    return got, False


def _not_grpc(sock: socket.socket, deadline: float, timeout_s: float) -> str | None:
    """None when the peer answers an HTTP/2 client's hello with a SETTINGS frame, as a gRPC server
    does; else what it did instead."""
    try:
        sock.sendall(_H2_HELLO)
    except OSError:
        return "it closed the connection"
    head, closed = _read(sock, 9, deadline)
    if len(head) == 9 and head[3] == _SETTINGS and head[5:9] == bytes(4):
        return None
    if not head:
        return "it closed the connection" if closed else f"it sent nothing within {timeout_s:g} s"
    if not closed:  # the rest of its first line, for the message
        head += _read(sock, 120, min(deadline, time.monotonic() + 0.2))[0]
    line = head.split(b"\n", 1)[0].strip().decode("ascii", "replace")
    return f"it replied {line[:80]!r}" if line.isprintable() else f"it replied {head[:16]!r}..."


def check_ray_address(address: str, timeout_s: float, *, name: str = "ray.address") -> None:
    """Fail within ``timeout_s`` with a ``ClusterError`` unless a Ray head answers at ``address``.

    At ``host:port`` the head's GCS must answer: a gRPC server, which answers an HTTP/2 client's
    preface with a SETTINGS frame. Anything else that accepts the connection (a web server, the
    dashboard's 8265) would leave ``ray.init`` retrying without end. ``ray://host:port`` (Ray
    Client, which may sit behind a proxy or TLS, and gives up by itself after a few retries) is only
    checked for a connection, as with ``RAY_USE_TLS`` on (the probe speaks plain HTTP/2); "auto" is
    resolved by Ray itself. ``name`` is how the user gave the address.
    """
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"{name}: {address!r} is not 'auto', 'host:port' or 'ray://host:port'")
    deadline = time.monotonic() + timeout_s
    try:
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s)
    except OSError as err:
        raise ClusterError(f"{name}: nothing answers at {hostport} within {timeout_s:g} s ({err}); "
                           f"start the head with `ray start --head --port {port}` or fix the address") from None
    with sock:
        if address.startswith("ray://") or os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
            return
        wrong = _not_grpc(sock, deadline, timeout_s)
    if wrong is None:
        return
    raise ClusterError(f"{name}: {hostport} answers but is not a Ray head ({wrong}); give the head's GCS port, "
                       f"6379 by default (`ray start --head --port`), not e.g. the dashboard's 8265")


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
    """Connect this process to Ray: check that a Ray head answers at ``address``, send the cluster token, init.

    ``None`` starts a local Ray unless one is running. Returns True when this call started
    (or attached) Ray, so that the caller shuts it down when done. Shared by the scoring pool
    and the training stage.
    """
    if address is not None:
        check_ray_address(address, connect_timeout_s)
        _use_cluster_token()
    import ray

    if ray.is_initialized():
        return False
    ray.init(address=address, include_dashboard=False, logging_level="ERROR",
             log_to_driver=True, configure_logging=True)
    return True
