"""Seconds per cell and values of evonas's AZ-NAS, VKDNW and KNAS scores against the authors' own code.

Each row times evonas's score through the registry (``SCORES[name](ScoreContext(...), settings)``,
whatever the current implementation is) and the authors' published scoring function, imported
at run time from a checkout of their repository, on the same cells: the first ``--n`` of
``sample_connected("all", --seed)``, NB201 networks at ``--C``/``--N``, CIFAR-10 head and
resolution, one CPU thread. The two codes run interleaved, cell by cell (evonas, then the
authors, for each family of cell 1, then cell 2, ...). A row without a checkout times evonas only.

    python benchmarks/authors_speed.py --n 10 --aznas AZ-NAS --vkdnw VKDNW --knas KNAS --json OUT.json

What the two sides share, per family:

- **AZ-NAS** (``--aznas``: github.com/cvlab-yonsei/AZ-NAS, ``NB201/ZeroShotProxy/compute_az_nas_score.py``,
  ``compute_nas_score``; snapshot 5e6683a2cfa5c6d0dc34a1317a842497ba7eae47). evonas's
  ``az_expressivity`` computes the three terms in one pass (``evonas.scores.aznas._LAST`` is
  cleared before each cell, so the pass is paid for every cell), the authors' function returns
  all three. Same weights: the authors' function re-initialises the network (Kaiming-normal,
  fan-in) from the global generator; the network is built under ``torch.manual_seed(seed)``
  exactly as ``ScoreContext.network`` builds it, so their re-initialisation draws the weights
  evonas draws (checked after every call: ``same_weights`` in the JSON). Same input: evonas's
  Gaussian batch, handed to the authors' function as a one-batch ``trainloader``. Same +-1
  output gradients for trainability: the authors' module draws them with ``torch.bernoulli``
  from the global generator; here its module-level name ``torch`` is a stand-in whose
  ``bernoulli`` draws the signs in evonas's order from a generator seeded with ``seed + 1``
  (everything else goes to torch). ``--authors-draws`` leaves their draws alone (trainability
  then differs by sampling).
- **VKDNW** (``--vkdnw``: github.com/ondratybl/VKDNW, ``NB201/ZeroShotProxy/compute_vkdnw_score.py``,
  ``compute_nas_score``; snapshot 6901b65fc68c89c163e8e5d9ba0410926f36870e) against
  ``vkdnw_entropy``. Weights and input as for AZ-NAS; ``params_grad_len=128`` (the default, as
  evonas's ``n_tensors``) and ``p=1`` (one entry per tensor: the first, as evonas takes; the
  authors' default ``p=0`` selects no entry, and the function then fails in ``torch.quantile``
  on an empty spectrum).
- **KNAS** (``--knas``: github.com/Jingjing-NLP/KNAS, ``exps/NAS-Bench-201/functions.py``,
  ``procedure``; snapshot 5fbb0fe07c5492be426e78bca7e7aa9195016f8f) against ``knas`` and
  ``knas_fast``. Same network (``ScoreContext.network()``, default initialisation), the same 50
  mini-batches of one packaged CIFAR-10 image each, the authors' loss
  (``nn.CrossEntropyLoss()``) and an SGD optimizer over the network's parameters (only its
  ``zero_grad`` is called; ``procedure`` never steps it).

The authors' side of each timing includes building the network (as evonas's call does; the
Gaussian batch is drawn before it, the KNAS mini-batches sliced before it), and its value is compared with evonas's: the largest relative difference ``|e - a| / max(|e|, |a|)``
over the cells. The authors compute in float32 where evonas computes the covariances, the
Fisher matrix and their eigenvalues in float64, so small differences are expected; VKDNW's
Fisher matrix spans 20 and more orders of magnitude, below float32's resolution for its lower
deciles, so its entropy differs most. An AZ-NAS cell with an identity block has trainability
-inf for the authors and ``IDENTITY_BLOCK``-dominated (below -1e9) for evonas: such a pair
counts as agreeing (``identity`` in the JSON).

Fixes applied at run time to the authors' code (nothing in their checkout is changed):

1. CPU: AZ-NAS's and VKDNW's ``compute_nas_score`` call ``model.cuda()`` unconditionally; the
   network handed to them is a wrapper whose ``cuda()`` returns itself (called with ``gpu=None``,
   their device is the CPU). KNAS's ``procedure`` calls ``targets.cuda(non_blocking=True)``;
   ``torch.Tensor.cuda`` returns the tensor itself for the duration of that call.
2. Current torch: VKDNW's ``get_jacobian_index`` writes the entries under ``jacrev`` into a view
   of the captured parameter (``param = params[k].flatten()`` then ``param[param_idx] = v``),
   which torch 2.13's function transforms refuse ("attempted to call in-place operation ...
   that would mutate a captured Tensor"). The function is recompiled from the checkout's own
   source with that one line changed to ``params[k].flatten().clone()`` (the same values;
   the in-place write then no longer reaches the parameter).
3. Imports: KNAS's ``functions.py`` imports its training helpers at module level
   (``procedures``, which needs torchvision, ``utils``, ``config_utils``, ``models``);
   ``procedure`` uses none of them, so placeholder modules stand in for those four while it is
   imported (its ``log_utils``, which ``procedure`` uses, is the checkout's own). AZ-NAS and
   VKDNW both name their package ``ZeroShotProxy``, so each scoring file is loaded from its
   path under a module name of its own.
4. Network: both sides run evonas's NB201 modules (so the weights are the same tensors), but evonas's
   cell skips its ``none`` edges (they add exact zeros) where the authors' network (xautodl's
   ``InferCell``) computes and sums every edge; the authors' side evaluates each cell that way.
5. Interface: the authors' NB201 network returns ``(pooled features, logits)`` and AZ-NAS reads
   ``model.extract_cell_features(x)`` (the stem's output and every cell's, each with
   ``retain_grad``); the wrapper around evonas's NB201 TinyNetwork provides both. KNAS's
   ``procedure`` takes a scheduler for the learning rate: a stand-in whose ``update`` does
   nothing (no step is taken, so the learning rate never matters).

Before the timed cells, ``--warmup`` (1) further cells of the sample are scored on both sides
untimed, so one-time start-up costs fall on neither. Timings are medians over the cells; the
JSON keeps every cell's seconds and values.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import math
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, write_json  # noqa: E402

from evonas.datasets import dataset_spec  # noqa: E402
from evonas.nn.network import InferCell, build_network  # noqa: E402
from evonas.scores import SCORES, ScoreContext, make_settings  # noqa: E402
from evonas.space.cell import Cell  # noqa: E402
from evonas.space.table import sample_connected  # noqa: E402

FAMILIES = ("aznas", "vkdnw", "knas")
#: the evonas scores of each family; the first is the one timed (AZ-NAS: one pass gives the three terms)
EVONAS = {"aznas": ("az_expressivity", "az_progressivity", "az_trainability"), "vkdnw": ("vkdnw_entropy",),
          "knas": ("knas", "knas_fast")}
#: the authors' value that each evonas score is compared with
AUTHORS_KEY = {"az_expressivity": "expressivity", "az_progressivity": "progressivity",
               "az_trainability": "trainability", "vkdnw_entropy": "vkdnw_entropy", "knas": "knas", "knas_fast": "knas"}
#: where each family's scoring function lives in the authors' checkout
AUTHORS_FILE = {"aznas": "NB201/ZeroShotProxy/compute_az_nas_score.py",
                "vkdnw": "NB201/ZeroShotProxy/compute_vkdnw_score.py",
                "knas": "exps/NAS-Bench-201/functions.py"}
DATASET = "cifar10"
#: evonas's trainability of a cell with an identity block lies far below any measured one
IDENTITY_BELOW = -1e9


# ---------------------------------------------------------------------------------------------
# loading the authors' code


@contextlib.contextmanager
def _restored_path() -> Iterator[None]:
    """Undo whatever a loaded module appends to sys.path."""
    saved = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = saved


def _load(path: Path, name: str) -> types.ModuleType:
    """The module at ``path`` under the module name ``name`` (two checkouts share package names)."""
    if not path.is_file():
        raise SystemExit(f"{path} not found: is this a checkout of the authors' repository?")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    with _restored_path():
        spec.loader.exec_module(module)
    return module


def _replace_line(module: types.ModuleType, function: str, old: str, new: str) -> None:
    """Recompile ``module.function`` from its own source with the one line ``old`` changed to ``new``."""
    source = inspect.getsource(getattr(module, function))
    if source.count(old) != 1:
        raise SystemExit(f"{module.__file__}: {function} does not hold the line {old.strip()!r} once; "
                         f"the checkout differs from the snapshot this benchmark fixes")
    exec(compile(source.replace(old, new), module.__file__, "exec"), module.__dict__)  # noqa: S102


def load_aznas(root: Path) -> types.ModuleType:
    return _load(root / AUTHORS_FILE["aznas"], "_authors_aznas")


def load_vkdnw(root: Path) -> types.ModuleType:
    module = _load(root / AUTHORS_FILE["vkdnw"], "_authors_vkdnw")
    _replace_line(module, "get_jacobian_index", "param = params[k].flatten()\n",
                  "param = params[k].flatten().clone()\n")  # fix 2: torch 2.13's jacrev
    return module


def load_knas(root: Path) -> types.ModuleType:
    """KNAS's functions.py with placeholders for the training helpers it imports but ``procedure`` never uses."""
    def unused(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a placeholder for a KNAS training helper was called")

    placeholders = {"procedures": ("prepare_seed", "get_optim_scheduler"),
                    "utils": ("get_model_infos", "obtain_accuracy"),
                    "config_utils": ("dict2config",), "models": ("get_cell_based_tiny_net",)}
    saved = {name: sys.modules.get(name) for name in placeholders}
    for name, attrs in placeholders.items():
        stub = types.ModuleType(name)
        for attr in attrs:
            setattr(stub, attr, unused)
        sys.modules[name] = stub
    try:
        with _restored_path():
            sys.path.insert(0, str(root / "lib"))  # its log_utils (AverageMeter)
            return _load(root / AUTHORS_FILE["knas"], "_authors_knas")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


LOADERS: dict[str, Callable[[Path], types.ModuleType]] = {"aznas": load_aznas, "vkdnw": load_vkdnw, "knas": load_knas}


def commit_of(root: Path) -> str | None:
    """The checkout's commit (None when it is not a git checkout)."""
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


# ---------------------------------------------------------------------------------------------
# what the authors' functions are handed


class AuthorsView(nn.Module):
    """evonas's NB201 TinyNetwork with the interface of the authors' NB201 network, on the CPU.

    ``forward`` returns ``(pooled features, logits)``; ``extract_cell_features`` the stem's output
    and every cell's, each keeping its gradient; ``cuda()`` returns the network itself.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.extract_cell_features(x, keep=False)[-1]
        features = self.net.global_pooling(self.net.lastact(features)).flatten(1)
        return features, self.net.classifier(features)

    def extract_cell_features(self, x: torch.Tensor, keep: bool = True) -> list[torch.Tensor]:
        out = [self.net.stem(x)]
        for block in self.net.cells:
            out.append(block.forward_every_edge(out[-1]) if isinstance(block, InferCell) else block(out[-1]))
        for f in out if keep else ():
            if f.requires_grad:
                f.retain_grad()
        return out

    def cuda(self, *args: Any, **kwargs: Any) -> AuthorsView:  # fix 1: the authors' functions call model.cuda()
        return self


class SignDraws:
    """Stands in for the AZ-NAS module's ``torch``: ``bernoulli`` draws the +-1 signs as evonas does."""

    def __init__(self, seed: int) -> None:
        self._generator = torch.Generator().manual_seed(seed)

    def bernoulli(self, p: torch.Tensor) -> torch.Tensor:  # the module asks for bernoulli(0.5) only
        return torch.randint(0, 2, p.shape, generator=self._generator).to(p.dtype)

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)


