"""Read a run configuration: YAML in, ``--set`` overrides applied, a validated ``Config`` out (and back to YAML).

``--set a.b=value`` overrides apply to the YAML before validation, so they are checked the
same way as the file's own keys; an error in a value one of them gave names that ``--set``, not the file
(``blame``, which names a command's flags that stand for config keys the same way). The config's
``plugins`` (the user's modules that register scores or data formats) are imported first, so that its
objectives and settings can name what they register; ``PLUGINS`` keeps what this process imported, for
the Ray workers it starts (``evonas.engine.cluster``).
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import re
import sys
import sysconfig
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from evonas.config.schema import Config
from evonas.strict import from_mapping, to_mapping
from evonas.errors import ConfigError, EvonasError

__all__ = ["load_config", "config_from_mapping", "apply_overrides", "override_sources", "blame", "yaml_problem",
           "dump_config", "PLUGINS", "import_plugins", "import_plugin", "import_in_worker", "plugin_entry"]


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {'.'.join(keys[:depth + 1])} is not a mapping")
        node = child
    node[keys[-1]] = value


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (``expected ',' or ']' ... at line 2, column 1``)."""
    problem, mark = getattr(err, "problem", None), getattr(err, "problem_mark", None)
    if problem is None:
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    context = getattr(err, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return (f"{context}: " if context else "") + problem + where


def apply_overrides(data: Mapping[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` strings (values parsed as YAML) to a copy of ``data``."""
    tree = copy.deepcopy(dict(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. search.pop_size=20")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({yaml_problem(err)})") from None
        _set_path(tree, key.strip(), value)
    return tree


def override_sources(overrides: Iterable[str]) -> dict[str, str]:
    """Each key ``--set`` items set, mapped to the item as given (``--set search.pop_size=2``), for ``blame``;
    a key set twice maps to its last item (the one that counts), and comes last."""
    sources: dict[str, str] = {}
    for item in overrides:
        key, sep, _ = item.partition("=")
        if sep and key.strip():
            sources.pop(key.strip(), None)
            sources[key.strip()] = f"--set {item}"
    return sources


#: the config key an error message names first: ``search.pop_size: ...``, ``data.root '/x' is not ...``
_NAMED_KEY = re.compile(r"([A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*)(?=[:\s])")


def blame(err: EvonasError, sources: Mapping[str, str]) -> EvonasError | None:
    """``err`` put on the source of the config key its message names, or None when no source gave that key.

    ``sources`` maps config keys to where their values came from: ``override_sources``' ``--set`` items, or a
    command's flags (``{"data.resolution": "--resolution 5"}``). A source whose key is the key named, or lies
    above or below it (``--set search`` for ``search.pop_size``, ``--set search.max_evals`` for ``search: ...``)
    takes the blame: the key itself first, then one the message spells out, then the last given. The message
    starts with the source, which stands in for the key when it is the source's own (``--set search.pop_size=2:
    2 is out of range ...``)."""
    message = str(err)
    found = _NAMED_KEY.match(message)
    if found is None:
        return None
    named = found.group(1)
    related = [k for k in sources if named == k or named.startswith((f"{k}.", f"{k}[")) or k.startswith(f"{named}.")]
    if not related:
        return None
    key = max(related, key=lambda k: (k == named, k in message, related.index(k)))
    rest = message[len(named) + 2:] if key == named and message.startswith(f"{named}: ") else message
    return type(err)(f"{sources[key]}: {rest}")


#: keys earlier versions wrote into every run's config.yaml, with the one value they ever took: dropped on
#: reading, so that an older run directory still loads (any other value is refused as an unknown key)
RETIRED = {("search", "algorithm"): "nsga2"}


#: the plugins this process imported: module name -> the local file or package folder Ray workers are sent
#: (``py_modules``), or None for an installed module (every node has its own)
PLUGINS: dict[str, str | None] = {}


def _is_path(entry: str) -> bool:
    return entry.endswith(".py") or "/" in entry


def plugin_entry(entry: str) -> str:
    """A plugin as a worker elsewhere can import it: a path made absolute, a module name as it is."""
    return str(Path(entry).expanduser().resolve()) if _is_path(entry) else entry


def _module_name(entry: str) -> str:
    return Path(entry).stem if _is_path(entry) else entry


def _load_file(entry: str, name: str) -> Any:
    """Import the .py file or package folder ``entry`` as module ``name`` (once; another module of that name is
    an error: its workers would import the wrong one)."""
    path = Path(entry).expanduser()
    target = path / "__init__.py" if path.is_dir() else path
    if not target.is_file():
        raise FileNotFoundError(f"no {'package folder' if path.is_dir() else 'file'} {target}")
    taken = sys.modules.get(name)
    if taken is None:
        found = importlib.util.find_spec(name)
        origin = found.origin if found is not None else None
    else:
        origin = getattr(taken, "__file__", None)
    if origin is not None and Path(origin).resolve() != target.resolve():
        raise ImportError(f"its module name {name!r} is taken by {origin}; rename it")
    if taken is not None:
        return taken
    spec = importlib.util.spec_from_file_location(name, target, submodule_search_locations=[str(path)]
                                                  if path.is_dir() else None)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _installed(where: Path) -> bool:
    """Whether ``where`` is in Python's own library or where packages are installed."""
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return bool({"site-packages", "dist-packages"} & set(where.parts)) or any(
        where.is_relative_to(Path(root).resolve()) for root in roots)


def _shipped(module: Any) -> str | None:
    """The local file or package folder of ``module``'s top-level package, to send to Ray workers; None when
    it is Python's own, installed, or evonas (every node has its own)."""
    top = module.__name__.partition(".")[0]
    root = sys.modules.get(top, module)
    paths = list(getattr(root, "__path__", None) or [])
    where = Path(paths[0]) if paths else Path(root.__file__) if getattr(root, "__file__", None) else None
    if top == "evonas" or where is None or _installed(where.resolve()):
        return None
    return str(where.resolve())


def import_plugin(entry: str, key: str = "plugins") -> str:
    """Import plugin ``entry`` in this process: a module name, a .py file or a package folder; its module name.

    A path is imported under its file or folder name. What fails is one ``ConfigError`` naming the plugin
    (``key``) and the cause.
    """
    name = _module_name(entry)
    try:
        module = _load_file(entry, name) if _is_path(entry) else importlib.import_module(entry)
    except Exception as err:
        raise ConfigError(f"{key}: {entry!r} cannot be imported: {type(err).__name__}: {err}") from None
    PLUGINS[name] = _shipped(module)
    return name


def import_in_worker(entry: str) -> None:
    """Import plugin ``entry`` (as ``plugin_entry`` gives it) in a scoring worker: by module name (the copy sent
    with the job's ``py_modules``, or an installed one), else from its path where this machine has it."""
    name = _module_name(entry)
    if name in sys.modules:
        return
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name or not _is_path(entry) or not Path(entry).exists():
            raise
        _load_file(entry, name)


def import_plugins(entries: Iterable[str]) -> tuple[str, ...]:
    """Import each plugin of a config's ``plugins`` (``import_plugin``); their module names."""
    return tuple(import_plugin(e, f"plugins[{i}]") for i, e in enumerate(entries))


def config_from_mapping(data: Mapping[str, Any] | None) -> Config:
    """A checked ``Config`` from plain data; its ``plugins`` are imported first (``import_plugins``)."""
    tree = copy.deepcopy(dict(data or {}))
    plugins = tree.get("plugins") or []
    if not isinstance(plugins, (list, tuple)) or not all(isinstance(p, str) for p in plugins):
        raise ConfigError(f"plugins: expected a list of module names, .py files or package folders, got {plugins!r}")
    import_plugins(plugins)
    for (section, key), value in RETIRED.items():
        node = tree.get(section)
        if isinstance(node, dict) and node.get(key) == value:
            del node[key]
    return from_mapping(Config, tree)


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read, override and validate a YAML config; every problem is one ``ConfigError``."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:  # any readable path, read once: a file, or a pipe such as the shell's <(...)
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {str(path)!r} cannot be read ({type(err).__name__}: {err})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    tree = apply_overrides(data, overrides or [])  # its own errors name the --set item
    try:
        return config_from_mapping(tree)
    except ConfigError as err:  # on the --set that gave the value, else on the file
        raise blame(err, override_sources(overrides or [])) or ConfigError(f"{path}: {err}") from None


def dump_config(config: Config) -> str:
    """The resolved config as YAML (every default written out)."""
    return yaml.safe_dump(to_mapping(config), sort_keys=False)
