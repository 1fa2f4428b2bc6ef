"""Pictures of a fixed noise batch through training: one PNG per epoch, TensorBoard images, a GIF at the end.

What a picture shows depends on the kind of sample (`sample_kind`): image grids for images, histograms for
points on a line, scatter plots for points in the plane; the toy pictures also show D's verdict over the window
they plot. The drawers are chosen by config (`callbacks.sample_preview.drawers`, one per kind).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import lightning as L
import numpy as np
import torch

from ganforge.data import GANDataModule
from ganforge.data.base import balanced_labels
from ganforge.errors import ConfigError
from ganforge.sampling import draw_noise, render
from ganforge.models.base import GAN
from ganforge.viz.images import image_grid, save_gif, save_png
from ganforge.viz.plots import histogram_with_critic, scatter_with_critic

Limits = list[tuple[float, float]]


def is_last_epoch(trainer: L.Trainer) -> bool:
    """Whether the epoch now ending is the run's last (by `max_epochs`)."""
    return trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs


def sample_kind(sample_shape: Sequence[int]) -> str:
    """`image` for C×H×W samples; `points<d>d` for vectors of d coordinates (e.g. `points2d`)."""
    return "image" if len(sample_shape) == 3 else f"points{sample_shape[0]}d"


class PreviewDrawer(Protocol):
    size: int  # how many samples one picture shows

    def __call__(self, fake: torch.Tensor, labels: torch.Tensor, gan: GAN, datamodule: GANDataModule) -> np.ndarray:
        """An H×W×3 uint8 picture of generated samples (data space, on the CPU)."""


class ImageGrid:
    """The samples tiled in a square, or for a conditional model on labelled data one row per class."""

    def __init__(self, size: int = 100) -> None:
        self.size = size

    def __call__(self, fake: torch.Tensor, labels: torch.Tensor, gan: GAN, datamodule: GANDataModule) -> np.ndarray:
        """An about square grid; for a conditional model each class starts a row (10 classes of 10: a row each)."""
        columns = math.ceil(math.sqrt(len(fake)))
        if not (datamodule.num_classes and gan.conditional):
            return image_grid(fake, nrow=columns)
        columns = min(columns, int(torch.bincount(labels).max()))
        blank = torch.full_like(fake[:1], 255)  # the grid's padding colour: a class's row ends in empty tiles
        blocks = []
        for label in range(datamodule.num_classes):
            block = fake[labels == label]
            blocks += [block, blank.expand(-len(block) % columns, *fake.shape[1:])]
        return image_grid(torch.cat(blocks), nrow=columns)


def window(datamodule: GANDataModule, extent: float) -> Limits:
    """Per coordinate, the data-space interval of model space ±`extent` (where the nets' numbers live)."""
    low, high = (datamodule.to_data_space(torch.full(tuple(datamodule.sample_shape), sign * extent)) for sign in (-1, 1))
    return list(zip(low.tolist(), high.tolist()))