class IdleScheduler:
    """KNAS's ``procedure`` sets the learning rate on each batch; no step is taken, so nothing to do."""

    def update(self, *args: Any) -> None:
        return None


@contextlib.contextmanager
def tensors_stay_on_cpu() -> Iterator[None]:
    """Fix 1 for KNAS: ``Tensor.cuda`` returns the tensor itself while ``procedure`` runs."""
    saved = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda = saved  # type: ignore[method-assign]


def _seeded_network(ctx: ScoreContext, seed: int) -> nn.Module:
    """The network ``ctx.network(seed)`` builds, its default initialisation drawn from the global generator."""
    torch.manual_seed(seed)
    return build_network(ctx.cell, C=ctx.C, N=ctx.N, num_classes=ctx.dataset.num_classes)


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    pa, pb = list(a.parameters()), list(b.parameters())
    return len(pa) == len(pb) and all(torch.equal(x, y) for x, y in zip(pa, pb))


def authors_aznas(module: types.ModuleType, ctx: ScoreContext, settings: Any, own_draws: bool) -> dict[str, Any]:
    from evonas.scores.aznas import gaussian_batch

    seed = ctx.seed if getattr(settings, "seed", None) is None else settings.seed
    x = gaussian_batch(ctx, settings.batch_size, seed)
    module.torch = torch if own_draws else SignDraws(seed + 1)
    try:
        with torch.random.fork_rng(devices=[]):
            start = time.perf_counter()
            view = AuthorsView(_seeded_network(ctx, seed))
            info = module.compute_nas_score(view, gpu=None, trainloader=[(x, None)],
                                            resolution=ctx.dataset.resolution, batch_size=settings.batch_size)
            seconds = time.perf_counter() - start
    finally:
        module.torch = torch
    same = _same_weights(view.net, ctx.network(seed, init="fan_in"))
    return {"seconds": seconds, "values": {k: float(v) for k, v in info.items()}, "same_weights": same}


