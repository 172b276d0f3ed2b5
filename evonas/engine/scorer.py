"""The scoring worker: resolves its device, loads the scoring images once, scores one cell at a time."""
from __future__ import annotations

import time
import traceback

import torch

from evonas.engine.records import Evaluation, ScorerSpec
from evonas.errors import EvonasError
from evonas.nn.devices import configure_scoring, device_name, resolve_device
from evonas.nn.images import load_images
from evonas.scores import ScoreContext, get_score, invalid_value
from evonas.space.cell import Cell

__all__ = ["Scorer"]


class Scorer:
    """Scores cells in this process: the device and images are set up once."""

    def __init__(self, spec: ScorerSpec) -> None:
        torch.set_num_threads(1)  # one thread per worker: workers share the machine's cores
        self.spec = spec
        self.settings = spec.settings  # made and checked with the spec: one object per score
        self.device = resolve_device(spec.device)
        configure_scoring(self.device)  # TF32 off, deterministic cuDNN: a GPU score matches its CPU value
        self.device_name = device_name(self.device)
        self.dataset = spec.dataset
        n = spec.n_images or spec.images_needed()
        self.data = (load_images(spec.dataset, root=spec.data_root, split="train", n=n, seed=spec.seed)
                     .to(self.device) if n > 0 else None)

    def score(self, arch: str, only: tuple[str, ...] | None = None) -> Evaluation:
        """The configured scores (or ``only`` these) of one cell.

        An exception, or a value that is not finite or outside the score's valid range
        (``invalid_value``: the registry's ``valid_range``), fails the evaluation with the reason.
        """
        cell = Cell.from_string(arch)
        start = time.perf_counter()
        ev = Evaluation(arch, cell.index, device=self.device_name)
        ctx = ScoreContext(cell, self.device, self.dataset, self.data, self.spec.seed, self.spec.C, self.spec.N)
        for name, settings in self.settings.items():
            if only is not None and name not in only:
                continue
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
