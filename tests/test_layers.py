"""The package's shape: imports point down the layers, every module imports on its own, light layers stay light."""
from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import evonas
import operators
import problems

REPO = Path(__file__).resolve().parents[1]

#: bottom to top; a module may import from its own layer and the layers below it, never above.
#: A name matches itself and the modules below it; "=name" matches that module alone and wins.
#: The score registry (names, directions, settings: no torch) sits below config, which checks
#: objectives and score settings through it; the scores themselves sit above nn.
LAYERS = (
    ("evonas.errors", "evonas.files", "evonas.strict", "evonas.data"),
    ("evonas.space", "evonas.datasets"),
    ("=evonas.scores", "=evonas.scores.registry", "=evonas.scores.catalog", "=evonas.scores.settings",
     "=evonas.scores.reference"),
    ("evonas.config",),
    ("evonas.nn",),
    ("evonas.scores",),
    ("evonas.engine",),
    ("evonas.run",),
    ("problems", "operators", "evonas.search"),
    ("evonas.analysis",),
    ("evonas.viz",),
    ("evonas.train",),
    ("evonas.cli", "evonas.__main__", "evonas.builders"),
)
#: what `evonas pick` and `evonas plot` load: none of it may import torch, fvcore or ray
LIGHT = ("evonas.errors", "evonas.files", "evonas.strict", "evonas.space", "evonas.datasets", "evonas.config",
         "evonas.scores.registry", "evonas.scores.catalog", "evonas.scores.settings", "evonas.engine.records",
         "evonas.engine.placement", "evonas.engine.scheduler", "evonas.engine.cellwork", "evonas.engine.cluster",
         "evonas.run",
         "evonas.search.dominance", "evonas.search.shortlist", "evonas.search.trained_front", "evonas.search.rungs",
         "evonas.search.steady",
         "evonas.analysis",
         "evonas.viz")
HEAVY = ("torch", "fvcore", "ray")


def _modules() -> list[str]:
    names = [evonas.__name__, problems.__name__, operators.__name__]
    for pkg in (evonas, problems, operators):
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    return sorted(names)


MODULES = _modules()


def _layer(module: str) -> int | None:
    best = None
    for rank, names in enumerate(LAYERS):
        if "=" + module in names:
            return rank
        for p in names:
            if module == p or module.startswith(p + "."):
                if best is None or len(p) > best[1]:
                    best = (rank, len(p))
    return None if best is None else best[0]


def _path(module: str) -> Path:
    rel = Path(*module.split("."))
    pkg = REPO / rel / "__init__.py"
    return pkg if pkg.exists() else REPO / rel.with_suffix(".py")


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:`` (hints only) and a package's lazy ``__getattr__``
    (the public names it re-exports on first use)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(module: str) -> set[str]:
    """Every evonas/problems/operators module ``module`` imports at run time, at module level or inside functions."""
    tree = ast.parse(_path(module).read_text())
    package = module if _path(module).name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
    return {m for m in found if m.split(".")[0] in ("evonas", "problems", "operators")}


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if m != "evonas" and _layer(m) is None] == []


@pytest.mark.parametrize("module", [m for m in MODULES if m != "evonas"])
def test_imports_point_down_the_layers(module: str) -> None:
    own = _layer(module)
    upward = sorted(m for m in _imports(module) if m != "evonas" and (_layer(m) or 0) > own)
    assert upward == [], f"{module} (layer {own}) imports from layers above it: {upward}"


def test_the_public_api_names_modules_that_exist() -> None:
    import importlib
    import inspect

    assert sorted(evonas._EXPORTS) == evonas.__all__
    for name in evonas.__all__:
        home = evonas._EXPORTS[name]
        assert home.startswith("evonas."), (name, home)
        value = getattr(evonas, name)
        assert not inspect.ismodule(value), f"evonas.{name} is a module, not the object {home}.{name}"
        assert value is getattr(importlib.import_module(home), name), f"evonas.{name} is not {home}.{name}"
        if hasattr(value, "__module__") and not isinstance(value, dict):  # classes, functions (SCORES is a dict)
            defined_in = sys.modules[value.__module__]
            assert defined_in.__name__.split(".")[0] == "evonas", (name, value.__module__)
            assert defined_in.__name__ == home or defined_in.__name__.startswith(home + "."), (name, value.__module__)
            assert getattr(defined_in, value.__name__) is value
    with pytest.raises(AttributeError, match="no_such_name"):
        evonas.no_such_name  # noqa: B018


def test_every_module_imports_on_its_own() -> None:
    """Each module imported into a process holding none of the package (third-party libraries preloaded)."""
    script = f"""
import importlib, json, sys, traceback
import numpy, torch, pymoo, matplotlib, yaml  # noqa: F401  (third-party: loaded once, kept)
failures = {{}}
for name in {[m for m in MODULES if not m.endswith("__main__")]!r}:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("evonas", "problems", "operators")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failures[name] = traceback.format_exc(limit=3)
print(json.dumps(failures))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    failures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert failures == {}, "\n".join(f"{k}:\n{v}" for k, v in failures.items())


def test_the_light_layers_import_no_torch_fvcore_or_ray() -> None:
    light = [m for m in MODULES if any(m == p or m.startswith(p + ".") for p in LIGHT)]
    script = f"""
import importlib, json, sys
for name in {light!r}:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
