"""The config schema: the objective sign, the data set names, and no torch behind it."""
from __future__ import annotations

import subprocess
import sys
import typing

import pytest

from evonas.config import ObjectiveConfig, TrainSettings, minimise_sign
from evonas.config.schema import Dataset
from evonas.errors import ConfigError
from evonas.space.datasets import CUSTOM, DATASETS


def test_minimise_sign_is_plus_one_for_min_and_minus_one_for_max():
    assert minimise_sign("min") == 1.0 and minimise_sign("max") == -1.0
    with pytest.raises(ValueError, match="'max' or 'min'"):
        minimise_sign("up")


def test_objective_sign_follows_its_direction_or_the_score_s_own():
    assert ObjectiveConfig("flops").sign == 1.0 and ObjectiveConfig("synflow").sign == -1.0
    assert ObjectiveConfig("flops", "max").sign == -1.0
    assert ObjectiveConfig("flops").direction == "min"


def test_the_dataset_literal_names_the_dataset_registry_and_custom():
    assert typing.get_args(Dataset) == (*DATASETS, CUSTOM)


def test_train_settings_are_checked_where_they_are_declared():
    assert TrainSettings().epochs == 200
    with pytest.raises(ConfigError, match="warmup_epochs"):
        TrainSettings(epochs=2, warmup_epochs=2)


def test_reading_a_config_imports_no_torch(subprocess_env, repo):
    code = ("import sys; from evonas.config import load_config; load_config('configs/nb201_pareto.yaml'); "
            "import evonas.scores; bad = {'torch', 'fvcore', 'ray'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env=subprocess_env, cwd=repo)
