"""Toy distributions in one and two dimensions, where the adversarial game can be watched and tested in seconds."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch

from ganforge.data.base import GANDataModule
from ganforge.errors import ConfigError

SPLIT_SEEDS = {"train": 0, "test": 1}


class ToyDataModule(GANDataModule, ABC):
    """`num_samples` points of a d-dimensional distribution, drawn once (seeded), held as one float tensor.

    The nets see (x − shift) / scale per coordinate. Unlabelled (every label 0, `class_names` empty),
    so conditional models refuse it.
    """

    def __init__(
        self,
        sample_shape: Sequence[int],
        num_samples: int,
        shift: Sequence[float],
        scale: Sequence[float],
        seed: int = 0,
        class_names: Sequence[str] = (),
        **loader_options,
    ) -> None:
        super().__init__(sample_shape=sample_shape, **loader_options)
        if class_names:
            raise ConfigError(f"toy distributions are unlabelled; set data.class_names=[], got {list(class_names)}")
        if len(self.sample_shape) != 1 or not len(shift) == len(scale) == self.sample_shape[0]:
            raise ConfigError(f"data.sample_shape must be [d] with d = len(data.shift) = len(data.scale); got "
                              f"{list(sample_shape)}, {list(shift)} and {list(scale)}")
        if min(scale) <= 0 or num_samples < 1:
            raise ConfigError("data.scale and data.num_samples must be positive")
        self.num_samples, self.seed = num_samples, seed
        self.shift, self.scale = torch.tensor(shift, dtype=torch.float32), torch.tensor(scale, dtype=torch.float32)

    @abstractmethod
    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` samples (n×d, data space)."""

    def load(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in SPLIT_SEEDS:
            raise ConfigError(f"data.train_split must be one of {list(SPLIT_SEEDS)}, got {split!r}")
        generator = torch.Generator().manual_seed(self.seed + SPLIT_SEEDS[split])
        return self.draw(self.num_samples, generator), torch.zeros(self.num_samples, dtype=torch.long)

    def to_model_space(self, samples: torch.Tensor) -> torch.Tensor:
        return (samples - self.shift.to(samples.device)) / self.scale.to(samples.device)

    def to_data_space(self, samples: torch.Tensor) -> torch.Tensor:
        return samples * self.scale.to(samples.device) + self.shift.to(samples.device)


class Gaussian1D(ToyDataModule):
    """x ~ N(mean, std²), e.g. chest sizes in cm around 95.

    The default model space (x − 80) / 10 keeps the nets' numbers near 1, and puts an untrained generator
    (output ≈ 0) at 80 cm, far from the data, as in the course's example.
    """

    def __init__(self, mean: float = 95.0, std: float = 5.0, **toy_options) -> None:
        super().__init__(**toy_options)
        if std <= 0:
            raise ConfigError(f"data.std must be positive, got {std}")
        self.mean, self.std = mean, std

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.mean + self.std * torch.randn(n, *self.sample_shape, generator=generator)


class Sine2D(ToyDataModule):
    """Points (x1, sin x1) with x1 ~ U(x1_range): a 1-D curve in the plane."""

    def __init__(self, x1_range: Sequence[float] = (0.0, 2 * math.pi), **toy_options) -> None:
        super().__init__(**toy_options)
        if self.sample_shape != (2,):
            raise ConfigError(f"data.sample_shape must be [2] for points in the plane, got {list(self.sample_shape)}")
        if not x1_range[0] < x1_range[1]:
            raise ConfigError(f"data.x1_range must be [low, high] with low < high, got {list(x1_range)}")
        self.x1_range = tuple(x1_range)

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        low, high = self.x1_range
        x1 = low + (high - low) * torch.rand(n, generator=generator)
        return torch.stack([x1, torch.sin(x1)], dim=1)

    @staticmethod
    def distance_to_curve(points: torch.Tensor) -> torch.Tensor:
        """|x2 − sin x1| of each point: how far it lies above or below the curve."""
        return (points[:, 1] - torch.sin(points[:, 0])).abs()