def authors_vkdnw(module: types.ModuleType, ctx: ScoreContext, settings: Any) -> dict[str, Any]:
    from evonas.scores.aznas import gaussian_batch

    seed = ctx.seed if getattr(settings, "seed", None) is None else settings.seed
    x = gaussian_batch(ctx, settings.batch_size, seed)
    with torch.random.fork_rng(devices=[]):
        start = time.perf_counter()
        view = AuthorsView(_seeded_network(ctx, seed))
        info = module.compute_nas_score(view, gpu=None, trainloader=[(x, None)], resolution=ctx.dataset.resolution,
                                        batch_size=settings.batch_size, params_grad_len=settings.n_tensors, p=1.0)
        seconds = time.perf_counter() - start
    same = _same_weights(view.net, ctx.network(seed, init="fan_in"))
    return {"seconds": seconds, "values": {k: float(v) for k, v in info.items()}, "same_weights": same}


def authors_knas(module: types.ModuleType, ctx: ScoreContext, settings: Any) -> dict[str, Any]:
    loader = [ctx.batch(settings.batch_size, offset=b * settings.batch_size) for b in range(settings.n_batches)]
    start = time.perf_counter()
    view = AuthorsView(ctx.network())
    optimizer = torch.optim.SGD(view.parameters(), lr=0.1)
    with tensors_stay_on_cpu():
        value = module.procedure(loader, view, nn.CrossEntropyLoss(), IdleScheduler(), optimizer, "train")[0]
    seconds = time.perf_counter() - start
    same = _same_weights(view.net, ctx.network())
    return {"seconds": seconds, "values": {"knas": float(value)}, "same_weights": same}


