"""Inference latency of a network on a device: warm-up, timed repeats, median and spread.

The network runs in eval mode under ``torch.inference_mode()`` on a random input of shape
``(batch_size, 3, resolution, resolution)``. On CUDA each repeat is timed with a pair of
CUDA events recorded on the current stream of the network's own GPU (any ``cuda:k``), after
synchronising that GPU; on the CPU with ``time.perf_counter``. Optional switches, all off by
default: ``channels_last`` memory format, ``torch.compile`` and AMP. AMP means float16
autocast and applies on CUDA only: on the CPU it is ignored, and ``LatencyStats.amp``
records whether it was in effect.

``torch.compile`` caches compiled code per Python function, not per network: every NB201
cell is a new graph for the same ``forward``, and after ``recompile_limit`` (8) cells dynamo
would silently run the rest in eager mode. ``compile_network`` therefore clears dynamo's
caches before compiling each network once (static shapes), and ``measure_latency`` checks
that a graph was really compiled for it.

A measurement is only meaningful with the device to itself: run it where no other process
is using the same GPU (or CPU cores) while it times.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from evonas.nn.devices import device_name
from evonas.nn.network import evaluating

__all__ = ["LatencyStats", "measure_latency", "cpu_threads", "compile_network", "CompileFallback", "make_timer"]


@dataclass(frozen=True)
class LatencyStats:
    """Summary of ``n`` timed forward passes, in milliseconds per batch."""

    median_ms: float
    iqr_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    n: int
    batch_size: int
    device: str
    channels_last: bool = False
    amp: bool = False
    compile: bool = False
    samples_ms: tuple[float, ...] = field(default=(), repr=False)

    @classmethod
    def from_samples(cls, samples_ms: "list[float] | np.ndarray", *, batch_size: int, device: str,
                     **switches: bool) -> "LatencyStats":
        """Median, interquartile range and the 10th/90th percentiles of the samples."""
        t = np.asarray(samples_ms, dtype=float)
        if t.size == 0:
            raise ValueError("no latency samples")
        p10, q1, med, q3, p90 = np.percentile(t, [10, 25, 50, 75, 90])
        return cls(float(med), float(q3 - q1), float(p10), float(p90), float(t.min()), float(t.max()),
                   int(t.size), batch_size, device, samples_ms=tuple(float(v) for v in t), **switches)


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` intra-op CPU threads inside the block (``None``: leave as is), then restore."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class CompileFallback(RuntimeError):
    """``torch.compile`` compiled no graph for the network: a timing would be of eager mode."""


def _compiled_graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def compile_network(model: nn.Module, backend: str = "inductor") -> Callable[[torch.Tensor], torch.Tensor]:
    """``torch.compile(model)`` with static shapes after clearing dynamo's caches.

    The caches hold the graphs of earlier networks under the same ``forward`` code; cleared,
    this network compiles once and is never counted against the recompile limit.
    """
    import torch._dynamo

    torch._dynamo.reset()
    return torch.compile(model, backend=backend, dynamic=False)


def make_timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    """A function running ``step()`` once and returning its duration in ms on ``device``.

    CUDA: events recorded on the current stream of ``device`` (not of the default GPU), with
    ``step`` run while ``device`` is the current device; the GPU is synchronised before the
    start event so queued work from before is not counted.
    """
    if device.type == "cuda":
        with torch.cuda.device(device):
            stream = torch.cuda.current_stream(device)

        def timed(step: Callable[[], object]) -> float:
            with torch.cuda.device(device):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda.synchronize(device)
                start.record(stream)
                step()
                end.record(stream)
                end.synchronize()
                return float(start.elapsed_time(end))
    else:
        def timed(step: Callable[[], object]) -> float:
            t0 = time.perf_counter()
            step()
            return (time.perf_counter() - t0) * 1e3
    return timed


def measure_latency(model: nn.Module, *, resolution: int, batch_size: int = 1, warmup: int = 10,
                    repeats: int = 50, device: torch.device | str, channels_last: bool = False,
                    amp: bool = False, compile: bool = False, compile_backend: str = "inductor") -> LatencyStats:
    """Time ``repeats`` forward passes after ``warmup`` untimed ones; the model is moved to ``device``.

    The model's train/eval mode is restored afterwards. ``compile`` compiles the model with
    ``compile_network`` (``compile_backend``: a ``torch.compile`` backend); compilation happens
    during warm-up, so ``warmup >= 1`` is required, and ``CompileFallback`` is raised when no
    graph was compiled.
    """
    if batch_size < 1 or repeats < 1 or warmup < 0 or resolution < 1:
        raise ValueError(f"need batch_size >= 1, repeats >= 1, warmup >= 0, resolution >= 1; got "
                         f"batch_size={batch_size}, repeats={repeats}, warmup={warmup}, resolution={resolution}")
    if compile and warmup < 1:
        raise ValueError("compile needs warmup >= 1: the first call compiles and must not be timed")
    device = torch.device(device)
    use_amp = amp and device.type == "cuda"
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    with evaluating(model.to(device=device, memory_format=fmt)):
        x = torch.randn(batch_size, 3, resolution, resolution, device=device).contiguous(memory_format=fmt)
        graphs = _compiled_graphs() if compile else 0
        forward: Callable[[torch.Tensor], torch.Tensor] = compile_network(model, compile_backend) if compile else model
        autocast = (torch.autocast("cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext())
        timed = make_timer(device)
        with torch.inference_mode(), autocast:
            for _ in range(warmup):
                forward(x)
            if compile and _compiled_graphs() == graphs:
                raise CompileFallback(f"torch.compile (backend {compile_backend!r}) compiled no graph for "
                                      f"this network; its timing would be of eager mode")
            samples = [timed(lambda: forward(x)) for _ in range(repeats)]
    return LatencyStats.from_samples(samples, batch_size=batch_size, device=device_name(device),
                                     channels_last=channels_last, amp=use_amp, compile=compile)
