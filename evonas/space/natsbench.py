"""Look an architecture up in the full benchmark, through the official ``nats_bench`` API.

``benchmark.path`` may name any of the benchmark's published forms:
- ``NATS-tss-v1_0-3ffb9-simple/``: the directory of per-architecture files (read lazily,
  NATS's ``fast_mode``; the quickest to open);
- ``NATS-tss-v1_0-3ffb9-simple.pickle.pbz2`` (or any NATS ``*.pickle.pbz2`` file): read whole;
- ``NAS-Bench-201-v1_1-096897.pth``: NAS-Bench-201's own file, read by ``nas_201_api``.

Accuracies are NATS's means over the benchmark's training seeds, in %. As NATS defines the
splits: on CIFAR-10 the test accuracy is that of the network trained on train+valid
(NATS's ``cifar10``) and the validation accuracy that of the network trained on the train
half only (NATS's ``cifar10-valid``); on CIFAR-100 and ImageNet16-120 both come from one
run, on NATS's ``x-valid`` and ``x-test`` halves of the original test set.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from evonas.datasets import dataset_spec
from evonas.errors import ConfigError, DataError, EvonasError
from evonas.space.cell import Cell

__all__ = ["NatsBenchLookup", "HPS"]

#: the training schedules the topology benchmark holds: 12 epochs (low fidelity) and 200
HPS = ("12", "200")
_SIMPLE_DIR = "NATS-tss-v1_0-3ffb9-simple"
_NB201_FILE = "NAS-Bench-201-v1_1-096897.pth"
_META = "meta.pickle.pbz2"
_WHERE = (f"download {_SIMPLE_DIR} (the NATS-Bench topology benchmark; or {_NB201_FILE}), unpack it "
          f"anywhere (e.g. ~/.torch/{_SIMPLE_DIR}) and set benchmark.path to that directory or file")


def _import_nats() -> Any:
    try:
        import nats_bench
    except ImportError:
        raise EvonasError('reading the NATS-Bench files needs the nats_bench package: pip install "evonas[nats]"') \
            from None
    return nats_bench


def _open_api(path: Path) -> Any:
    """The benchmark's API object for ``path`` (a directory, a .pickle.pbz2 file or a .pth file)."""
    if path.is_dir():
        if not (path / _META).is_file():
            raise DataError(f"benchmark.path {str(path)!r} is a directory without {_META}; it must be the unpacked "
                            f"{_SIMPLE_DIR} directory (meta.pickle.pbz2 and one 000000.pickle.pbz2 per architecture)")
        return _import_nats().create(str(path), "tss", fast_mode=True, verbose=False)
    if path.name.endswith(".pth"):
        try:
            from nas_201_api import NASBench201API
        except ImportError:
            raise EvonasError(f"{path.name} is NAS-Bench-201's own format, read by the nas_201_api package: "
                              f"pip install nas-bench-201 (or use {_SIMPLE_DIR} with "
                              f'pip install "evonas[nats]")') from None
        return NASBench201API(str(path), verbose=False)
    if path.name.endswith(".pickle.pbz2"):
        return _import_nats().create(str(path), "tss", fast_mode=False, verbose=False)
    raise DataError(f"benchmark.path {str(path)!r} is neither the {_SIMPLE_DIR} directory, a NATS "
                    f".pickle.pbz2 file nor {_NB201_FILE}")


class NatsBenchLookup:
    """Benchmark numbers of one architecture: ``NatsBenchLookup(path).lookup(index, "cifar10")``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise DataError(f"benchmark.path {str(self.path)!r} does not exist; {_WHERE}")
        self._api = _open_api(self.path)

    def _check_record(self, index: int) -> None:
        """In a per-architecture directory, a missing file means a partial copy: say so plainly."""
        if self.path.is_dir() and not any((self.path / f"{name}.pickle.pbz2").is_file()
                                          for name in (f"{index:06d}", str(index))):
            raise DataError(f"the benchmark at {str(self.path)!r} has no file {index:06d}.pickle.pbz2 for "
                            f"architecture {index}; the copy is incomplete: {_WHERE}")

    def lookup(self, index: int | str | Cell, dataset: str, hp: str = "200") -> dict[str, Any]:
        """Accuracies (%), FLOPs (M), parameters (M) and latency (ms) of one architecture.

        ``index`` is the NB201 index, an arch string or a ``Cell``; ``hp`` the schedule,
        ``"200"`` (the benchmark's full training) or ``"12"``. ``latency_ms`` is None where
        the benchmark has none.
        """
        name = dataset_spec(dataset).nats_name
        if str(hp) not in HPS:
            raise ConfigError(f"benchmark hp {hp!r} is unknown; choose from {list(HPS)} (training epochs)")
        hp = str(hp)
        cell = index if isinstance(index, Cell) else Cell.parse(index)
        i = cell.index
        self._check_record(i)
        valid_name = "cifar10-valid" if dataset == "cifar10" else name
        try:
            test = self._api.get_more_info(i, name, hp=hp, is_random=False)
            valid = self._api.get_more_info(i, valid_name, hp=hp, is_random=False)
            cost = self._api.get_cost_info(i, name, hp=hp)
        except (KeyError, ValueError) as err:
            raise DataError(f"the benchmark at {str(self.path)!r} has no {hp}-epoch record of architecture {i} on "
                            f"{name} ({err!r})") from None
        latency = cost.get("latency")
        return {
            "index": i,
            "arch": self._api.meta_archs[i],
            "dataset": dataset,
            "hp": hp,
            "test_acc": test.get("test-accuracy"),
            "valid_acc": valid.get("valid-accuracy"),
            "train_acc": test.get("train-accuracy"),
            "flops_m": cost["flops"],
            "params_m": cost["params"],
            "latency_ms": latency * 1000.0 if latency is not None and latency > 0 else None,
        }

    def __repr__(self) -> str:
        return f"NatsBenchLookup({str(self.path)!r})"