# ---------------------------------------------------------------------------------------------
# the measurement


def _clear_evonas_caches() -> None:
    """Forget the last cell's shared pass, so each evonas call computes its cell."""
    for name in ("evonas.scores.aznas", "evonas.scores.vkdnw"):
        last = getattr(sys.modules.get(name), "_LAST", None)
        if last is not None:
            last.clear()


def _evonas(names: tuple[str, ...], ctx: ScoreContext, settings: dict[str, Any]) -> dict[str, Any]:
    """Seconds of each family member (a shared pass is timed on the first) and the values."""
    out: dict[str, Any] = {"seconds": {}, "values": {}}
    _clear_evonas_caches()
    for name in names:
        start = time.perf_counter()
        out["values"][name] = float(SCORES[name](ctx, settings[name]))
        out["seconds"][name] = time.perf_counter() - start
    return out


def rel_diff(ours: float, theirs: float) -> float:
    """``|a - b| / max(|a|, |b|)`` (0 when both are 0; inf when either is not finite)."""
    if not (math.isfinite(ours) and math.isfinite(theirs)):
        return math.inf
    scale = max(abs(ours), abs(theirs))
    return 0.0 if scale == 0 else abs(ours - theirs) / scale


def compare(name: str, ours: list[float], theirs: list[float]) -> dict[str, Any]:
    """The largest relative difference over the cells; identity-block pairs of az_trainability agree."""
    diffs, identity = [], 0
    for e, a in zip(ours, theirs):
        if name == "az_trainability" and a == -math.inf and e < IDENTITY_BELOW:
            identity += 1
            continue
        diffs.append(rel_diff(e, a))
    return {"max_rel_diff": max(diffs) if diffs else math.nan,
            "median_rel_diff": float(np.median(diffs)) if diffs else math.nan,
            "identity": identity, "not_finite": int(sum(not math.isfinite(d) for d in diffs))}


