"""NB201's augmentation in torch: random crop and flip, drawn per epoch from ``(seed, epoch)``.

The random crop pads with the normalised value of a black pixel (``padding_fill``), so it
matches a crop of the raw image padded with zeros. An epoch's shuffling and augmentation
draws are made on the CPU in a fixed order (``epoch_plan``) and copied to the training
device in one transfer: the same draws, whatever the device.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from evonas.datasets import dataset_spec

__all__ = ["padding_fill", "augment", "apply_draws", "Draws", "EpochPlan", "epoch_plan", "epoch_generator"]

#: one batch's crop offsets (dy, dx) and flip mask; None where the recipe has no crop or no flip
Draws = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]


def padding_fill(dataset: str) -> torch.Tensor:
    """The normalised value (per channel) of a black pixel: what the random crop pads with."""
    spec = dataset_spec(dataset)
    return -torch.tensor(spec.mean) / torch.tensor(spec.std)


def _draw(n: int, padding: int, flip: bool, generator: torch.Generator) -> Draws:
    """One batch's crop offsets (dy, dx) and flip mask, drawn on the CPU in a fixed order."""
    dy = dx = mask = None
    if padding > 0:
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    if flip:
        mask = torch.rand(n, generator=generator) < 0.5
    return dy, dx, mask


def apply_draws(images: torch.Tensor, padding: int, fill: torch.Tensor, dy: torch.Tensor | None,
                dx: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
    """Crop the ``padding``-padded images at (dy, dx) and flip where ``mask``; the draws on ``images``' device."""
    n, c, h, w = images.shape
    device = images.device
    if dy is not None and dx is not None:
        padded = fill.to(images).view(1, c, 1, 1).expand(n, c, h + 2 * padding, w + 2 * padding).clone()
        padded[:, :, padding:padding + h, padding:padding + w] = images
        rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]
        images = padded[torch.arange(n, device=device)[:, None, None, None],
                        torch.arange(c, device=device)[None, :, None, None], rows, cols]
    if mask is not None:
        images = torch.where(mask[:, None, None, None], images.flip(3), images)
    return images


def augment(images: torch.Tensor, padding: int, flip: bool, fill: torch.Tensor,
            generator: torch.Generator) -> torch.Tensor:
    """Random crop of the ``padding``-padded images and random horizontal flip, per image.

    ``fill`` (3,) is the padding value per channel: the normalised value of a black pixel
    (``padding_fill``), so the padding matches a crop of the raw image padded with zeros.
    """
    dy, dx, mask = _draw(len(images), padding, flip, generator)
    move = (lambda t: None if t is None else t.to(images.device))  # noqa: E731
    return apply_draws(images, padding, fill, move(dy), move(dx), move(mask))


@dataclass(frozen=True)
class EpochPlan:
    """An epoch's index batches and augmentation draws, on the training device."""

    batches: tuple[torch.Tensor, ...]
    draws: tuple[Draws, ...]


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch's shuffled index batches (the last, smaller one kept, as NB201 does)."""
    return list(torch.randperm(n, generator=generator).split(batch_size))


def epoch_plan(n: int, batch_size: int, padding: int, flip: bool, generator: torch.Generator,
               device: torch.device) -> EpochPlan:
    """Draw the permutation, then each batch's augmentation, in the order ``augment`` draws them
    batch by batch; copy everything to ``device`` in one transfer."""
    cpu_batches = _batches(n, batch_size, generator)
    cpu_draws = [_draw(len(b), padding, flip, generator) for b in cpu_batches]
    sizes = [len(b) for b in cpu_batches]
    parts = [torch.cat(cpu_batches)]
    kinds = [d is not None for d in cpu_draws[0]]
    parts += [torch.cat([d[k] for d in cpu_draws]).long() for k in range(3) if kinds[k]]
    packed = torch.stack(parts)
    moved = packed.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else packed.to(device)
    rows = iter(moved)
    batches = tuple(next(rows).split(sizes))
    columns = [tuple(next(rows).split(sizes)) if kinds[k] else (None,) * len(sizes) for k in range(3)]
    draws = tuple((dy, dx, None if m is None else m.bool()) for dy, dx, m in zip(*columns))
    return EpochPlan(batches, draws)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of epoch ``epoch``'s shuffling and augmentation: a resumed run draws the same."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)
