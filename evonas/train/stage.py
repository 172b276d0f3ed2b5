"""The second stage: train chosen front members for real, in parallel, resumably.

Each candidate is one Ray task (``evonas.train.dispatch``), spread over the cluster's nodes: a
share of a GPU when there are GPUs (``train.jobs_per_gpu`` trainings per GPU; ``auto``: as many as
fit by the measured peak memory of the largest candidate, ``train_task_gpus``), else one CPU slot;
with ``ray.backend: serial`` the candidates train one after another in this process. Whichever node
trains, the files are the driver's, in its run directory: the checkpoint after every epoch
(``RUN_DIR/checkpoints/<id>.pt``, sent back as bytes, and sent to the training again when it
resumes, so that an interrupted stage or a lost worker continues where it stopped), the epoch's
metrics (``checkpoints/<id>.progress.json``, and one log line), the weights (``models/<id>.pt``)
and the metrics (``trained.csv``). A Ray the stage started is shut down at its end; a cluster it
attached to (``ray.address``) is left running.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch

from evonas.config.schema import Config, TrainConfig
from evonas.engine.cluster import start_ray
from evonas.engine.placement import gpu_share, per_gpu_from_memory
from evonas.engine.ray_start import first_line
from evonas.errors import EvonasError
from evonas.nn.network import network_for
from evonas.run.rundir import TRAINED, RunDir
from evonas.run.csvfiles import write_csv
from evonas.search.rungs import by_rung, describe_keep, keep_ids, last_rung, rung_of
from evonas.search.shortlist import SHORTLIST_PREFIX, shortlist_rows
from evonas.search.trained_front import (mark_trained_front, marked_columns, noise_note, seeds_of,
                                         short_training_note, trained_cost)
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec, check_available, dataset_spec, read_split, train_root, train_spec
from evonas.train.dispatch import RunFiles, Trained, TrainJob, train_here, train_on_ray
from evonas.train.loop import peak_train_memory
from evonas.train.models import load_model_file, save_model

__all__ = ["select_candidates", "train_front", "TrainJob", "load_model", "TRAINED_COLUMNS",
           "train_task_gpus", "mark_trained_front", "trained_cost"]

log = logging.getLogger("evonas")
TRAINED_COLUMNS = ["id", "arch", "index", "dataset", "rung", "epochs", "train_acc", "test_acc", "test_n", "seeds",
                   "seed_test_accs", "wall_time_s", "device", "status", "error"]


def select_candidates(front: Sequence[dict[str, Any]], config: Config, ids: Sequence[int] | None = None,
                      scored: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Rows to train: explicit front ``ids``, else ``train.candidates`` (``evonas.search.shortlist.shortlist_rows``)."""
    return shortlist_rows(config, front, scored, ids)


def _needs_training(row: dict[str, Any] | None, epochs: int, seeds: int) -> bool:
    """A trained.csv row calls for training: none yet, a failed one, one of another length or of fewer seeds."""
    return (row is None or row.get("status") != "ok" or int(row["epochs"]) != epochs
            or seeds_of(row) < seeds)


def train_task_gpus(jobs_per_gpu: int | str, *, gpus: float,
                    measure: Callable[[], tuple[int, int] | None]) -> tuple[float, int]:
    """(``num_gpus`` each training task asks Ray for, trainings per GPU).

    No GPUs: 0 (the task takes a CPU slot). ``jobs_per_gpu`` a number: that many per GPU.
    ``auto``: ``measure()`` gives (peak bytes of the largest candidate's training step, the GPU's
    bytes), called once, and ``per_gpu_from_memory`` decides; one per GPU when it cannot measure.
    """
    if gpus <= 0:
        return 0.0, 0
    if jobs_per_gpu == "auto":
        measured = measure()
        per_gpu = per_gpu_from_memory(*measured) if measured and measured[0] > 0 else 1
    else:
        per_gpu = int(jobs_per_gpu)
    return gpu_share(per_gpu), per_gpu