def measure(cells: list[Cell], families: list[str], modules: dict[str, types.ModuleType], args: argparse.Namespace,
            label: str = "cell") -> dict[str, Any]:
    spec = dataset_spec(DATASET)
    settings = {n: make_settings(n) for f in families for n in EVONAS[f]}
    if "knas" in families:
        s = settings["knas"]
        if (s.n_batches, s.n_tensors, s.min_numel, s.n_entries, s.n_positions) != (50, 11, 50, 100, 50):
            raise SystemExit("KNAS's code is fixed at 50 batches, 11 tensors of >= 50 entries, 100 kept, 50 used: "
                             "the knas settings' defaults must be those")
        from evonas.nn.images import load_images

        data = load_images(DATASET, n=s.n_batches * s.batch_size, seed=args.seed)
    else:
        data = None
    rows: dict[str, Any] = {f: {"arches": [], "evonas": [], "authors": []} for f in families}
    for i, cell in enumerate(cells):
        ctx = ScoreContext(cell, torch.device("cpu"), spec, data, args.seed, args.C, args.N)
        for family in families:
            rows[family]["arches"].append(cell.arch)
            rows[family]["evonas"].append(_evonas(EVONAS[family], ctx, settings))
            module = modules.get(family)
            if module is None:
                rows[family]["authors"].append(None)
            elif family == "aznas":
                rows[family]["authors"].append(authors_aznas(module, ctx, settings["az_expressivity"],
                                                             args.authors_draws))
            elif family == "vkdnw":
                rows[family]["authors"].append(authors_vkdnw(module, ctx, settings["vkdnw_entropy"]))
            else:
                rows[family]["authors"].append(authors_knas(module, ctx, settings["knas"]))
        print(f"  {label} {i + 1}/{len(cells)} done", file=sys.stderr, flush=True)
    return rows


