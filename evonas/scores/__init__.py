"""Training-free scores and cost measures, all behind one registry (``SCORES``); importing it loads no torch.

The registry and the catalog of built-in scores are metadata: a score's family module (and
with it torch) is imported on the score's first call. ``ScoreContext``, what a score is
given, lives in ``evonas.scores.context`` and is imported from here on first use.
"""
from __future__ import annotations

from typing import Any

from evonas.scores.registry import (SCORES, NoSettings, ScoreInfo, exclusive_scores, get_score, invalid_value,
                                    make_settings, register_score, split_exclusive)
from evonas.scores import catalog as _catalog  # noqa: F401  (registers the built-in scores)

__all__ = ["SCORES", "ScoreContext", "ScoreInfo", "NoSettings", "get_score", "make_settings", "register_score",
           "invalid_value", "split_exclusive", "exclusive_scores"]


def __getattr__(name: str) -> Any:
    if name == "ScoreContext":  # torch: imported only when asked for
        from evonas.scores.context import ScoreContext

        return ScoreContext
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