def _peak_task(arch: str, dataset: str | DatasetSpec, C: int, N: int, settings: Any) -> tuple[int, int] | None:
    """Runs on a GPU worker: peak memory of one training step of ``arch``, and the GPU's memory."""
    if not torch.cuda.is_available():
        return None
    spec = dataset_spec(dataset)
    peak = peak_train_memory(Cell.from_string(arch), num_classes=spec.num_classes, resolution=spec.resolution,
                             batch_size=settings.batch_size, C=C, N=N, device="cuda", amp=settings.amp,
                             channels_last=settings.channels_last)
    return (peak, torch.cuda.get_device_properties(0).total_memory) if peak else None


def _largest(jobs: Sequence[TrainJob]) -> TrainJob:
    """The candidate with the most FLOPs (the most activations to hold while training)."""
    from evonas.nn.flops import count_flops

    def flops(job: TrainJob) -> float:
        net = network_for(Cell.from_string(job.arch), job.dataset, C=job.C, N=job.N)
        return count_flops(net, dataset_spec(job.dataset).resolution)

    return max(jobs, key=flops)


def _absolute(dataset: str | DatasetSpec, root: str | None) -> tuple[str | DatasetSpec, str | None]:
    """The data set and root as a worker on any node is told them: every path absolute (the driver's)."""
    spec = dataset_spec(dataset)
    if spec.source is not None:
        where = str(Path(spec.source.root).expanduser().resolve())
        dataset = dataclasses.replace(spec, source=dataclasses.replace(spec.source, root=where))
    return dataset, None if root is None else str(Path(root).expanduser().resolve())