def summarise(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per evonas score: cells, median seconds each side, speed-up, value differences."""
    out: dict[str, dict[str, Any]] = {}
    for family, r in rows.items():
        names = EVONAS[family]
        authors = r["authors"]
        has_authors = all(a is not None for a in authors)
        a_sec = [a["seconds"] for a in authors] if has_authors else []
        for name in names:
            shared = family == "aznas" and name != names[0]  # the same pass as az_expressivity
            e_sec = [] if shared else [e["seconds"][name] for e in r["evonas"]]
            ours = [e["values"][name] for e in r["evonas"]]
            row: dict[str, Any] = {"cells": len(ours), "evonas_values": ours, "evonas_seconds": e_sec,
                                   "shared_pass": shared}
            row["evonas_s"] = float(np.median(e_sec)) if e_sec else math.nan
            if has_authors:
                theirs = [a["values"][AUTHORS_KEY[name]] for a in authors]
                row.update({"authors_values": theirs, "authors_seconds": [] if shared else a_sec,
                            "authors_s": math.nan if shared else float(np.median(a_sec)),
                            "same_weights": all(a["same_weights"] for a in authors), **compare(name, ours, theirs)})
                row["speedup"] = row["authors_s"] / row["evonas_s"] if not shared else math.nan
            else:
                row.update({"authors_s": math.nan, "speedup": math.nan, "max_rel_diff": math.nan})
            out[name] = row
    return out


def print_summary(summary: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"{args.n} connected cells (sample_connected('all', {args.seed})), C={args.C} N={args.N}, CIFAR-10, "
          f"1 thread, {machine()}; median s/cell; speed-up = authors / evonas")
    table = []
    for name, r in summary.items():
        shared = r["shared_pass"]
        evonas_s = "(same pass)" if shared else r["evonas_s"]
        authors_s = "(same pass)" if shared and "authors_values" in r else r["authors_s"]
        speedup = "" if shared else r["speedup"]
        diff = r["max_rel_diff"]
        diff_cell = "nan" if math.isnan(diff) else f"{diff:.2e}"
        if r.get("identity"):
            diff_cell += f" ({r['identity']} identity cell{'s' if r['identity'] > 1 else ''}: -inf both)"
        table.append([name, r["cells"], evonas_s, authors_s, speedup, diff_cell])
    print_table(["score", "cells", "evonas s/cell", "authors s/cell", "speed-up", "max rel. value difference"], table)
    same = {name: r["same_weights"] for name, r in summary.items() if "same_weights" in r}
    if same:
        print("same initial weights on both sides, every cell: " + ", ".join(f"{n} {'yes' if v else 'NO'}"
                                                                             for n, v in same.items()))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="cells")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed and the scoring seed")
    parser.add_argument("--C", type=int, default=16)
    parser.add_argument("--N", type=int, default=5)
    parser.add_argument("--families", default=",".join(FAMILIES), help="aznas, vkdnw and/or knas")
    for family, where in (("aznas", "AZ-NAS"), ("vkdnw", "VKDNW"), ("knas", "KNAS")):
        parser.add_argument(f"--{family}", type=Path, default=None, help=f"a checkout of the authors' {where} code")
    parser.add_argument("--warmup", type=int, default=1, help="cells scored untimed first (the next in the sample)")
    parser.add_argument("--authors-draws", action="store_true",
                        help="AZ-NAS: let the authors' code draw its +-1 gradients from the global generator")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = set(families) - set(FAMILIES)
    if unknown:
        parser.error(f"unknown families {sorted(unknown)}; choose from {', '.join(FAMILIES)}")
    torch.set_num_threads(1)
    checkouts = {f: getattr(args, f) for f in families if getattr(args, f) is not None}
    modules = {f: LOADERS[f](path) for f, path in checkouts.items()}
    sample = sample_connected("all", args.seed)
    cells, warm = sample[: args.n], sample[args.n: args.n + args.warmup]
    if warm:  # one-time start-up costs (libraries, allocator) on both sides, not timed
        measure(warm, families, modules, args, label="warm-up cell")
    rows = measure(cells, families, modules, args)
    summary = summarise(rows)
    print_summary(summary, args)
    result = {"n": args.n, "warmup": args.warmup, "seed": args.seed, "C": args.C, "N": args.N, "dataset": DATASET, "threads": 1,
              "machine": machine(), "torch": torch.__version__, "authors_draws": args.authors_draws,
              "checkouts": {f: {"path": str(p), "commit": commit_of(p)} for f, p in checkouts.items()},
              "scores": summary, "per_cell": rows}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
