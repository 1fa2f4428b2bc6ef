"""Drawing samples from a GAN: seeded noise, the generator's output in data space a batch at a time, and the
balanced set an evaluation measures."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganforge.data import GANDataModule
from ganforge.data.base import balanced_labels
from ganforge.metrics import SampleSet
from ganforge.models.base import GAN
from ganforge.nets.inference import in_batches


def draw_noise(gan: GAN, n: int, seed: int) -> torch.Tensor:
    """`n` latent vectors, the same for the same seed on any device."""
    return gan.sample_noise(n, generator=torch.Generator().manual_seed(seed)).cpu()


def render(
    gan: GAN, to_data_space: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, labels: torch.Tensor | None,
    batch_size: int = 500,
) -> torch.Tensor:
    """The generator's images of `z` (and `labels`) in data space (uint8 for images), on the CPU, in batches."""
    return in_batches(gan.generator, lambda z, y: to_data_space(gan.sample(z, y)), [z, labels], batch_size)


def draw_evaluation_set(
    gan: GAN, datamodule: GANDataModule, n: int, seed: int, batch_size: int = 500, part: tuple[int, int] = (0, 1)
) -> SampleSet:
    """`n` samples to measure (uint8 images, labels for a conditional model, which draws every class equally).

    `part=(rank, parts)` draws only every `parts`-th of them from the `rank`-th on: the parts of all ranks of a
    distributed run make up exactly the set one process draws.
    """
    rank, parts = part
    labels = balanced_labels(n, datamodule.num_classes)[rank::parts] if gan.conditional else None
    z = draw_noise(gan, n, seed)[rank::parts]
    return SampleSet(render(gan, datamodule.to_data_space, z, labels, batch_size), labels)
