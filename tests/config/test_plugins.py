"""A config's ``plugins`` (the user's modules that register scores) and ``ray.runtime_env``: imported before the
config is checked, carried to the workers, and one clear error for what fails."""
from __future__ import annotations

import sys

import pytest
import yaml

from evonas.cli import main
from evonas.config.load import PLUGINS, config_from_mapping, dump_config, load_config
from evonas.engine.cluster import job_runtime_env
from evonas.engine.pool import SerialPool
from evonas.engine.records import ScorerSpec
from evonas.errors import ConfigError
from evonas.scores import SCORES
from evonas.space.cell import Cell

SCORE = '''\
import evonas


@evonas.register_score({name!r}, direction="max")
def score(ctx, settings) -> float:
    """The cell's index, doubled."""
    return 2.0 * ctx.cell.index
'''


@pytest.fixture(autouse=True)
def _plugins_as_they_were():
    """What a test's configs import stays this test's (``PLUGINS`` is this process's record)."""
    before = dict(PLUGINS)
    yield
    PLUGINS.clear()
    PLUGINS.update(before)


@pytest.fixture
def plugin(tmp_path, request):
    """A plugin file registering a score; its module, score and record are removed after the test."""
    module = f"plugin_{request.node.name.split('[')[0][-24:]}"
    name = f"score_of_{module}"
    path = tmp_path / "mine" / f"{module}.py"
    path.parent.mkdir()
    path.write_text(SCORE.format(name=name))
    yield path, module, name
    SCORES.pop(name, None)
    sys.modules.pop(module, None)


def _config(plugins, score: str = "flops", **more):
    return config_from_mapping({"plugins": plugins, "network": {"C": 8, "N": 1},
                                "objectives": [{"score": score}, {"score": "params"}], **more})


def test_a_plugin_file_registers_its_score_before_the_objectives_are_checked(plugin, monkeypatch):
    path, module, name = plugin
    monkeypatch.chdir(path.parent.parent)
    config = _config([f"mine/{module}.py"], name)
    again = config_from_mapping(yaml.safe_load(dump_config(config)))  # read twice: imported once, no error
    assert again == config and config.plugins == (f"mine/{module}.py",)
    assert PLUGINS[module] == str(path)  # its file is what the Ray workers are sent
    spec = ScorerSpec.from_config(config)
    assert spec.plugins == (str(path),)  # absolute: a worker elsewhere has another working directory
    ev = next(SerialPool(spec).map_unordered([Cell.from_index(6111)]))
    assert ev.values[name] == 2.0 * 6111


def test_an_installed_module_is_a_plugin_and_is_not_shipped():
    config = _config(["json"])
    assert config.plugins == ("json",) and PLUGINS["json"] is None
    assert not any("json" in path for path in (job_runtime_env(None) or {}).get("py_modules", []))


@pytest.mark.parametrize("source,cause", [
    ("1 / 0\n", "ZeroDivisionError: division by zero"),
    ("import no_such_module_here\n", "ModuleNotFoundError: No module named 'no_such_module_here'"),
])
def test_a_plugin_that_fails_to_import_is_one_error_naming_it_and_the_cause(tmp_path, source, cause, capsys):
    (tmp_path / "broken.py").write_text(source)
    (tmp_path / "run.yaml").write_text(f"plugins: [json, {tmp_path / 'broken.py'}]\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "run.yaml")
    assert str(err.value) == f"{tmp_path / 'run.yaml'}: plugins[1]: {str(tmp_path / 'broken.py')!r} cannot be " \
                             f"imported: {cause}"
    assert "broken" not in sys.modules
    assert main(["--config", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == f"evonas: error: {err.value}\n"


def test_a_plugin_named_like_another_module_or_missing_is_refused(tmp_path):
    (tmp_path / "json.py").write_text("X = 1\n")
    with pytest.raises(ConfigError, match=r"plugins\[0\]: '.*json.py' cannot be imported: ImportError: its module "
                                          r"name 'json' is taken by .*json.*; rename it"):
        _config([str(tmp_path / "json.py")])
    with pytest.raises(ConfigError, match=r"plugins\[0\]: 'nowhere/x.py' cannot be imported: FileNotFoundError"):
        _config(["nowhere/x.py"])
    with pytest.raises(ConfigError, match=r"plugins: expected a list of module names, .py files or package "
                                          r"folders, got 'json'"):
        _config("json")


def test_the_runtime_env_takes_rays_keys_and_refuses_others_by_name():
    env = {"pip": ["numpy"], "py_modules": ["/opt/mine"], "working_dir": ".", "env_vars": {"OMP_NUM_THREADS": "1"}}
    config = _config([], ray={"runtime_env": env})
    assert config.ray.runtime_env.as_ray() == env and job_runtime_env(config.ray.runtime_env) == env
    assert config_from_mapping(yaml.safe_load(dump_config(config))) == config
    assert _config([], ray={"runtime_env": {"pip": "requirements.txt"}}).ray.runtime_env.as_ray() == {
        "pip": "requirements.txt"}
    with pytest.raises(ConfigError, match=r"^ray.runtime_env.pipp: unknown key \(did you mean 'pip'\?\); allowed "
                                          r"keys: \['env_vars', 'pip', 'py_modules', 'working_dir'\]$"):
        _config([], ray={"runtime_env": {"pipp": ["numpy"]}})
    with pytest.raises(ConfigError, match=r"^ray.runtime_env.env_vars.OMP_NUM_THREADS: expected a string, got 1$"):
        _config([], ray={"runtime_env": {"env_vars": {"OMP_NUM_THREADS": 1}}})


def test_the_jobs_runtime_env_adds_the_plugins_files_to_py_modules(plugin):
    path, module, _ = plugin
    _config([str(path)])
    env = job_runtime_env({"py_modules": ["/opt/mine"], "env_vars": {"A": "1"}})
    assert env["py_modules"][0] == "/opt/mine" and str(path) in env["py_modules"]
    assert env["env_vars"] == {"A": "1"}
    assert job_runtime_env({"py_modules": [str(path)]})["py_modules"].count(str(path)) == 1
