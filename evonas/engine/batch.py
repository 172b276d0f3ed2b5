"""Scoring a list of architectures with any registered scores (the ``score`` command).

``score_command`` is the command's body: its flags in, the evaluations out (the CLI writes them
with ``run.tables.write_scores``); a bad flag is one error naming the flag, before any scoring.
``check_references`` refuses, before any scoring, a rank aggregate on a user's data set without a
reference sample built on its images (the search checks it too); ``user_data`` reads a user's images
as the ``score`` command's flags (and the reference builder's) describe them.
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from evonas.config.load import blame, config_from_mapping, yaml_problem
from evonas.config.schema import RayConfig
from evonas.errors import ArchError, DataError, EvonasError
from evonas.engine.pool import make_pool
from evonas.engine.records import Evaluation, ScorerSpec
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec, check_available, dataset_spec, resolve
from evonas.nn.devices import resolve_device
from evonas.space.table import sample_uniform

__all__ = ["read_archs", "sample_archs", "score_archs", "score_command", "check_references", "data_flags",
           "user_data"]


def read_archs(path: str | Path) -> list[Cell]:
    """One arch string or NB201 index per line (blank lines and ``#`` comments skipped). Any readable path
    will do, read once: a file, or a pipe such as the shell's ``<(...)`` (``/dev/fd/N``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"--archs {str(path)!r} does not exist; give a file with one arch string or index per line")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"--archs {str(path)!r} cannot be read ({type(err).__name__}: {err}); give a file with one "
                        f"arch string or index per line") from None
    cells = []
    for n, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            cells.append(Cell.parse(entry))
        except ArchError as err:
            raise ArchError(f"{path}:{n}: {err}") from None
    if not cells:
        raise DataError(f"--archs {str(path)!r} lists no architecture")
    return cells


def sample_archs(n: int, seed: int = 0, connected_only: bool = True) -> list[Cell]:
    """``n`` distinct NB201 cells drawn uniformly by index (connected ones only by default), in index order."""
    return sorted(sample_uniform(n, seed, connected_only=connected_only), key=lambda cell: cell.index)


def score_archs(cells: Sequence[Cell], spec: ScorerSpec, ray_config: RayConfig = RayConfig(), *,
                progress: Callable[[int, int, float], None] | None = None) -> list[Evaluation]:
    """Score every cell (in the given order) through the pool ``ray_config`` describes (``make_pool``);
    device-timing scores (latency) after each cell's others, with the device to themselves."""
    by_arch: dict[str, Evaluation] = {}
    t0 = time.perf_counter()
    with make_pool(spec, ray_config) as pool:
        for ev in pool.map_unordered(list(dict.fromkeys(cells))):
            by_arch[ev.arch] = ev
            if progress is not None:
                progress(len(by_arch), len(cells), time.perf_counter() - t0)
    return [by_arch[c.arch] for c in cells]


def check_references(scores: Mapping[str, Any], names: Sequence[str], dataset: DatasetSpec, *,
                     flags: bool = False) -> None:
    """A rank aggregate on a user's images with no reference built on them fails now, not on every cell.

    ``scores``: the per-score settings (as a config's ``scores``); ``names``: the scores to compute.
    ``flags``: the error names the ``score`` command's flags and its builder command, not a config's keys.
    """
    if not dataset.custom:
        return
    from evonas.scores.reference import build_command, load_reference
    from evonas.scores.registry import make_settings

    want = f"{dataset.name}:{dataset.fingerprint}"
    for name in names:
        settings = make_settings(name, scores.get(name))
        if not hasattr(settings, "reference"):
            continue
        path = settings.reference
        held = load_reference(path).dataset if path else None
        if held == want:
            continue
        if path:
            key = f"--settings {name}.reference" if flags else f"scores.{name}.reference"
            why = f"{path} was built on {held}, not on these images ({want})"
        else:
            key = f"--scores {name}" if flags else f"scores.{name}.reference"
            why = f"{name} ranks cells against a reference sample built on the same images, and evonas ships NB201's"
        build = (build_command(dataset, settings.members) if flags else
                 "python -m evonas.builders.reference --config CONFIG --out ref.npz")
        use = f"give --settings \"{{{name}: {{reference: ref.npz}}}}\"" if flags else f"set {key}: ref.npz"
        raise EvonasError(f"{key}: {why}; build one for them with {build} and {use}")


