"""Search progress: the run log's handlers and one log line (and state.json) per generation."""
from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from pymoo.core.callback import Callback

from evonas.config.schema import Config
from evonas.engine.evaluator import Evaluator
from evonas.run.rundir import LOG, RunDir
from evonas.search.fronts import non_dominated
from problems import to_minimised

__all__ = ["Progress", "setup_logging", "fmt_duration"]

log = logging.getLogger("evonas")


def fmt_duration(seconds: float) -> str:
    """``1h02m`` or ``3m04s``; ``?`` when unknown."""
    if not np.isfinite(seconds):
        return "?"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Progress(Callback):
    """One line per generation: evaluations, values from the cache, failed cells, front size, rate, ETA;
    state.json updated."""

    def __init__(self, config: Config, run: RunDir, evaluator: Evaluator) -> None:
        super().__init__()
        self.config, self.run, self.evaluator = config, run, evaluator
        self.t0 = time.perf_counter()

    def notify(self, algorithm: Any) -> None:
        gen, n_gen = algorithm.n_gen, self.config.search.n_gen
        self.evaluator.generation = gen  # offspring scored from now on belong to the next generation
        ok = [ev for ev in self.evaluator.memo.values() if ev.ok]
        n_obj = len(self.config.objectives)  # also the shape when every cell so far failed
        F = np.array([to_minimised(ev.values, self.config.objectives) for ev in ok]).reshape(len(ok), n_obj)
        front = len(non_dominated(F))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / gen * (n_gen - gen) if gen else float("nan")
        best = {o.score: min((ev.values[o.score] for ev in ok), key=lambda v, s=o.sign: s * v)
                for o in self.config.objectives} if ok else {}
        best_txt = " ".join(f"{k}={v:.4g}" for k, v in best.items())
        ev = self.evaluator
        log.info(f"gen {gen:3d}/{n_gen} | evals {algorithm.evaluator.n_eval:5d} | scored {ev.n_scored:5d}"
                 f" ({ev.n_cache_values} values from cache, {ev.n_reused} reused) | failed {ev.n_failed} |"
                 f" front {front:3d} | {ev.rate():5.2f} archs/s | best {best_txt} | ETA {fmt_duration(eta)}")
        self.run.write_state(generation=gen, n_evaluated=len(self.evaluator.memo))


def setup_logging(run: RunDir, quiet: bool = False) -> None:
    """Send the ``evonas`` log to the run's log file (and the console unless ``quiet``)."""
    log.setLevel(logging.INFO)
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    file_handler = logging.FileHandler(run.file(LOG))
    file_handler.setFormatter(fmt)
    log.addHandler(file_handler)
    if not quiet:
        stream = logging.StreamHandler()
        stream.setFormatter(fmt)
        log.addHandler(stream)
    log.propagate = False