def train_front(config: Config, run: RunDir, ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Train the selected front members (Ray tasks, or in this process with ``ray.backend: serial``) rung by rung
    of ``train.schedule`` (``evonas.search.rungs``), write models/<id>.pt and trained.csv; the last rung's rows."""
    tc: TrainConfig = config.train
    dataset = train_spec(config)  # a user's data set: read and checked here
    if dataset.custom:
        log.info(dataset.summary())
    root = train_root(config)
    check_available(dataset, root)
    run.check_dataset(dataset)  # a user's data set: the images the search scored, unchanged
    rows = _candidates(config, run, ids)
    members = run.members()  # the front and the shortlist just written: every id a training can have
    cost = trained_cost(config)
    done = {(int(r["id"]), rung_of(r)): r for r in run.trained()}
    files = RunFiles(run.path / "checkpoints")
    (run.path / "models").mkdir(exist_ok=True)
    dataset, root = _absolute(dataset, root)
    rungs = tc.rungs()
    going = [int(r["id"]) for r in rows]
    arch = {int(r["id"]): r["arch"] for r in rows}
    with _trainings(config) as train:
        for k, rung in enumerate(rungs, start=1):
            if k > 1:
                before = [r for r in _marked(done, members, cost) if rung_of(r) == k - 1 and int(r["id"]) in going]
                going = keep_ids(before, rung, cost)
                log.info(f"rung {k} of {len(rungs)}: {len(going)} of {len(before)} candidate(s) go on "
                         f"({describe_keep(rung, cost)}): ids {', '.join(map(str, going)) or 'none'}")
            settings, stop = tc.rung_recipe(k - 1)
            todo = [i for i in going if _needs_training(done.get((i, k)), stop, tc.seeds)]
            jobs = [_job(config, i, arch[i], dataset, root, k, stop, settings.epochs, seed) for i in todo
                    for seed in range(tc.seeds)]
            for job in jobs:  # a finished training of another length is superseded; a failed one resumes
                row = done.get((job.id, k), {})
                if row.get("status") == "ok" and int(row["epochs"]) != stop:
                    files.checkpoint(job.stem).unlink(missing_ok=True)
            of = "" if len(rungs) == 1 else f"rung {k} of {len(rungs)}: "
            part = "" if stop == settings.epochs else f" (the first {stop} of a {settings.epochs}-epoch recipe)"
            seeds = "" if tc.seeds == 1 else f", {tc.seeds} seeds each"
            log.info(f"{of}training {len(todo)} candidate(s) on {dataset} for {stop} epoch(s){part}{seeds} "
                     f"({len(going) - len(todo)} already trained)")
            if jobs and k == 1:
                _say_if_a_check(config, run, len(todo), dataset, root)
            outcomes = train(jobs, settings, files)
            with contextlib.closing(outcomes):  # unfinished trainings stopped, even on Ctrl-C
                _collect(outcomes, run, done, members, cost, tc.seeds)
    out = last_rung(_write_trained(run, done, members, cost))
    answer = [r for r in out if r["trained_front"]]
    if answer:
        at = f" at rung {rung_of(out[0])}" if len(rungs) > 1 else ""
        log.info(f"front after training{at} ({len(answer)} of {len(out)} trained, test accuracy beyond noise vs "
                 f"{cost or 'nothing'}): ids {', '.join(str(r['id']) for r in answer)} (trained.csv: trained_front; "
                 f"pick with `python -m evonas pick {run.path} --trained`)")
    note = noise_note(out)  # what the short training cannot tell apart
    if note:
        log.info(note)
    return out


def _job(config: Config, id: int, arch: str, dataset: str | DatasetSpec, root: str | None, rung: int, stop: int,
         length: int, seed: int = 0) -> TrainJob:
    """The training of ``id`` at ``rung`` (from 1) with the recipe's seed + ``seed``: stopped after ``stop`` epochs
    of a ``length``-epoch recipe. Its checkpoint is ``<id>.pt``, shared by the rungs of a ``schedule_from:
    checkpoint`` schedule (each goes on from the last), ``<id>.rung<k>.pt`` for the later rungs of a ``scratch``
    one (each starts afresh); another seed adds ``.seed<j>``."""
    own = rung > 1 and config.train.schedule_from == "scratch"
    stem = f"{id}" + (f".rung{rung}" if own else "") + (f".seed{seed}" if seed else "")
    return TrainJob(id, arch, dataset, root, config.train.n_train, config.network.C, config.network.N, config.device,
                    rung=rung - 1, stop_at=None if stop == length else stop,
                    stem=stem, seed=seed)


def _on_cpu(config: Config) -> bool:
    """The trainings run on the CPU: asked to, or ``auto`` on a machine (and its local Ray) without a GPU."""
    local = config.ray.backend == "serial" or config.ray.address in (None, "local")
    return config.device == "cpu" or (config.device == "auto" and local and not torch.cuda.is_available())


def _say_if_a_check(config: Config, run: RunDir, n: int, dataset: str | DatasetSpec, root: str | None) -> None:
    """Log what the training is when it is a check that the stage runs, not a measurement (``short_training_note``):
    short, on the CPU or on the packaged sample (an NB201 data set without a data root, whose test split is small)."""
    packaged = root is None and dataset_spec(dataset).source is None
    test_n = len(read_split(dataset, None, "test").y) if packaged else None
    note = short_training_note(config, n, run.path, on_cpu=_on_cpu(config), packaged=packaged, test_n=test_n)
    if note:
        log.info(note)


@contextlib.contextmanager
def _trainings(config: Config) -> Iterator[Callable[..., Iterator[tuple[TrainJob, Trained | Exception]]]]:
    """``train(jobs, settings, files)`` for the whole stage: in this process with ``ray.backend: serial``, else
    Ray tasks; Ray is attached to as the scoring pool does on the first trainings (none: not at all), the GPU
    share placed once, and at the end only a Ray started here is shut down (never a cluster attached to by
    ``ray.address``)."""
    if config.ray.backend == "serial":
        yield train_here
        return
    import ray

    tc = config.train
    state: dict[str, Any] = {}

    def measure(jobs: Sequence[TrainJob]) -> tuple[int, int] | None:
        job = _largest(jobs)
        ref = ray.remote(num_gpus=1, num_cpus=1)(_peak_task).remote(job.arch, job.dataset, job.C, job.N, tc.recipe)
        try:  # bounded: a GPU that never frees up means one training per GPU, not a hang
            return ray.get(ref, timeout=config.ray.task_timeout_s)
        except Exception as err:
            ray.cancel(ref, force=True)
            log.warning(f"train.jobs_per_gpu auto: could not measure the training memory of id {job.id} "
                        f"({type(err).__name__}); one training per GPU")
            return None

    def train(jobs: Sequence[TrainJob], settings: Any,
              files: RunFiles) -> Iterator[tuple[TrainJob, Trained | Exception]]:
        if not jobs:
            return train_here(jobs, settings, files)  # nothing to train: no Ray to start
        if "share" not in state:
            state["started"] = (start_ray(config.ray.address, config.ray.connect_timeout_s,
                                          runtime_env=config.ray.runtime_env) and config.ray.address in (None, "local"))
            gpus = ray.cluster_resources().get("GPU", 0) if config.device != "cpu" else 0
            state["share"], per_gpu = train_task_gpus(tc.jobs_per_gpu, gpus=gpus, measure=lambda: measure(jobs))
            nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
            if per_gpu:
                log.info(f"training {per_gpu} candidate(s) per GPU on {gpus:g} GPU(s) over {nodes} node(s) "
                         f"(train.jobs_per_gpu {tc.jobs_per_gpu})")
            else:
                log.info(f"training on {ray.cluster_resources().get('CPU', 0):g} CPU slot(s) over {nodes} node(s)")
        return train_on_ray(jobs, settings, files, gpu_share=state["share"], retries=config.ray.max_retries)

    try:
        yield train
    finally:
        if state.get("started"):
            ray.shutdown()


def _reason(err: Exception) -> str:
    """One line for a failed training: the exception the training raised, and the node it ran on."""
    cause, ip = getattr(err, "cause", None), getattr(err, "ip", None)
    if isinstance(cause, Exception):  # a Ray task's error, with the training's own exception
        err = cause
    elif hasattr(err, "cause"):       # ... whose exception did not travel: its traceback's last line names it
        return first_line(err) + (f" (on {ip})" if ip else "")
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else ''}" + (f" (on {ip})" if ip else "")


