"""`evonas pick` and `evonas plot` read a run directory without loading torch, fvcore, ray or scipy."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fixtures_run import TRAINED, make_run

HEAVY = ("torch", "fvcore", "ray", "scipy")

#: runs one command in a fresh interpreter and prints its exit status and the heavy packages it loaded
_PROBE = """
import json, sys
from evonas.cli import main
rc = main(json.loads(sys.argv[1]))
print(json.dumps({"rc": rc, "loaded": sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))}))
"""


@pytest.mark.parametrize("command", [
    ["pick", "{run}", "--id", "0"],
    ["pick", "{run}", "--max-latency-ms", "7"],                     # the shipped latency table
    ["pick", "{run}", "--min-accuracy", "50", "--accuracy", "trained"],
    ["pick", "{run}", "--select", "benchmark_valid", "--top-k", "2"],
    ["plot", "{run}"],
    ["plot", "{run}", "--x", "2080ti_bs1", "--y", "cifar10_test_200ep", "--out", "{run}/lat"],
])
def test_pick_and_plot_import_no_heavy_package(tmp_path, subprocess_env, command):
    run = make_run(tmp_path, trained=TRAINED)
    argv = [a.format(run=run) for a in command]
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv), json.dumps(HEAVY)], env=subprocess_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, out.stdout + out.stderr
    assert result["loaded"] == [], f"{' '.join(argv)} imported {result['loaded']}"
