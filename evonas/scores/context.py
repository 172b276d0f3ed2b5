"""What a score is given: the cell, the images on the scorer's device, the seed and the network shape."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from evonas.errors import ConfigError
from evonas.nn.images import ImageSet
from evonas.nn.network import TinyNetwork, build_network
from evonas.scores._grad import kaiming_normal_init
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec

__all__ = ["ScoreContext"]


@dataclass(frozen=True)
class ScoreContext:
    """Everything a score may use: the cell, the images (on ``device``), the seed, the network shape."""

    cell: Cell
    device: torch.device
    dataset: DatasetSpec
    data: ImageSet | None = None
    seed: int = 0
    C: int = 16
    N: int = 5

    def network(self, seed: int | None = None, *, C: int | None = None, N: int | None = None,
                init: Literal["default", "fan_in", "fan_out"] = "default") -> TinyNetwork:
        """A freshly initialised network for the cell on ``device``, of width ``C`` and depth ``N`` (ctx's when None).

        The initial weights depend only on ``seed`` (None: the context's; they are drawn on the
        CPU), so a score gives the same number on every device up to floating-point round-off.
        ``init``: the constructor's initialisation, or TE-NAS's Kaiming-normal one (``fan_in``, ``fan_out``).
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed if seed is None else seed)
            net = build_network(self.cell, C=self.C if C is None else C, N=self.N if N is None else N,
                                num_classes=self.dataset.num_classes)
            if init != "default":
                kaiming_normal_init(net, mode=init)
        return net.to(self.device)

    def batch(self, n: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``offset .. offset+n`` of the scoring set and their labels."""
        if self.data is None:
            raise ConfigError("this score needs images, but the scorer was built without data")
        if offset + n > len(self.data):
            raise ConfigError(f"this score needs {offset + n} images but the scorer holds {len(self.data)}; "
                              f"raise data.n_images")
        return self.data.images[offset:offset + n], self.data.labels[offset:offset + n]
