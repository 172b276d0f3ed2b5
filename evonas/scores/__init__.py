"""Training-free scores and cost measures, all behind one registry (``SCORES``)."""
from __future__ import annotations

from evonas.scores.registry import (SCORES, NoSettings, ScoreContext, ScoreInfo, get_score,
                                     make_settings, register_score)
from evonas.scores import cost as _cost  # noqa: F401  (registers params, flops)
from evonas.scores import knas as _knas  # noqa: F401  (registers knas)
from evonas.scores import zero_cost as _zero_cost  # noqa: F401  (registers the zero-cost proxies, naswot)
from evonas.scores import tenas as _tenas  # noqa: F401  (registers ntk_cond, linear_regions)
from evonas.scores import knas_fast as _knas_fast  # noqa: F401  (registers knas_fast)
from evonas.scores import gradient_kernel as _gradient_kernel  # noqa: F401  (registers gradient_kernel)
from evonas.scores import latency as _latency  # noqa: F401  (registers latency, latency_table)
from evonas.scores import table_scores as _table_scores  # noqa: F401  (registers valid_12ep)
from evonas.scores import aggregate as _aggregate  # noqa: F401  (registers gradient_kernel_agg)

__all__ = ["SCORES", "ScoreContext", "ScoreInfo", "NoSettings", "get_score", "make_settings", "register_score"]