def data_flags(data_root: str | None, resolution: int | None, val_split: float | None) -> dict[str, str]:
    """The flags that describe a user's images (``score``'s, the reference builder's), by the config key each
    stands for: an error in a value they gave names the flag (``evonas.config.load.blame``)."""
    given = {"data.root": ("--data-root", data_root), "data.resolution": ("--resolution", resolution),
             "data.val_split": ("--val-split", val_split)}
    return {key: flag if value is None else f"{flag} {shlex.quote(str(value))}" for key, (flag, value) in given.items()}


def user_data(data_root: str | None, resolution: int | None = None, val_split: float | None = None) -> DatasetSpec:
    """A user's data set (``--dataset custom``) as the flags describe it: read, checked and described here."""
    if data_root is None:
        raise EvonasError("--dataset custom needs --data-root: your image folder or .npz")
    if not Path(data_root).expanduser().exists():
        raise DataError(f"--data-root {data_root!r} does not exist; give your image folder or .npz")
    try:
        where = {"root": data_root, "resolution": resolution, "val_split": val_split}
        return resolve(config_from_mapping({"dataset": "custom", "data": where}))
    except EvonasError as err:
        raise blame(err, data_flags(data_root, resolution, val_split)) or err from None


def _print_progress(done: int, total: int, seconds: float) -> None:
    print(f"\r{done}/{total} scored, {done / max(seconds, 1e-9):.2f} archs/s", end="", file=sys.stderr)


def score_command(scores: str, *, archs: Path | None = None, n: int | None = None, seed: int = 0,
                  dataset: str = "cifar10", data_root: str | None = None, resolution: int | None = None,
                  val_split: float | None = None, device: str = "auto", settings: str | None = None,
                  backend: str = "ray", actors: int | None = None, address: str | None = None,
                  connect_timeout: float = 10.0, progress: Callable[[int, int, float], None] | None = _print_progress
                  ) -> tuple[tuple[str, ...], list[Evaluation]]:
    """``evonas score``'s body, its flags as arguments: (the score names, every cell's evaluation).

    ``scores``: comma-separated names; the cells are read from ``archs`` or ``n`` are sampled;
    ``settings``: a YAML mapping of per-score settings; ``dataset`` custom reads the user's images at
    ``data_root`` (``resolution``, ``val_split``). A bad flag is an ``EvonasError`` before any scoring;
    ``progress`` (default: a line on stderr) hears of every cell scored.
    """
    names = tuple(s.strip() for s in scores.split(",") if s.strip())
    try:
        per_score = yaml.safe_load(settings) if settings else {}
    except yaml.YAMLError as err:
        raise EvonasError(f"--settings {shlex.quote(settings)}: not valid YAML ({yaml_problem(err)})") from None
    if not isinstance(per_score, dict):
        raise EvonasError(f"--settings must be a YAML mapping, got {settings!r}")
    if n is not None and n < 1:
        raise EvonasError(f"--n {n}: sample at least 1 architecture")
    data: str | DatasetSpec = dataset
    if dataset == "custom":
        data = user_data(data_root, resolution, val_split)
    elif resolution is not None or val_split is not None:
        raise EvonasError("--resolution and --val-split are for --dataset custom (your own images)")
    flags = {"dataset": f"--dataset {dataset}", "scores": f"--settings {shlex.quote(settings or '{}')}",
             "device": f"--device {device}", **data_flags(data_root, resolution, val_split)}
    try:
        spec = ScorerSpec(scores=names, settings=per_score, dataset=dataset_spec(data), data_root=data_root,
                          seed=seed, device=device)
        check_references(per_score, names, spec.dataset, flags=True)
        check_available(spec.dataset, data_root)
        if address is None and backend == "ray" or backend == "serial":
            resolve_device(device)  # a GPU asked for where there is none: fail now
    except EvonasError as err:
        raise blame(err, flags) or err from None
    if n is None and archs is None:
        raise EvonasError("give --archs FILE or --n N")
    cells = read_archs(archs) if archs is not None else sample_archs(n, seed)
    if address is not None and backend == "ray":
        from evonas.engine.cluster import check_ray_address

        if not connect_timeout > 0:
            raise EvonasError(f"--connect-timeout {connect_timeout:g}: must be > 0 seconds")
        check_ray_address(address, connect_timeout, name="--address")
    ray_config = RayConfig(backend=backend, num_actors=actors, address=address, connect_timeout_s=connect_timeout)
    return names, score_archs(cells, spec, ray_config, progress=progress)