def _collect(outcomes: Iterable[tuple[TrainJob, Trained | Exception]], run: RunDir,
             done: dict[tuple[int, int], dict[str, Any]], members: Sequence[dict[str, Any]], cost: str | None,
             seeds: int = 1) -> None:
    """Write each finished candidate's model and trained.csv row as it comes (with ``seeds``, once every seed of
    it is in: their mean, ``_row``); a failure is recorded, the others go on."""
    parts: dict[tuple[int, int], dict[int, dict[str, Any] | str]] = {}
    for job, outcome in outcomes:
        key = (job.id, job.rung + 1)
        if isinstance(outcome, Exception):
            reason = _reason(outcome)
            log.info(f"train {job.label}: failed: {reason}")
            parts.setdefault(key, {})[job.seed] = reason
        else:
            m = outcome.metrics
            if job.seed == 0:  # the model of a candidate is its first seed's
                save_model(run.path / "models" / f"{job.id}.pt", _model_from_state(job, outcome.state_dict),
                           Cell.from_string(job.arch), dataset=job.dataset, C=job.C, N=job.N,
                           metrics={k: v for k, v in m.items() if k != "history"})
            parts.setdefault(key, {})[job.seed] = m
            where = "" if outcome.node == "local" else f", node {outcome.node}"
            log.info(f"train {job.label}: done, test acc {m['test_acc']:.2f}% after {m['epochs']} epochs "
                     f"({m['wall_time_s']:.0f} s on {m['device']}{where})")
        if len(parts[key]) == seeds:
            finished = parts.pop(key)
            done[key] = _row(job, [finished[j] for j in range(seeds)])
            _write_trained(run, done, members, cost)


