"""Ray start-up, the package's one ``ray.init``: check that a Ray head answers and whether it asks for a
token, then connect within the time limit, sending the run's runtime environment and plugins to the workers.

Token authentication follows Ray's own rule (Ray 2.60, ``ray.init``): a local Ray that ``ray.init``
starts or finds by itself (no address, or "auto") uses token mode when a token exists
(``~/.ray/auth_token``, ``RAY_AUTH_TOKEN_PATH``, ``RAY_AUTH_TOKEN``) and ``RAY_AUTH_MODE`` is unset;
a driver given an address sends its token only with ``RAY_AUTH_MODE=token``. A head that wants a token the
driver will not send, or a driver in token mode whose cluster has none (the cluster's processes then call
it without a token, and Ray cancels every actor), is one line before ``ray.init``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import threading
import time
from typing import Any, Iterator, Mapping

from evonas.config.schema import RuntimeEnvConfig
from evonas.errors import ClusterError, ConfigError, Stopped, renew_stop_on_sigterm

__all__ = ["check_ray_address", "start_ray", "job_runtime_env"]


#: what an HTTP/2 client sends first: the connection preface and an empty SETTINGS frame (RFC 9113, 3.4)
_H2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_DATA, _HEADERS, _RST_STREAM, _SETTINGS, _GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x7  # frame types
_END_STREAM, _ACK = 0x1, 0x1
#: a call every Ray GCS answers, and which a head in token mode refuses without a token (UNAUTHENTICATED)
_PROBE_CALL = "/ray.rpc.NodeInfoGcsService/GetClusterId"
_UNAUTHENTICATED = 16  # the gRPC status


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
        _read(sock, int.from_bytes(head[:3], "big"), deadline)  # the settings themselves
        return None
    if not head:
        return "it closed the connection" if closed else f"it sent nothing within {timeout_s:g} s"
    if not closed:  # the rest of its first line, for the message
        head += _read(sock, 120, min(deadline, time.monotonic() + 0.2))[0]
    line = head.split(b"\n", 1)[0].strip().decode("ascii", "replace")
    return f"it replied {line[:80]!r}" if line.isprintable() else f"it replied {head[:16]!r}..."


def _frame(kind: int, flags: int, payload: bytes = b"", stream: int = 1) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def _literal(name: str, value: str) -> bytes:
    """An HPACK header field, literal, without indexing (RFC 7541, 6.2.2); names and values under 127 bytes."""
    return b"\x00" + bytes([len(name)]) + name.encode() + bytes([len(value)]) + value.encode()


def _asks_token(sock: socket.socket, authority: str, deadline: float) -> bool | None:
    """Whether the GCS behind ``sock`` (past the HTTP/2 hello) refuses a call that carries no token:
    True, False, or None when it gave no clear answer before ``deadline``."""
    headers = b"\x83\x86" + b"".join(_literal(k, v) for k, v in (  # :method POST, :scheme http
        (":path", _PROBE_CALL), (":authority", authority), ("content-type", "application/grpc"), ("te", "trailers")))
    try:  # settings acknowledged, then the call: its headers and an empty message
        sock.sendall(_frame(_SETTINGS, _ACK, stream=0) + _frame(_HEADERS, 0x4, headers)
                     + _frame(_DATA, _END_STREAM, bytes(5)))
    except OSError:
        return None
    while True:
        head, _ = _read(sock, 9, deadline)
        if len(head) < 9:
            return None
        body, _ = _read(sock, int.from_bytes(head[:3], "big"), deadline)
        kind, flags, stream = head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        if kind == _GOAWAY or kind == _RST_STREAM and stream == 1:
            return None
        if stream != 1:
            continue
        if kind == _DATA:  # the reply itself: the call went through
            return False
        if kind == _HEADERS and flags & _END_STREAM:  # a reply of trailers only: the call was refused; why?
            status = re.search(rb"grpc-status.(\d+)", body, re.DOTALL)
            return True if status is not None and int(status.group(1)) == _UNAUTHENTICATED else None


def check_ray_address(address: str, timeout_s: float, *, name: str = "ray.address") -> bool | None:
    """Fail within ``timeout_s`` with a ``ClusterError`` unless a Ray head answers at ``address``; whether it
    asks for a token (None: not known).

    At ``host:port`` the head's GCS must answer: a gRPC server, which answers an HTTP/2 client's
    preface with a SETTINGS frame. Anything else that accepts the connection (a web server, the
    dashboard's 8265) would leave ``ray.init`` retrying without end. The GCS is then asked for the
    cluster's id without a token: a head in token mode refuses. ``ray://host:port`` (Ray Client, which
    may sit behind a proxy or TLS, and gives up by itself after a few retries) is only checked for a
    connection, as with ``RAY_USE_TLS`` on (the probe speaks plain HTTP/2); "auto" is resolved by Ray
    itself. ``name`` is how the user gave the address.
    """
    if address in ("auto", "local"):
        return None
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
            return None
        wrong = _not_grpc(sock, deadline, timeout_s)
        if wrong is None:
            return _asks_token(sock, hostport, deadline)
    raise ClusterError(f"{name}: {hostport} answers but is not a Ray head ({wrong}); give the head's GCS port, "
                       f"6379 by default (`ray start --head --port`), not e.g. the dashboard's 8265")


def _check_token_mode(address: str, asks_token: bool | None, name: str) -> None:
    """One line where the head and this driver disagree on token authentication (Ray's rule: a driver
    given an address sends a token only with ``RAY_AUTH_MODE=token``)."""
    token_mode = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
    if asks_token and not token_mode:
        raise ClusterError(f"{name}: the Ray head at {address} requires token authentication, and Ray sends a "
                           f"token to an address given to it only with RAY_AUTH_MODE=token: set RAY_AUTH_MODE=token, "
                           f"with the cluster's token in ~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN")
    if asks_token is False and token_mode:
        raise ClusterError(f"{name}: the Ray head at {address} runs without token authentication, but "
                           f"RAY_AUTH_MODE=token is set here: the cluster would call this driver without a token and "
                           f"Ray would cancel every actor; unset RAY_AUTH_MODE, or start the cluster in token mode")


def job_runtime_env(runtime_env: RuntimeEnvConfig | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The runtime environment of the job this process starts on Ray: ``runtime_env`` (a config's
    ``ray.runtime_env``, or a mapping as ``ray.init`` takes it) with the local files and folders of the
    plugins this process imported (``evonas.config.load.PLUGINS``) added to its ``py_modules``, so that
    every worker can import them. None when there is nothing to set up."""
    from evonas.config.load import PLUGINS

    given = runtime_env.as_ray() if isinstance(runtime_env, RuntimeEnvConfig) else dict(runtime_env or {})
    env = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in given.items()}
    ship = [path for path in PLUGINS.values() if path is not None and path not in env.get("py_modules", [])]
    if ship:
        env["py_modules"] = [*env.get("py_modules", []), *ship]
    return env or None


