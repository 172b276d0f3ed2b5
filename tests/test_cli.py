"""The command line end to end on configs/smoke.yaml, and its error handling."""
from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SMOKE = str(REPO / "configs" / "smoke.yaml")


def evonas(*args: str, env=None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evonas", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "smoke"
    proc = evonas("--config", SMOKE, "--out", str(out), "--set", "search.n_gen=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_smoke_run_writes_a_complete_run_directory(smoke_run: Path):
    for name in ("config.yaml", "candidates.csv", "pareto.csv", "pareto.png", "run.log", "state.json"):
        assert (smoke_run / name).is_file(), name
    cands = _rows(smoke_run / "candidates.csv")
    assert {"arch", "index", "knas", "flops", "wall_time_s", "status"} <= set(cands[0])
    assert len(cands) >= 8
    # an isomorphic cell is never scored twice in a run
    assert len({r["canonical"] for r in cands}) == len(cands)
    front = _rows(smoke_run / "pareto.csv")
    assert [int(r["id"]) for r in front] == list(range(len(front)))
    # the front is non-dominated among the scored candidates
    ok = [(float(r["knas"]), float(r["flops"])) for r in cands if r["status"] == "ok"]
    for r in front:
        k, f = float(r["knas"]), float(r["flops"])
        assert not any(k2 >= k and f2 <= f and (k2, f2) != (k, f) for k2, f2 in ok)
    assert "cifar10_test_200ep" in front[0]
    log = (smoke_run / "run.log").read_text()
    assert "gen   3/3" in log and "archs/s" in log and "front" in log


def test_pick_by_id_and_by_flops_limit(smoke_run: Path):
    front = _rows(smoke_run / "pareto.csv")
    proc = evonas("pick", str(smoke_run), "--id", "0")
    assert proc.returncode == 0, proc.stderr
    assert front[0]["arch"] in proc.stdout and "cifar10_test_200ep" in proc.stdout
    limit = sorted(float(r["flops"]) for r in front)[0] + 1e-6
    proc = evonas("pick", str(smoke_run), "--max-flops", str(limit))
    assert proc.returncode == 0, proc.stderr
    cheapest = min(front, key=lambda r: float(r["flops"]))
    assert cheapest["arch"] in proc.stdout
    proc = evonas("pick", str(smoke_run), "--max-flops", "0.001")
    assert proc.returncode == 2 and "no front member satisfies flops <= 0.001" in proc.stderr


def test_resume_rescoring_nothing_gives_the_same_front(smoke_run: Path):
    before = (smoke_run / "pareto.csv").read_text()
    n = len(_rows(smoke_run / "candidates.csv"))
    proc = evonas("--resume", str(smoke_run), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(_rows(smoke_run / "candidates.csv")) == n  # nothing rescored
    assert (smoke_run / "pareto.csv").read_text() == before


def test_info_by_index_and_string():
    proc = evonas("info", "0")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"^params_M\s+0\.129306$", out, re.M)
    assert re.search(r"^connected\s+True$", out, re.M)
    assert re.search(r"^cifar10_test_200ep\s+85\.8633$", out, re.M)
    arch = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    proc2 = evonas("info", arch)
    assert proc2.returncode == 0 and re.search(r"^index\s+0$", proc2.stdout, re.M)
    assert proc2.stdout == out


@pytest.mark.parametrize("args,needle", [
    (("--config", SMOKE, "--set", "search.pop_sise=4"), "--set search.pop_sise=4: unknown key (did you mean 'pop_size'?)"),
    (("--config", SMOKE, "--set", "data.root=/nonexistent/cifar"), "data.root '/nonexistent/cifar' is not a directory"),
    (("--config", "configs/nope.yaml"), "does not exist"),
    (("info", "|nor_conv_3x3~0|+|bad|"), "malformed arch string"),
    (("info", "15625"), "out of range"),
    (("pick", "/nonexistent/run", "--id", "0"), "does not exist"),
    (("--resume", "configs"), "is not an evonas run directory"),
])
def test_bad_input_is_one_clear_line_and_exit_2(args, needle):
    proc = evonas(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evonas: error:") and needle in lines[0], proc.stderr


def test_score_command_writes_one_column_per_score(tmp_path):
    archs = tmp_path / "archs.txt"
    archs.write_text("0\n# a comment\n|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|\n")
    out = tmp_path / "scores.csv"
    proc = evonas("score", "--scores", "params,flops", "--archs", str(archs), "--out", str(out), "--backend", "serial")
    assert proc.returncode == 0, proc.stderr
    rows = _rows(out)
    assert [r["index"] for r in rows] == ["0", "1"]
    assert list(rows[0])[:4] == ["arch", "index", "params", "flops"]
    assert float(rows[0]["params"]) == pytest.approx(0.129306, rel=1e-7)  # the shipped fvcore table (float32)
    archs.write_text("0\n|nor_conv_3x3~0|\n")
    proc = evonas("score", "--scores", "params", "--archs", str(archs), "--out", str(out), "--backend", "serial")
    assert proc.returncode == 2 and f"{archs}:2: malformed arch string" in proc.stderr


def test_no_command_prints_fvcore_torch_jit_script_warning():
    """fvcore scripts its losses at import; torch deprecates torch.jit.script (a FutureWarning from 2.15).

    Run with every warning shown, as a FutureWarning is by default: none of that one; the same warning
    from anywhere else is not filtered.
    """
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    proc = evonas("info", "6111", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "torch.jit.script" not in proc.stderr, proc.stderr[-2000:]
    import importlib
    import warnings

    importlib.import_module("evonas.nn.flops")  # the filter is scoped to fvcore's import: none is left behind
    assert not [f for f in warnings.filters if f[1] is not None and f[1].search("`torch.jit.script` is deprecated")]


@pytest.mark.slow
def test_main_job_redraws_the_plots_with_the_trained_accuracies(tmp_path):
    out = tmp_path / "run"
    proc = evonas("--config", SMOKE, "--out", str(out), "--quiet", "--set", "search.n_gen=1",
                  "--set", "ray.backend=serial", "--set", "train.after_search=true", "--set", "train.candidates=ids",
                  "--set", "train.ids=[0]", "--set", "train.recipe.epochs=1", "--set", "train.n_train=256")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (trained,) = _rows(out / "trained.csv")
    assert trained["status"] == "ok"
    html = (out / "pareto.html").read_text()
    assert f'"trained": [{float(trained["test_acc"])!r}, "1"]' in html  # the front member's record
    assert f'<td>{float(trained["test_acc"]):.4g}</td></tr>' in html   # and its row of the table
    assert (out / "pareto.png").stat().st_mtime >= (out / "trained.csv").stat().st_mtime
