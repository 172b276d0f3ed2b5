"""Loading configs: every shipped file loads; bad input is one clear error naming the key."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO
from evonas.config.load import apply_overrides, config_from_mapping, dump_config, load_config
from evonas.errors import ConfigError
from evonas.scores.registry import make_settings

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def test_there_are_configs():
    names = {p.name for p in CONFIGS}
    assert {"nb201_pareto.yaml", "smoke.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_loads_and_round_trips(path: Path):
    config = load_config(path)
    import yaml

    again = config_from_mapping(yaml.safe_load(dump_config(config)))
    assert again == config


def test_main_config_searches_az_nas_gk_at_its_defaults_and_the_paper_config_is_knas():
    config = load_config(REPO / "configs" / "nb201_pareto.yaml")
    assert [(o.score, o.direction) for o in config.objectives] == [
        ("az_nas_gk", "max"), ("synflow", "max"), ("flops", "min")]
    assert make_settings("az_nas_gk", config.scores.get("az_nas_gk")).half_images is False  # the 10-seed figures' settings
    tc = config.train
    assert (tc.candidates, tc.bands_cut, tc.bands_over, tc.rank_by) == ("bands", "levels", "scored", "ranks")
    assert config.train_band_by.score == "flops" and config.train_rank_by is None
    assert (config.network.C, config.network.N) == (16, 5)
    assert config.data.root is None
    paper = load_config(REPO / "configs" / "knas_paper.yaml")
    assert [(o.score, o.direction) for o in paper.objectives] == [("knas", "max"), ("flops", "min")]
    s = paper.scores["knas"]
    assert (s["n_batches"], s["batch_size"]) == (50, 1)


def test_overrides_apply_and_are_validated():
    path = REPO / "configs" / "smoke.yaml"
    config = load_config(path, ["search.pop_size=20", "search.n_gen=5", "ray.backend=serial"])
    assert (config.search.pop_size, config.search.n_gen, config.ray.backend) == (20, 5, "serial")
    with pytest.raises(ConfigError, match=r"^--set search.pop_size=many: expected an integer, got 'many'$"):
        load_config(path, ["search.pop_size=many"])
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        apply_overrides({}, ["search.pop_size"])


@pytest.mark.parametrize("data,message", [
    ({"serch": {}}, r"serch: unknown key \(did you mean 'search'\?\)"),
    ({"search": {"pop_sise": 3}}, r"search.pop_sise: unknown key \(did you mean 'pop_size'\?\)"),
    ({"search": {"pop_size": 2}}, r"search.pop_size: 2 is out of range; allowed: >= 4"),
    ({"search": {"pop_size": True}}, r"search.pop_size: expected an integer, got True"),
    ({"dataset": "cifar"}, r"dataset: unknown data set 'cifar' \(did you mean 'cifar10'\?\); choose from \['cifar10', "
                           r"'cifar100', 'imagenet16-120', 'custom'\]"),
    ({"device": "tpu"}, r"device: 'tpu' is not allowed"),
    ({"objectives": [{"score": "knsa"}, {"score": "flops"}]}, r"objectives\[0\]: unknown score 'knsa' \(did you mean 'knas'\?\)"),
    ({"objectives": [{"score": "knas"}]}, r"at least 2"),
    ({"scores": {"knas": {"n_batch": 3}}}, r"scores.knas.n_batch: unknown key \(did you mean 'n_batches'\?\)"),
    ({"scores": {"knas": {"n_batches": 3}}}, r"scores.knas.n_batches: 3 is out of range; allowed: an even integer >= 2"),
    ({"ray": {"max_retries": -1}}, r"ray.max_retries: -1 is out of range"),
    ({"ray": {"task_timeout_s": 0}}, r"ray.task_timeout_s: 0.0 is out of range; allowed: > 0"),
    ({"ray": {"start_timeout_s": "long"}}, r"ray.start_timeout_s: expected a number, got 'long'"),
    ({"search": 5}, r"search: expected a mapping"),
])
def test_bad_values_name_the_key_and_the_allowed_values(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(data)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("search: [1, 2\n")
    with pytest.raises(ConfigError, match=r"not valid YAML: while parsing a flow sequence: expected ',' or ']', "
                                          r"but got '<stream end>' at line 2, column 1$"):  # one line
        load_config(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(top)


def test_ray_places_gpu_actors_with_cpu_actors_beside_them_by_default():
    from evonas.config.load import config_from_mapping

    ray = config_from_mapping({}).ray
    assert (ray.actors_per_gpu, ray.cpu_actors) == (2, "auto")
    assert config_from_mapping({"ray": {"cpu_actors": 0}}).ray.cpu_actors == 0
    for bad, match in (({"cpu_actors": -1}, "ray.cpu_actors.*>= 0 or auto"), ({"cpu_actors": "all"}, "ray.cpu_actors"),
                       ({"actors_per_gpu": 0}, "ray.actors_per_gpu.*>= 1")):
        with pytest.raises(ConfigError, match=match):
            config_from_mapping({"ray": bad})


def test_an_older_runs_retired_key_is_dropped_and_any_other_value_refused():
    """Older run directories wrote ``search.algorithm: nsga2``; they still load, a typo'd algorithm does not."""
    assert config_from_mapping({"search": {"algorithm": "nsga2", "pop_size": 12}}).search.pop_size == 12
    with pytest.raises(ConfigError, match="search.algorithm"):
        config_from_mapping({"search": {"algorithm": "moead"}})


def test_an_error_in_a_value_a_set_gave_names_that_set_not_the_file(tmp_path):
    path = REPO / "configs" / "smoke.yaml"
    with pytest.raises(ConfigError, match=r"^--set search.pop_size=2: 2 is out of range; allowed: >= 4$"):
        load_config(path, ["search.pop_size=2"])
    with pytest.raises(ConfigError, match=r"^--set search.pop_size=1: 1 is out of range"):  # the last one counts
        load_config(path, ["search.pop_size=20", "search.n_gen=2", "search.pop_size=1"])
    with pytest.raises(ConfigError, match=r"^--set scores.knas=\{n_batches: 3\}: scores.knas.n_batches: 3 is out"):
        load_config(path, ["scores.knas={n_batches: 3}"])  # a key below the one set
    with pytest.raises(ConfigError, match=r"^--set search.max_evals=3: search: search.max_evals: 3"):
        load_config(path, ["search.n_gen=2", "search.max_evals=3"])  # a key above: the --set the message names
    bad = tmp_path / "bad.yaml"
    bad.write_text("search: {pop_size: 2}\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(bad))}: search.pop_size: 2 is out of range"):
        load_config(bad, ["search.n_gen=3"])  # the file's own value: the file's


def test_blame_puts_an_error_on_the_flag_that_gave_the_value():
    from evonas.config.load import blame
    from evonas.errors import DataError

    flags = {"data.root": "--data-root /x", "data.resolution": "--resolution 5"}
    err = blame(DataError("data.root '/x' is not a directory"), flags)
    assert isinstance(err, DataError) and str(err) == "--data-root /x: data.root '/x' is not a directory"
    assert str(blame(ConfigError("data.resolution: 5 does not suit"), flags)) == "--resolution 5: 5 does not suit"
    assert blame(ConfigError("search.pop_size: 2 is out of range"), flags) is None
    assert blame(ConfigError("unknown dataset 'x'"), flags) is None
