"""Images for scoring and training as normalised float tensors.

The data sets and their formats are ``evonas.datasets`` (torch-free): NB201's pickles under
``data.root``, the packaged samples, a user's image folder or ``.npz`` (named by its spec,
``config.dataset_spec``, which says where the images are; reading it fails when they changed since
the spec was made: its fingerprint). ``load_images`` reads a split through them and normalises it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from evonas.datasets import DatasetSpec, dataset_spec, read_split
from evonas.errors import DataError

__all__ = ["ImageSet", "load_images"]


@dataclass(frozen=True)
class ImageSet:
    """Normalised images (n, 3, H, W) float32 and integer labels (n,)."""

    images: torch.Tensor
    labels: torch.Tensor
    dataset: str | DatasetSpec  # a name, or the spec of a user's data set
    source: str  # "packaged sample" or the directory read

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> "ImageSet":
        return ImageSet(self.images.to(device), self.labels.to(device), self.dataset, self.source)


def load_images(dataset: str | DatasetSpec, *, root: str | Path | None = None, split: str = "train",
                n: int | None = None, seed: int = 0) -> ImageSet:
    """Load ``n`` images (all when None) of ``split``, normalised as NB201 does.

    With ``root`` None the packaged sample is read; otherwise the standard files under
    ``root`` (``evonas.datasets.nb201``). A user's data set (its spec) is read from its own
    source (``root`` is ignored) and normalised by its training images' mean and std; its test
    split is the val/ folder (or the held-out share) or ``x_test``. ``seed`` picks which ``n``
    images, reproducibly, and in a nested way: the first k of ``n`` images are the same for every
    ``n >= k``, so a score that reads k images sees the same ones whatever the other scores of a
    run need.
    """
    spec = dataset_spec(dataset)
    x, y, source = read_split(spec, root, split)
    if n is not None:
        if n > len(y):
            raise DataError(f"asked for {n} {split} images of {spec.name} but {source} has {len(y)}")
        pick = np.random.default_rng(seed).permutation(len(y))[:n]  # nested: the first k never depend on n
        x, y = x[pick], y[pick]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (spec.mean, spec.std))
    images = (torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float() / 255.0 - mean) / std
    return ImageSet(images.contiguous(), torch.from_numpy(np.asarray(y, dtype=np.int64)),
                    spec if spec.custom else spec.name, source)