def verdict_on_grid(gan: GAN, datamodule: GANDataModule, limits: Limits, points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """D's verdict (`gan.score`) on a regular grid of `points` per coordinate over `limits` (data space): the grid
    (points^d × d) and the verdicts, shaped `points` per coordinate (rows: the second coordinate)."""
    axes = torch.meshgrid(*(torch.linspace(low, high, points) for low, high in limits), indexing="xy")
    grid = torch.stack([axis.flatten() for axis in axes], dim=1)
    return grid, gan.score(datamodule.to_model_space(grid)).cpu().view(axes[0].shape)


class TrainingSamples:
    """The training split of the datamodule, read on first use (the toy pictures show it beside the samples)."""

    def __init__(self) -> None:
        self.samples: torch.Tensor | None = None

    def __call__(self, datamodule: GANDataModule) -> torch.Tensor:
        if self.samples is None:
            self.samples = datamodule.load(datamodule.train_split)[0]
        return self.samples


class HistogramWithCritic:
    """Points on a line: histograms of real and generated samples, and D's verdict along the window."""

    def __init__(self, size: int = 1000, extent: float = 3.0, bins: int = 60, grid_points: int = 400) -> None:
        self.size, self.extent, self.bins, self.grid_points = size, extent, bins, grid_points
        self.real = TrainingSamples()

    @staticmethod
    def title(fake: torch.Tensor, real: torch.Tensor) -> str:
        return (f"generated: mean {fake.mean():.2f}, std {fake.std():.2f}   "
                f"real: mean {real.mean():.2f}, std {real.std():.2f}")

    def __call__(self, fake: torch.Tensor, labels: torch.Tensor, gan: GAN, datamodule: GANDataModule) -> np.ndarray:
        real, limits = self.real(datamodule), window(datamodule, self.extent)
        grid, verdict = verdict_on_grid(gan, datamodule, limits, self.grid_points)
        return histogram_with_critic(real[:, 0].numpy(), fake[:, 0].numpy(), grid[:, 0].numpy(), verdict.numpy(),
                                     limits[0], gan.objective.score_limits, self.title(fake, real), self.bins)


class ScatterWithCritic:
    """Points in the plane: real and generated samples over a heat map of D's verdict on the window."""

    def __init__(self, size: int = 1000, extent: float = 1.5, grid_points: int = 100) -> None:
        self.size, self.extent, self.grid_points = size, extent, grid_points
        self.real = TrainingSamples()

    @staticmethod
    def title(fake: torch.Tensor, real: torch.Tensor) -> str:
        distance = torch.cdist(fake, real).min(dim=1).values.mean()
        return f"mean distance of a generated point to the nearest real one: {distance:.3f}"

    def __call__(self, fake: torch.Tensor, labels: torch.Tensor, gan: GAN, datamodule: GANDataModule) -> np.ndarray:
        real, limits = self.real(datamodule), window(datamodule, self.extent)
        _, verdict = verdict_on_grid(gan, datamodule, limits, self.grid_points)
        return scatter_with_critic(real.numpy(), fake.numpy(), verdict.numpy(), limits, gan.objective.score_limits,
                                   self.title(fake, real))


class SamplePreview(L.Callback):
    """Draws the generator's output on the same noise (and labels) at the end of every `every_n_epochs` epochs
    and of the last, with the drawer of the data's kind of sample. A module that cannot sample (the domain
    classifier, trained with the same callbacks) has nothing to show.
    """

    def __init__(
        self, dirpath: str | Path, drawers: Mapping[str, PreviewDrawer], seed: int = 0, every_n_epochs: int = 1,
        gif: bool = True,
    ) -> None:
        sizes = {f"drawers.{kind}.size": drawer.size for kind, drawer in drawers.items()}
        for key, value in {"every_n_epochs": every_n_epochs, **sizes}.items():
            if value < 1:
                raise ConfigError(f"callbacks.sample_preview.{key} must be a positive integer, got {value}")
        self.dirpath, self.drawers, self.seed, self.every_n_epochs, self.gif = Path(dirpath), drawers, seed, every_n_epochs, gif
        self.drawer: PreviewDrawer | None = None
        self.noise: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not callable(getattr(pl_module, "sample", None)):
            return
        datamodule = trainer.datamodule
        kind = sample_kind(datamodule.sample_shape)
        if kind not in self.drawers:
            raise ConfigError(f"no preview drawer for {kind} samples (shape {list(datamodule.sample_shape)}); add "
                              f"callbacks.sample_preview.drawers.{kind} or choose one of {sorted(self.drawers)}")
        self.drawer = self.drawers[kind]
        self.labels = balanced_labels(self.drawer.size, max(datamodule.num_classes, 1))
        self.noise = draw_noise(pl_module, len(self.labels), self.seed)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.drawer is None or not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch
        if (epoch + 1) % self.every_n_epochs and not is_last_epoch(trainer):
            return
        datamodule = trainer.datamodule
        fake = render(pl_module, datamodule.to_data_space, self.noise, self.labels)
        picture = self.drawer(fake, self.labels, pl_module, datamodule)
        save_png(picture, self.dirpath / f"epoch_{epoch:03d}.png")
        for logger in trainer.loggers:
            if hasattr(logger.experiment, "add_image"):
                logger.experiment.add_image("samples", picture, global_step=epoch, dataformats="HWC")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.gif and self.drawer is not None and trainer.is_global_zero:
            save_gif(sorted(self.dirpath.glob("epoch_*.png")), self.dirpath / "training.gif")
