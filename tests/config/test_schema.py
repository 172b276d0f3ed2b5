"""The config schema: the objective sign, the data set names, and no torch behind it."""
from __future__ import annotations

import subprocess
import sys

import pytest

from evonas.config import ObjectiveConfig, TrainSettings, minimise_sign
from evonas.config.load import config_from_mapping
from evonas.config.schema import DATASET_NAMES
from evonas.errors import ConfigError
from evonas.datasets import CUSTOM, DATASETS


def test_minimise_sign_is_plus_one_for_min_and_minus_one_for_max():
    assert minimise_sign("min") == 1.0 and minimise_sign("max") == -1.0
    with pytest.raises(ValueError, match="'max' or 'min'"):
        minimise_sign("up")


def test_objective_sign_follows_its_direction_or_the_score_s_own():
    assert ObjectiveConfig("flops").sign == 1.0 and ObjectiveConfig("synflow").sign == -1.0
    assert ObjectiveConfig("flops", "max").sign == -1.0
    assert ObjectiveConfig("flops").direction == "min"


def test_the_data_set_names_are_the_dataset_registry_s_and_custom():
    assert DATASET_NAMES == (*DATASETS, CUSTOM)
    with pytest.raises(ConfigError, match=r"train.dataset: unknown data set 'cifar1000' \(did you mean 'cifar100'\?\)"):
        config_from_mapping({"train": {"dataset": "cifar1000"}})
    assert config_from_mapping({"train": {"dataset": "cifar100"}}).train.dataset == "cifar100"


def test_the_config_makes_its_data_set_s_spec_once():
    config = config_from_mapping({"dataset": "imagenet16-120"})
    assert config.dataset_spec is config.dataset_spec and config.dataset_spec == DATASETS["imagenet16-120"]
    assert config == config_from_mapping({"dataset": "imagenet16-120"})  # the cached spec is no field


def test_train_settings_are_checked_where_they_are_declared():
    assert TrainSettings().epochs == 200
    with pytest.raises(ConfigError, match="warmup_epochs"):
        TrainSettings(epochs=2, warmup_epochs=2)


def test_reading_a_config_imports_no_torch(subprocess_env, repo):
    code = ("import sys; from evonas.config import load_config; load_config('configs/nb201_pareto.yaml'); "
            "import evonas.scores; bad = {'torch', 'fvcore', 'ray'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env=subprocess_env, cwd=repo)
