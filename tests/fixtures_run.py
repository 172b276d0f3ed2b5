"""A finished run directory written by hand (config, candidates, pareto, trained.csv) for pick, plot, export."""
from __future__ import annotations

import csv
from pathlib import Path

from evonas.config.load import dump_config
from evonas.config.schema import Config, NetworkConfig
from evonas.space.table import load_table

#: NB201 index, knas, flops of the hand-made front (ids 0, 1, 2) and of two dominated candidates.
#: Table values: CIFAR-10 200-epoch test accuracy 85.86 / 93.99 / 94.37; 2080ti_bs1 latency
#: 6.03 / 11.11 / 11.41 ms; 12-epoch validation accuracy 63.36 / 83.62 / 84.38, and 72.91 for index 100.
FRONT = [(0, 3.0, 10.0), (857, 2.0, 5.0), (6111, 1.0, 2.0)]
DOMINATED = [(100, 2.5, 12.0), (200, 0.5, 9.0)]
#: trained.csv rows: id 2 trained, id 1 failed
TRAINED = [{"id": 2, "epochs": 5, "test_acc": 60.0, "status": "ok"}, {"id": 1, "status": "failed", "test_acc": ""}]
#: the columns the training stage writes
TRAINED_COLUMNS = ["id", "arch", "index", "dataset", "epochs", "train_acc", "test_acc", "test_n", "wall_time_s",
                   "device", "status", "error"]


def _write(path: Path, rows: list[dict], columns: list[str]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def make_run(root: Path, trained: list[dict] | None = None) -> Path:
    """A finished run directory written by hand: config, candidates, pareto (+ trained.csv)."""
    table = load_table()
    run = root / "run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_config(Config(name="hand", network=NetworkConfig(C=4, N=1))))
    cands = []
    for gen, (i, knas, flops) in enumerate(FRONT + DOMINATED):
        cell = table.cell(i)
        cands.append({"generation": gen, "arch": cell.arch, "index": i, "canonical": cell.canonical, "status": "ok",
                      "knas": knas, "flops": flops, "wall_time_s": 0.1, "device": "cpu", "attempts": 1, "error": ""})
    _write(run / "candidates.csv", cands, list(cands[0]))
    front = [{"id": k, **{c: r[c] for c in ("arch", "index", "canonical", "knas", "flops")}, **table.row(r["index"])}
             for k, r in enumerate(cands[:3])]
    _write(run / "pareto.csv", front, list(front[0]))
    if trained is not None:
        _write(run / "trained.csv", trained, TRAINED_COLUMNS)
    return run