class _NoThreadWarning(logging.Filter):
    """Drops Ray's warning that a ``ray.init`` outside the main thread sets no SIGTERM handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


def _why(err: BaseException, address: str, name: str) -> str:
    """A failed ``ray.init`` at ``address`` in one line: the root cause, token errors named as such."""
    chain, seen = [], err
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    lines = [ln.strip() for ln in str(chain[-1]).splitlines() if ln.strip()]
    cause = f"{type(chain[-1]).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    if any(type(e).__name__ == "AuthenticationError" for e in chain):
        return (f"{name}: the Ray head at {address} refused this driver's token ({cause}); give this driver the "
                f"cluster's token in ~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN")
    return f"{name}: could not connect to the Ray head at {address}: {cause}"


def _dialled(address: str) -> str:
    """Where Ray connects for ``address`` when that is not the address itself: Ray replaces a loopback host
    by this machine's address (``ray.util.get_node_ip_address``), which a head on the loopback never hears."""
    host = address.split("://", 1)[-1].rpartition(":")[0].strip("[]")
    if host not in ("localhost", "::1") and not host.startswith("127."):
        return ""
    import ray.util

    ip = ray.util.get_node_ip_address()
    return "" if ip == host else f"; Ray dials {host} at this machine's address, {ip}"


def _init_within(timeout_s: float, address: str, name: str, **kwargs: Any) -> None:
    """``ray.init(address=address, **kwargs)``, given up with a ``ClusterError`` after ``timeout_s``: it runs
    in a thread of its own, so that no head, whatever it does, keeps the caller waiting longer."""
    import ray

    box: dict[str, BaseException] = {}

    def connect() -> None:
        try:
            ray.init(address=address, **kwargs)
        except BaseException as err:  # handed to the caller
            box["error"] = err

    quiet, worker_log = _NoThreadWarning(), logging.getLogger("ray._private.worker")
    worker_log.addFilter(quiet)
    try:
        thread = threading.Thread(target=connect, name="evonas-ray-init", daemon=True)
        thread.start()
        thread.join(timeout_s)
    finally:
        worker_log.removeFilter(quiet)
    if thread.is_alive():
        raise ClusterError(f"{name}: ray.init did not connect to the Ray head at {address} within {timeout_s:g} s "
                           f"(ray.connect_timeout_s; it includes uploading ray.runtime_env's working_dir and "
                           f"py_modules): check that the head is up and this machine reaches every node of the "
                           f"cluster{_dialled(address)}")
    if "error" in box:
        raise ClusterError(_why(box["error"], address, name)) from None


def start_ray(address: str | None = None, connect_timeout_s: float = 10.0, *,
              runtime_env: RuntimeEnvConfig | Mapping[str, Any] | None = None, name: str = "ray.address") -> bool:
    """Connect this process to Ray: check the head at ``address`` and its token mode, then init.

    ``None`` starts a local Ray unless one is running. An address is attached to within
    ``connect_timeout_s``, for the check and for ``ray.init`` each. The job's runtime environment is
    ``job_runtime_env(runtime_env)``; a Ray that is running already keeps its own. Returns True when
    this call started (or attached) Ray, so that the caller shuts it down when done. Shared by the
    scoring pool and the training stage.
    """
    asks_token = None if address is None else check_ray_address(address, connect_timeout_s, name=name)
    import ray

    if ray.is_initialized():
        return False
    kwargs = dict(include_dashboard=False, logging_level="ERROR", log_to_driver=True, configure_logging=True,
                  runtime_env=job_runtime_env(runtime_env))
    if address is not None:
        _check_token_mode(address, asks_token, name)
    with _sigterm_stops():
        if address is None:
            ray.init(**kwargs)
        else:
            _init_within(connect_timeout_s, address, name, **kwargs)
    return True


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """Around ``ray.init``: SIGTERM still stops a command as Ctrl-C does (``evonas.errors.stop_on_sigterm``).
    ``ray.init`` in the main thread puts Ray's handler in place (``sys.exit(15)``); a SIGTERM while it runs
    becomes ``Stopped``, and the command's handler is back when it returns."""
    try:
        yield
    except SystemExit as exit:
        if exit.code != signal.SIGTERM or not renew_stop_on_sigterm():
            raise
        raise Stopped(signal.SIGTERM) from None
    finally:
        renew_stop_on_sigterm()