def _row(job: TrainJob, seeds: Sequence[dict[str, Any] | str]) -> dict[str, Any]:
    """The trained.csv row of a candidate from each seed's metrics (or the reason it failed): the mean accuracies,
    each seed's test accuracy (``seed_test_accs``), the summed time; failed when a seed failed."""
    base = {"id": job.id, "arch": job.arch, "rung": job.rung + 1}
    failed = [s for s in seeds if isinstance(s, str)]
    if failed:
        return {**base, "status": "failed", "error": failed[0][:300]}
    ms = [s for s in seeds if not isinstance(s, str)]
    accs = [float(m["test_acc"]) for m in ms]
    return {**base, "index": Cell.from_string(job.arch).index, "dataset": str(job.dataset), "epochs": ms[0]["epochs"],
            "train_acc": sum(float(m["train_acc"]) for m in ms) / len(ms), "test_acc": sum(accs) / len(accs),
            "test_n": ms[0].get("test_n", ""), "seeds": len(ms), "seed_test_accs": " ".join(map(repr, accs)),
            "wall_time_s": round(sum(m["wall_time_s"] for m in ms), 2), "device": ms[0]["device"], "status": "ok",
            "error": ""}


def _candidates(config: Config, run: RunDir, ids: Sequence[int] | None) -> list[dict[str, Any]]:
    """The rows to train, written to shortlist.csv (with earlier shortlisted rows, so their ids stay valid)."""
    front = run.pareto()
    earlier = run.shortlist()
    if ids is not None:
        members = {int(r["id"]): r for r in run.members()}
        missing = [i for i in ids if i not in members]
        if missing:
            raise EvonasError(f"ids {missing} are neither on the front nor shortlisted; ids are "
                              f"{', '.join(map(str, sorted(members))) or 'none'}")
        rows = [{"band": "", "on_front": int(i) < len(front), **members[i]} for i in dict.fromkeys(ids)]
    else:
        scored = run.candidates() if config.train.candidates == "bands" and config.train.bands_over == "scored" else ()
        rows = select_candidates(front, config, scored=scored)
    merged = {str(r["id"]): r for r in earlier}
    merged.update({str(r["id"]): r for r in rows})
    columns = list(dict.fromkeys([*SHORTLIST_PREFIX, *(front[0] if front else {}),
                                  *(c for r in merged.values() for c in r)]))
    run.write_shortlist([merged[k] for k in sorted(merged, key=int)], columns)
    return rows


def _marked(done: dict[tuple[int, int], dict[str, Any]], members: Sequence[dict[str, Any]],
            cost: str | None) -> list[dict[str, Any]]:
    """The trained rows, one per (id, rung), by rung and id, with each row's cost, 95 % interval and the front
    after training among its rung's trainings marked (what trained.csv holds)."""
    return [r for k, rung in by_rung([{**done[key], "rung": key[1]} for key in sorted(done, key=lambda t: (t[1], t[0]))]
                                     ).items() for r in mark_trained_front(rung, members, cost)]


def _write_trained(run: RunDir, done: dict[tuple[int, int], dict[str, Any]], members: Sequence[dict[str, Any]],
                   cost: str | None) -> list[dict[str, Any]]:
    """Write trained.csv (``_marked``); the rows written."""
    rows = _marked(done, members, cost)
    write_csv(run.file(TRAINED), rows, [*TRAINED_COLUMNS, *marked_columns(cost)])
    return rows


def _model_from_state(job: TrainJob, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The network of ``job`` with the weights a training task sent back, in eval mode."""
    model = network_for(Cell.from_string(job.arch), job.dataset, C=job.C, N=job.N)
    model.load_state_dict(state)
    return model.eval()


def load_model(run_dir: str | Path, id: int, device: str = "cpu") -> torch.nn.Module:
    """The trained network of front member ``id`` of a run, in eval mode."""
    run = RunDir.open(run_dir)
    path = run.path / "models" / f"{id}.pt"
    if not path.is_file():
        raise EvonasError(f"{run.path} has no trained model for id {id}; train it with "
                          f"`python -m evonas train {run.path} --ids {id}`")
    return load_model_file(path, device=device)
