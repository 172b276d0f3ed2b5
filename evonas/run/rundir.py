"""The run directory: everything a search writes, and reading it back (resume, pick, plot).

    RUN_DIR/config.yaml      the resolved config
    RUN_DIR/candidates.csv   one row per scored cell, appended and flushed as results arrive
    RUN_DIR/pareto.csv       the final non-dominated set, ranked, with an ``id`` column
    RUN_DIR/pareto.png       the front over all scored candidates, and against the true NB201 front
    RUN_DIR/pareto.html      the same, interactive (offline): hover for details, click for the pick command
    RUN_DIR/shortlist.csv    the training stage's candidates (front rows, and with ``train.bands_over: scored``
                             cells off the front, whose ids continue after the front's)
    RUN_DIR/trained.csv      metrics of trained candidates (models/<id>.pt, checkpoints/); ``test_n`` test images
                             and the 95 % interval ``test_acc_low``/``test_acc_high``; ``trained_front`` marks
                             the front on (trained test accuracy beyond noise, cost): the run's answer, and
                             ``within_noise_of`` the ids each is indistinguishable from (``search.trained_front``)
    RUN_DIR/dataset.json     a user's data set (dataset: custom): classes, resolution, mean/std, fingerprint
    RUN_DIR/state.json       progress (generation, evaluations, finished or not)
    RUN_DIR/run.log          the log
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from evonas.config.load import config_from_mapping, dump_config
from evonas.config.schema import Config
from evonas.strict import to_mapping
from evonas.errors import ConfigError, RunDirError
from evonas.files import atomic_write_text
from evonas.engine.records import Evaluation
from evonas.run.csvfiles import csv_value, read_csv, write_csv
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec, spec_from_record, spec_record

__all__ = ["RunDir", "CandidateLog", "candidate_columns", "default_run_dir"]

CONFIG, CANDIDATES, PARETO, STATE, LOG, PLOT, PLOT_HTML, TRAINED, SHORTLIST, DATASET = (
    "config.yaml", "candidates.csv", "pareto.csv", "state.json", "run.log", "pareto.png", "pareto.html",
    "trained.csv", "shortlist.csv", "dataset.json")


def default_run_dir(config: Config, root: str | Path = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.name}-{stamp}"


_COMPATIBLE = ("search.n_gen", "ray.", "output.", "cache.", "name", "benchmark.", "train.")


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted paths at which two plain trees differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    return [] if a == b else [prefix or "config"]


def _drop_partial_last_line(path: Path) -> None:
    """A crash mid-write can leave a last line without its newline: cut it before appending."""
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def candidate_columns(scores: Sequence[str]) -> list[str]:
    return ["generation", "arch", "index", "canonical", "proposed", "dead_edges", "status", *scores,
            "wall_time_s", "device", "actor", "node", "started", "ended", "attempts", "error"]


class CandidateLog:
    """``candidates.csv``: every evaluation is appended and flushed the moment it arrives.

    ``arch``/``index`` name the cell the values belong to: the cheapest equivalent
    (``Cell.reduced``) of ``proposed``, the cell the search asked for first in that class.
    ``dead_edges`` lists dead edges the reported cell keeps (empty for almost every cell).
    ``actor``/``node`` name the worker(s) that scored it and their Ray node(s); ``started``/``ended`` (Unix
    time) are when the pool handed it out and when its result came back (empty: answered without the pool).
    """

    def __init__(self, path: Path, scores: Sequence[str]) -> None:
        self.path = path
        self.columns = candidate_columns(scores)
        self.scores = tuple(scores)
        fresh = not path.exists() or path.stat().st_size == 0
        if not fresh:
            _check_columns(path, self.columns)
            _drop_partial_last_line(path)
        self._file = open(path, "a", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
        if fresh:
            self._writer.writeheader()
            self._file.flush()

    def append(self, ev: Evaluation, generation: int, *, proposed: str | None = None) -> None:
        cell = Cell.from_string(ev.arch)
        row = {"generation": generation, "arch": ev.arch, "index": ev.index,
               "canonical": cell.canonical, "proposed": proposed or ev.arch,
               "dead_edges": cell.dead_edges_text, "status": ev.status,
               "wall_time_s": round(ev.wall_time, 4), "device": ev.device, "actor": ev.actor, "node": ev.node,
               "started": round(ev.started, 3) if ev.started else "", "ended": round(ev.ended, 3) if ev.ended else "",
               "attempts": ev.attempts,
               "error": ev.error.strip().splitlines()[0] if ev.error else ""}
        row.update({k: csv_value(v) for k, v in ev.values.items()})
        self._writer.writerow(row)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    @staticmethod
    def load(path: Path, scores: Sequence[str]) -> tuple[dict[str, Evaluation], dict[str, str]]:
        """Evaluations already on disk and the proposed arch of each, by canonical form (what a
        resumed run must not rescore). A last line cut short by a crash is ignored.
        """
        if not path.exists() or path.stat().st_size == 0:
            return {}, {}
        _check_columns(path, candidate_columns(scores))
        done: dict[str, Evaluation] = {}
        proposed: dict[str, str] = {}
        for row in read_csv(path):
            try:
                values = {s: float(row[s]) for s in scores} if row["status"] == "ok" else {}
                ev = Evaluation(row["arch"], int(row["index"]), values, status=row["status"],
                                error=row["error"] or "", wall_time=float(row["wall_time_s"]),
                                device=row["device"], attempts=int(row["attempts"]), actor=row["actor"] or "",
                                node=row["node"] or "", started=float(row["started"] or 0),
                                ended=float(row["ended"] or 0))
            except (KeyError, TypeError, ValueError):
                continue
            done[row["canonical"]] = ev
            proposed[row["canonical"]] = row["proposed"] or row["arch"]
        return done, proposed


def _check_columns(path: Path, columns: Sequence[str]) -> None:
    """Refuse to append to (or resume from) a candidates.csv with other columns."""
    with open(path, newline="") as f:
        header = next(csv.reader(f), [])
    if header != list(columns):
        raise RunDirError(f"{path} has the columns {header}, this evonas writes {list(columns)} (a run of an "
                          f"older evonas, whose rows may name other cells than their values belong to, or of "
                          f"other scores); start a new run")


@dataclass(frozen=True)
class RunDir:
    """A run directory on disk."""

    path: Path

    def file(self, name: str) -> Path:
        return self.path / name

    @classmethod
    def create(cls, path: str | Path, config: Config) -> "RunDir":
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            raise RunDirError(f"run directory {str(path)!r} exists and is not empty; "
                              f"choose another --out or continue it with --resume {path}")
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path)
        run.file(CONFIG).write_text(dump_config(config))
        run.write_state(status="running", generation=0, n_evaluated=0, started_with=to_mapping(config))
        return run

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        path = Path(path)
        if not path.is_dir():
            raise RunDirError(f"run directory {str(path)!r} does not exist")
        if not (path / CONFIG).is_file():
            raise RunDirError(f"{str(path)!r} is not an evonas run directory: it has no {CONFIG}")
        return cls(path)

    def config(self) -> Config:
        """The run's resolved config (config.yaml)."""
        try:
            return config_from_mapping(yaml.safe_load(self.file(CONFIG).read_text()))
        except ConfigError as err:
            raise RunDirError(f"{self.file(CONFIG)}: {err}") from None

    def check_resumable(self, config: Config) -> None:
        """Refuse a resume whose config.yaml changed in a way that invalidates the scores on disk.

        Compatible edits: ``search.n_gen`` (run longer), ``ray.*``, ``output.*``, ``cache.*``, ``name``,
        ``benchmark.*``, ``train.*`` (neither changes a score).
        """
        started = self.state().get("started_with")
        if started is None:
            return
        now = to_mapping(config)
        changed = [k for k in _diff_keys(started, now) if not k.startswith(_COMPATIBLE)]
        if changed:
            raise RunDirError(f"{self.file(CONFIG)} was changed since the run started ({', '.join(changed)}); "
                              f"these change the scores or the search, so the run cannot resume: restore them "
                              f"or start a new run")

    def dataset(self) -> dict[str, Any] | None:
        """``dataset.json``: the user's data set the run searched (classes, resolution, mean, std,
        fingerprint, source); None for an NB201 data set. Torch-free: ``pick`` and ``plot`` read it."""
        path = self.file(DATASET)
        return json.loads(path.read_text()) if path.exists() else None

    def dataset_spec(self) -> DatasetSpec | None:
        """The spec of the user's data set the run searched (``dataset.json``), None for an NB201 data set."""
        record = self.dataset()
        return None if record is None else spec_from_record(record)

    def check_dataset(self, spec: DatasetSpec) -> None:
        """Record a user's data set on the run's first use; refuse it when its images changed since."""
        if not spec.custom:
            return
        before = self.dataset()
        if before is None:
            atomic_write_text(self.file(DATASET), json.dumps(spec_record(spec), indent=2))
        elif before.get("fingerprint") != spec.fingerprint:
            raise RunDirError(f"the images of {spec.source.root if spec.source else spec.name} changed since the run "
                              f"{self.path} read them (fingerprint {spec.fingerprint}, was {before.get('fingerprint')}; "
                              f"{DATASET}): its scores and models belong to the old images; start a new run")

    def state(self) -> dict[str, Any]:
        path = self.file(STATE)
        return json.loads(path.read_text()) if path.exists() else {}

    def write_state(self, **state: Any) -> None:
        atomic_write_text(self.file(STATE), json.dumps({**self.state(), **state}, indent=2))

    def candidates(self) -> list[dict[str, str]]:
        return read_csv(self.file(CANDIDATES))

    def pareto(self) -> list[dict[str, str]]:
        if not self.file(PARETO).exists():
            raise RunDirError(f"{self.path} has no {PARETO}: the search has not finished "
                              f"(continue it with --resume {self.path})")
        return read_csv(self.file(PARETO))

    def write_pareto(self, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
        write_csv(self.file(PARETO), list(rows), columns)

    def shortlist(self) -> list[dict[str, str]]:
        """The rows of ``shortlist.csv``: the training stage's candidates (none before it ran)."""
        return read_csv(self.file(SHORTLIST)) if self.file(SHORTLIST).exists() else []

    def write_shortlist(self, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
        write_csv(self.file(SHORTLIST), list(rows), columns)

    def members(self) -> list[dict[str, str]]:
        """Every row with an id: the front (pareto.csv), then shortlisted cells off the front."""
        front = self.pareto()
        ids = {r["id"] for r in front}
        return front + [r for r in self.shortlist() if r["id"] not in ids]

    def trained(self) -> list[dict[str, str]]:
        """The rows of ``trained.csv`` (none before the training stage)."""
        return read_csv(self.file(TRAINED)) if self.file(TRAINED).exists() else []
