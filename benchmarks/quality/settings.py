"""Search settings by name (named, ``SCORE+SCORE[+...]``, ``random-SCORE``) and the config each searches with.

Shared by ``search_quality.py --settings`` and ``fill_cache.py --setting``: one syntax, one parser.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from benchmarks._common import parse_score_settings
from evonas.config.load import config_from_mapping
from evonas.config.schema import Config
from evonas.strict import to_mapping
from evonas.errors import ConfigError
from evonas.scores import get_score



@dataclass(frozen=True)
class Setting:
    """A way of searching: NSGA-II (or uniform random sampling) over these scores."""

    scores: tuple[str, ...]
    random: bool = False


SETTINGS: dict[str, Setting] = {
    "knas+flops": Setting(("knas", "flops")),
    "synflow+flops": Setting(("synflow", "flops")),
    "tfmoenas": Setting(("ntk_cond", "linear_regions", "flops")),
    "params+flops": Setting(("params", "flops")),
    "random": Setting(("knas", "flops"), random=True),
    "random-synflow": Setting(("synflow", "flops"), random=True),
    "valid12+flops": Setting(("valid_12ep", "flops")),
}
#: how a setting is named, for --help
SETTINGS_HELP = f"one of {list(SETTINGS)}, SCORE+SCORE[+...] (any registered scores) or random-SCORE"
#: short names accepted in a ``+`` setting
ALIASES = {"valid12": "valid_12ep"}


def resolve_setting(name: str) -> Setting:
    """A named setting, ``SCORE+SCORE[+...]`` (NSGA-II over those scores) or ``random-SCORE`` (sampling, with flops)."""
    if name in SETTINGS:
        return SETTINGS[name]
    random = name.startswith("random-")
    parts = [ALIASES.get(s, s) for s in (name[len("random-"):] + "+flops" if random else name).split("+")]
    if len(parts) < 2 or not all(parts):
        raise ConfigError(f"unknown setting {name!r}; choose from {list(SETTINGS)}, or join scores by '+' "
                          f"(e.g. gradient_kernel+flops), or random-SCORE")
    for score in parts:
        get_score(score)  # an unknown score fails here, naming the registered ones
    return Setting(tuple(parts), random=random)


def setting_config(base: Config, setting: Setting, score_settings: dict[str, dict[str, Any]],
                   rename: dict[str, str]) -> Config:
    """The base config with the setting's objectives (scores renamed, e.g. knas -> knas_fast)."""
    tree = to_mapping(base)
    names = [rename.get(s, s) for s in setting.scores]
    tree["objectives"] = [{"score": n} for n in names]
    for key in ("rank_by", "band_by"):  # the base config's shortlist scores, where this setting has them
        if tree["train"].get(key) not in (*names, "ranks"):
            tree["train"][key] = None
    tree["scores"] = {n: {**base.scores.get(s, {}), **score_settings.get(n, {})}
                      for s, n in zip(setting.scores, names) if base.scores.get(s) or score_settings.get(n)}
    return config_from_mapping(tree)


def config_for(base: Config, name: str, score_set: Sequence[str], knas_score: str) -> Config:
    """The config setting ``name`` searches with: ``--score-set`` items applied, knas computed by ``knas_score``."""
    return setting_config(base, resolve_setting(name), parse_score_settings(score_set), {"knas": knas_score})
