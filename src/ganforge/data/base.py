"""The DataModule every GAN trains on: a whole split held as one tensor, served in shuffled batches."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import lightning as L
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from ganforge.errors import ConfigError



def balanced_labels(n: int, num_classes: int) -> torch.Tensor:
    """`n` labels in class order, as equal a number per class as `n` allows."""
    return torch.arange(n) * num_classes // n


def is_count(value: object, minimum: int) -> bool:
    """Whether a config value is a whole number of at least `minimum` (a string such as "abc" is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


class GANDataModule(L.LightningDataModule, ABC):
    """Batches of `(samples, labels)`: stored compactly, made model-ready on the device.

    Subclasses say how a split is loaded and how samples map to and from the model's space.
    """

    num_classes: int = 0
    class_names: Sequence[str] = ()

    def __init__(
        self,
        sample_shape: Sequence[int],
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        subset: int | None = None,
        train_split: str = "train",
    ) -> None:
        super().__init__()
        if not is_count(batch_size, 1):
            raise ConfigError(f"data.batch_size must be a positive integer, got {batch_size!r}")
        if subset is not None and not is_count(subset, 1):
            raise ConfigError(f"data.subset must be a positive number of samples or null, got {subset!r}")
        if not is_count(num_workers, 0):
            raise ConfigError(f"data.num_workers must be 0 or more, got {num_workers!r}")
        self.sample_shape = tuple(sample_shape)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.subset = subset
        self.train_split = train_split
        self.train_set: TensorDataset | None = None

    @property
    def holds_images(self) -> bool:
        """Whether samples are C×H×W images (uint8 in data space) rather than points."""
        return len(self.sample_shape) == 3

    @abstractmethod
    def load(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """All samples of `split` in data space, and their int64 labels."""

    @abstractmethod
    def to_model_space(self, samples: torch.Tensor) -> torch.Tensor:
        """Stored samples as the float tensors the nets see."""

    @abstractmethod
    def to_data_space(self, samples: torch.Tensor) -> torch.Tensor:
        """The inverse of `to_model_space` (generated samples back to, e.g., uint8 pixels)."""

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        samples, labels = self.load(self.train_split)
        if self.subset is not None and self.subset > len(samples):
            raise ConfigError(f"data.subset={self.subset} is more than the {len(samples)} samples of the "
                              f"{self.train_split} split; lower it, or set data.subset=null to train on all of them")
        if self.subset is not None and self.subset < len(samples):
            keep = torch.randperm(len(samples), generator=torch.Generator().manual_seed(0))[: self.subset]
            samples, labels = samples[keep], labels[keep]
        if len(samples) < self.batch_size:
            raise ConfigError(
                f"data.batch_size={self.batch_size} is larger than the {len(samples)} training samples; lower it"
            )
        self.train_set = TensorDataset(samples, labels)

    def train_dataloader(self) -> DataLoader:
        # Index the stored tensors with a whole batch of indices at once: no per-sample Python work.
        dataset, on_gpu = self.train_set, self.training_device().type == "cuda"
        if on_gpu:  # the whole uint8 split lives on the GPU: batches are gathered there, nothing crosses the bus
            dataset = TensorDataset(*(tensor.to(self.training_device()) for tensor in self.train_set.tensors))
        sampler = BatchSampler(RandomSampler(dataset), self.batch_size, drop_last=True)
        return DataLoader(
            dataset,
            sampler=sampler,
            batch_size=None,
            num_workers=0 if on_gpu else self.num_workers,
            pin_memory=self.pin_memory and not on_gpu,
            persistent_workers=self.num_workers > 0 and not on_gpu,
        )

    def training_device(self) -> torch.device:
        """The device the fitting trainer trains on (the CPU outside a fit)."""
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def on_after_batch_transfer(self, batch: tuple[torch.Tensor, torch.Tensor], dataloader_idx: int):
        samples, labels = batch
        return self.to_model_space(samples), labels
