"""What every visual analysis of an evaluation gets, and gives back.

An analysis is a callable taking an `AnalysisContext` and returning `ReportFigure`s; one that does not
apply (e.g. a per-class grid of an unconditional model) raises `NotApplicable` with the reason.
Which analyses run, and their sizes, is chosen in `conf/analyses/*.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganforge.data import GANDataModule
from ganforge.sampling import draw_noise, render
from ganforge.metrics import SampleSet
from ganforge.models.base import GAN
from ganforge.nets.common import Critique
from ganforge.nets.inference import in_batches


class NotApplicable(Exception):
    """The analysis does not apply to this model or run; the message says why."""


@dataclass
class ReportFigure:
    name: str
    title: str
    caption: str
    path: Path
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnalysisContext:
    """Everything an analysis may look at: the model, its evaluated samples, the real splits, where to write."""

    gan: GAN
    datamodule: GANDataModule
    generated: SampleSet
    real: SampleSet  # the test split
    train: SampleSet  # the training split
    checkpoint: Path
    output_dir: Path
    seed: int
    batch_size: int

    @property
    def class_names(self) -> list[str]:
        return list(self.datamodule.class_names)

    def stream_seed(self, stream: int) -> int:
        """A seed derived from the evaluation seed; each analysis draws from its own `stream`."""
        return self.seed * 1000 + stream

    def random_generator(self, stream: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.stream_seed(stream))

    def noise(self, n: int, stream: int) -> torch.Tensor:
        return draw_noise(self.gan, n, self.stream_seed(stream))

    def render(self, z: torch.Tensor, labels: torch.Tensor | None, batch_size: int | None = None) -> torch.Tensor:
        return render(self.gan, self.datamodule.to_data_space, z, labels, batch_size or self.batch_size)

    def labels_for(self, n: int) -> torch.Tensor | None:
        """Labels for `n` new samples, every class in turn; None for an unconditional model."""
        return torch.arange(n) % len(self.class_names) if self.gan.conditional else None

    def row_names(self, labels: torch.Tensor | None, n: int) -> list[str]:
        return [self.class_names[int(k)] for k in labels] if labels is not None else [""] * n

    def critique(self, images: torch.Tensor, labels: torch.Tensor | None) -> Critique:
        """The discriminator's outputs (eval mode) on uint8 images, in batches."""
        discriminator, to_model_space = self.gan.discriminator, self.datamodule.to_model_space
        return in_batches(discriminator, lambda x, y: discriminator(to_model_space(x), y), [images, labels],
                          self.batch_size)

    def figure_path(self, name: str) -> Path:
        return self.output_dir / f"{name}.png"
