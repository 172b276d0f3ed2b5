"""The scoring worker: imports the plugins, resolves its device, takes the scoring images once (shipped by
the driver through Ray's object store, or read here), scores one cell at a time, and says where it runs."""
from __future__ import annotations

import platform
import socket
import sys
import time
import traceback
from typing import Any

import numpy as np
import torch

import evonas
from evonas.config.load import import_in_worker
from evonas.engine.records import Evaluation, ScorerSpec
from evonas.errors import EvonasError
from evonas.nn.devices import configure_scoring, device_name, resolve_device
from evonas.nn.images import ImageSet, load_images
from evonas.scores import ScoreContext, get_score, invalid_value, split_exclusive
from evonas.space.cell import Cell

__all__ = ["Scorer", "versions", "where"]


def versions() -> dict[str, str]:
    """The versions of evonas, torch and Python in this process."""
    return {"evonas": evonas.__version__, "torch": torch.__version__, "python": platform.python_version()}


def where() -> dict[str, Any]:
    """This process's host name and, in a Ray worker or driver, its Ray node (``node_id``, ``ip``; else "")
    and the ids of the GPUs Ray gave it (``gpus``)."""
    info: dict[str, Any] = {"host": socket.gethostname(), "node_id": "", "ip": "", "gpus": []}
    ray = sys.modules.get("ray")  # never imported here for an in-process scorer
    if ray is not None and ray.is_initialized():
        context = ray.get_runtime_context()
        info.update(node_id=context.get_node_id(), ip=ray.util.get_node_ip_address(),
                    gpus=[str(g) for g in context.get_accelerator_ids().get("GPU", [])])
    return info


def _received(spec: ScorerSpec) -> ImageSet:
    """The images the driver shipped (``spec.shipped``), as this process's own tensors."""
    import ray

    images, labels, source = ray.get(spec.shipped)  # read-only views of the object store: copied
    return ImageSet(torch.from_numpy(np.array(images)), torch.from_numpy(np.array(labels)),
                    spec.dataset if spec.dataset.custom else spec.dataset.name, f"{source}, shipped by the driver")


class Scorer:
    """Scores cells in this process: the device and images are set up once."""

    def __init__(self, spec: ScorerSpec) -> None:
        torch.set_num_threads(1)  # one thread per worker: workers share the machine's cores
        for entry in spec.plugins:
            try:
                import_in_worker(entry)
            except Exception as err:
                raise EvonasError(f"plugin {entry!r} cannot be imported on {socket.gethostname()}: "
                                  f"{type(err).__name__}: {err}") from None
        self.spec = spec
        self.settings = spec.settings  # made and checked with the spec: one object per score
        self.device = resolve_device(spec.device)
        configure_scoring(self.device)  # TF32 off, deterministic cuDNN: a GPU score matches its CPU value
        self.device_name = device_name(self.device)
        self.dataset = spec.dataset
        n = spec.n_images or spec.images_needed()
        if n == 0:
            self.data = None
        elif spec.shipped is not None:
            self.data = _received(spec).to(self.device)
        else:
            self.data = load_images(spec.dataset, root=spec.data_root, split="train", n=n, seed=spec.seed).to(self.device)

    def score(self, arch: str, only: tuple[str, ...] | None = None) -> Evaluation:
        """The configured scores (or ``only`` these) of one cell, device-timing ones (latency) last.

        An exception, or a value that is not finite or outside the score's valid range
        (``invalid_value``: the registry's ``valid_range``), fails the evaluation with the reason.
        """
        cell = Cell.from_string(arch)
        start = time.perf_counter()
        ev = Evaluation(arch, cell.index, device=self.device_name)
        ctx = ScoreContext(cell, self.device, self.dataset, self.data, self.spec.seed, self.spec.C, self.spec.N)
        shared, timed = split_exclusive(tuple(n for n in self.settings if only is None or n in only))
        for name in (*shared, *timed):  # scores that time the device after the cell's others
            settings = self.settings[name]
            t0, began = time.perf_counter(), time.time()
            try:
                torch.manual_seed(self.spec.seed)
                value = get_score(name)(ctx, settings)
            except Exception as err:  # a score's failure marks this cell failed, the run goes on
                ev.status = "failed"
                ev.error = f"{name}: {type(err).__name__}: {err}"
                ev.error += "\n" + traceback.format_exc(limit=3) if not isinstance(err, EvonasError) else ""
                break
            reason = invalid_value(name, value)
            if reason is not None:  # a NaN, an infinity or a degenerate value never becomes an objective
                ev.status, ev.error = "failed", reason
                break
            ev.values[name] = value
            ev.times[name] = time.perf_counter() - t0
            ev.spans[name] = (began, time.time())
        ev.wall_time = time.perf_counter() - start
        return ev

    def ping(self) -> str:
        """The worker's device name, once it is ready."""
        return self.device_name

    def about(self) -> dict[str, Any]:
        """Where this worker runs and what it runs: its ``device`` name, ``host``, Ray ``node_id`` and ``ip``
        (``where``), and the ``evonas``, ``torch`` and ``python`` versions (``versions``)."""
        return {"device": self.device_name, **where(), **versions()}
