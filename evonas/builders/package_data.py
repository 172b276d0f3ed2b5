"""Build the package's data files from the source files listed in shared/data/README.md.

    python -m evonas.builders.package_data --source ../shared/data

writes ``nb201_table.npz`` (encodings, 200- and 12-epoch accuracies, isomorphism classes),
``nb201_latency.npz`` (the HELP / HW-NAS-Bench latency columns) and the image samples
``cifar10_sample.npz`` / ``cifar100_sample.npz`` (uint8, a few hundred images each).
The FLOPs/params table is made separately by ``python -m evonas.builders.cost``.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from evonas.data import DATA_DIR
from evonas.space.cell import Cell
from evonas.space.table import ACCURACY_COLUMNS

N_TRAIN_CIFAR10, N_TEST_CIFAR10, N_TRAIN_CIFAR100, N_TEST_CIFAR100 = 768, 256, 256, 256


def _balanced_first(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first ``n`` images taking classes round-robin (a class-balanced prefix)."""
    classes = np.unique(labels)
    per_class = [np.flatnonzero(labels == c) for c in classes]
    order = [idx[i] for i in range(max(map(len, per_class))) for idx in per_class if i < len(idx)]
    return np.sort(np.asarray(order[:n]))


def build_table(source: Path, out: Path) -> None:
    with open(source / "nb201_accuracy.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    index = np.array([int(r["index"]) for r in rows])
    if not np.array_equal(index, np.arange(len(rows))):
        raise ValueError("nb201_accuracy.csv must list indices 0..15624 in order")
    ops = np.array([Cell.from_string(r["arch"]).ops for r in rows], dtype=np.uint8)
    keys = [r["isomorph_key"] for r in rows]
    key_ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    columns = {c: np.array([float(r[c]) for r in rows], dtype=np.float64) for c in ACCURACY_COLUMNS}
    np.savez_compressed(out / "nb201_table.npz", ops=ops,
                        isomorph_class=np.array([key_ids[k] for k in keys], dtype=np.int32), **columns)


def build_latency(source: Path, out: Path) -> None:
    with open(source / "nb201_latency.csv", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        values = np.array([[float(v) for v in row] for row in reader], dtype=np.float64)
    if not np.array_equal(values[:, 0], np.arange(len(values))):
        raise ValueError("nb201_latency.csv must list indices 0..15624 in order")
    np.savez_compressed(out / "nb201_latency.npz",
                        **{name.removesuffix("_ms"): values[:, i].astype(np.float32)
                           for i, name in enumerate(header) if i > 0})


def build_images(source: Path, out: Path) -> None:
    c10 = np.load(source / "cifar10_sample.npz")
    tr, te = _balanced_first(c10["y_train"], N_TRAIN_CIFAR10), _balanced_first(c10["y_test"], N_TEST_CIFAR10)
    np.savez_compressed(out / "cifar10_sample.npz", x_train=c10["x_train"][tr], y_train=c10["y_train"][tr],
                        x_test=c10["x_test"][te], y_test=c10["y_test"][te])
    c100 = np.load(source / "cifar100_sample.npz")
    tr = _balanced_first(c100["y_train_fine"], N_TRAIN_CIFAR100)
    te = _balanced_first(c100["y_test_fine"], N_TEST_CIFAR100)
    np.savez_compressed(out / "cifar100_sample.npz", x_train=c100["x_train"][tr], y_train=c100["y_train_fine"][tr],
                        x_test=c100["x_test"][te], y_test=c100["y_test_fine"][te])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    build_table(args.source, args.out)
    build_latency(args.source, args.out)
    build_images(args.source, args.out)
    for f in sorted(args.out.glob("*.npz")):
        print(f"{f.name}: {f.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
