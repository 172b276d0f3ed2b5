"""The score registry: torch-free metadata, functions resolved on first call, exclusive scores kept apart."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from evonas.errors import ConfigError
from evonas.scores import (SCORES, ScoreContext, exclusive_scores, get_score, invalid_value, register_score,
                           split_exclusive)
from evonas.scores.registry import resolve
from evonas.space.cell import Cell
from evonas.datasets import dataset_spec

BUILTIN = ["fisher", "flops", "grad_norm", "gradient_kernel", "gradient_kernel_agg", "grasp", "jacob_cov", "knas",
           "knas_fast", "latency", "latency_table", "linear_regions", "naswot", "ntk_cond", "params", "snip",
           "synflow", "valid_12ep"]


def test_the_built_in_scores_are_all_registered():
    assert set(BUILTIN) <= set(SCORES)


def test_reading_the_registry_imports_no_torch(subprocess_env):
    code = ("import sys; from evonas.scores import SCORES, get_score, make_settings; "
            "[make_settings(n) for n in SCORES if n != 'gradient_kernel_agg']; "
            "make_settings('gradient_kernel_agg').n_images; "
            "bad = {'torch', 'fvcore', 'ray'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env=subprocess_env)


@pytest.mark.parametrize("name", BUILTIN)
def test_catalog_entries_name_their_function_and_its_docstring(name):
    info = SCORES[name]
    assert isinstance(info.fn, str) and info.fn == f"{info.fn.partition(':')[0]}:{name}"
    fn = info.function
    assert fn is resolve(info.fn) and fn.__name__ == name
    assert info.description == fn.__doc__.strip().splitlines()[0]


def test_a_registered_function_is_called_with_its_default_settings():
    name = "test_registry_constant"

    def constant(ctx, settings) -> float:
        """Always 2."""
        return 2

    try:
        assert register_score(name, direction="min")(constant) is constant
        info = get_score(name)
        assert info.function is constant and info.description == "Always 2." and not info.exclusive
        assert info(ScoreContext(Cell.from_index(0), torch.device("cpu"), dataset_spec("cifar10"))) == 2.0
        with pytest.raises(ValueError, match="registered twice"):
            register_score(name, direction="min")(constant)
    finally:
        SCORES.pop(name, None)


def test_a_reference_needs_a_description_and_bad_metadata_is_refused():
    with pytest.raises(ValueError, match="needs a description"):
        register_score("test_registry_ref", direction="max")("evonas.scores.cost:flops")
    with pytest.raises(ValueError, match="direction"):
        register_score("test_registry_bad", direction="up")
    with pytest.raises(ValueError, match="version"):
        register_score("test_registry_bad", direction="max", version=0)
    with pytest.raises(ValueError, match="valid_range"):
        register_score("test_registry_bad", direction="max", valid_range=(1, 0))
    assert "test_registry_ref" not in SCORES and "test_registry_bad" not in SCORES


def test_unknown_scores_are_config_errors_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"unknown score 'knsa' \(did you mean 'knas'\?\)"):
        get_score("knsa")


def test_invalid_values():
    assert invalid_value("ntk_cond", 0.99) == "ntk_cond = 0.99 is outside its valid range [1, inf]"
    assert invalid_value("flops", float("nan")) == "flops = nan is not finite" and invalid_value("flops", 3.0) is None


def test_split_exclusive_keeps_timing_scores_apart() -> None:
    assert SCORES["latency"].exclusive and not SCORES["latency_table"].exclusive
    assert "latency" in exclusive_scores() and "latency_table" not in exclusive_scores()
    assert split_exclusive(["gradient_kernel", "latency", "flops"]) == (("gradient_kernel", "flops"), ("latency",))
    assert split_exclusive(("synflow", "flops")) == (("synflow", "flops"), ())


def test_register_score_takes_a_version():
    @register_score("test_versioned", direction="max", version=3)
    def versioned(ctx, settings):
        return 1.0

    try:
        assert SCORES["test_versioned"].version == 3 and SCORES["flops"].version == 1
    finally:
        del SCORES["test_versioned"]


def test_a_registered_valid_range_is_checked_where_values_are_used():
    assert invalid_value("ntk_cond", 0.99) == "ntk_cond = 0.99 is outside its valid range [1, inf]"
    assert invalid_value("flops", -1.0) is None and invalid_value("flops", float("inf")) is not None
    with pytest.raises(ValueError, match="low <= high"):
        register_score("test_bad_range", direction="min", valid_range=(2.0, 1.0))
