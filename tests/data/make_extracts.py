"""Write the tests' extracts of the source tables (see README.md here):

    python tests/data/make_extracts.py --source ../shared/data

``nb201_arch_keys.csv.gz``: ``index,arch,isomorph_key`` of all 15,625 rows of ``nb201_accuracy.csv``;
``nb201_latency_every7.csv.gz``: the header and every row of ``nb201_latency.csv`` whose index is a
multiple of 7 (2,233 rows, 0 and 15,624 included), copied as text. Both are gzip files with no
time stamp, so the same source gives the same bytes.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
from pathlib import Path

HERE = Path(__file__).resolve().parent
LATENCY_STRIDE = 7


def _write_gz(path: Path, text: str) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as f:
        f.write(text.encode())
    print(f"{path.name}: {path.stat().st_size / 1e3:.0f} kB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    with open(args.source / "nb201_accuracy.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "arch", "isomorph_key"])
    writer.writerows([r["index"], r["arch"], r["isomorph_key"]] for r in rows)
    _write_gz(HERE / "nb201_arch_keys.csv.gz", out.getvalue())
    with open(args.source / "nb201_latency.csv", newline="") as f:
        header, *lines = f.read().splitlines()
    kept = [line for line in lines if int(line.split(",", 1)[0]) % LATENCY_STRIDE == 0]
    _write_gz(HERE / "nb201_latency_every7.csv.gz", "\n".join([header, *kept]) + "\n")


if __name__ == "__main__":
    main()
