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
from evonas.search.dominance import non_dominated
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
    """One line per generation (per ``search.n_offsprings`` results in the asynchronous search): evaluations,
    values from the cache, failed cells, front size, rate, the workers' utilisation, ETA; state.json updated."""

    def __init__(self, config: Config, run: RunDir, evaluator: Evaluator, pool: Any = None) -> None:
        super().__init__()
        self.config, self.run, self.evaluator, self.pool = config, run, evaluator, pool
        self.t0 = time.perf_counter()

    def notify(self, algorithm: Any) -> None:
        gen, n_gen = algorithm.n_gen, self.config.search.n_gen
        self.evaluator.generation = gen  # offspring scored from now on belong to the next generation
        self.report(f"gen {gen:3d}/{n_gen} | evals {algorithm.evaluator.n_eval:5d}", gen / n_gen, generation=gen)

    def report(self, head: str, done: float, **state: Any) -> None:
        """Log ``head`` and the run's figures (``done``: the share of the search behind it, for the ETA)."""
        ok = [ev for ev in self.evaluator.memo.values() if ev.ok]
        n_obj = len(self.config.objectives)  # also the shape when every cell so far failed
        F = np.array([to_minimised(ev.values, self.config.objectives) for ev in ok]).reshape(len(ok), n_obj)
        front = len(non_dominated(F))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / done * (1 - done) if done > 0 else float("nan")
        best = {o.score: min((ev.values[o.score] for ev in ok), key=lambda v, s=o.sign: s * v)
                for o in self.config.objectives} if ok else {}
        best_txt = " ".join(f"{k}={v:.4g}" for k, v in best.items())
        ev = self.evaluator
        busy = self.utilisation()
        busy_txt = f" | workers {self.pool.num_workers} busy {busy:.0%}" if busy is not None else ""
        log.info(f"{head} | scored {ev.n_scored:5d} ({ev.n_cache_values} values from cache, {ev.n_reused} reused)"
                 f" | failed {ev.n_failed} | front {front:3d} | {ev.rate():5.2f} archs/s{busy_txt} | best {best_txt}"
                 f" | ETA {fmt_duration(eta)}")
        extra = {"utilisation": round(busy, 3)} if busy is not None else {}
        self.run.write_state(n_evaluated=len(self.evaluator.memo), **extra, **state)

    def utilisation(self) -> float | None:
        """The share of the pool's workers' time spent scoring so far (None: no pool that says)."""
        return self.pool.utilisation() if self.pool is not None else None


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
