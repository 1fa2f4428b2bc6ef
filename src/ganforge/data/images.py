"""Image datasets held as uint8 tensors, and the MNIST-style ones read from IDX files."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import torch
import torchvision

from ganforge.data.base import GANDataModule
from ganforge.data.idx import read_split
from ganforge.data.sources import find_or_download
from ganforge.errors import ConfigError, DataError


class ImageDataModule(GANDataModule, ABC):
    """uint8 pixels in memory and on disk; floats in [-1, 1] on the device."""

    def to_model_space(self, samples: torch.Tensor) -> torch.Tensor:
        return samples.float().div_(127.5).sub_(1.0)

    def to_data_space(self, samples: torch.Tensor) -> torch.Tensor:
        return samples.add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)

    @staticmethod
    def check_split(split: str) -> None:
        if split not in ("train", "test"):
            raise ConfigError(f"data.train_split must be 'train' or 'test', got {split!r}")

    def check_shape(self, images: torch.Tensor, origin: str) -> None:
        if tuple(images.shape[1:]) != self.sample_shape:
            raise ConfigError(
                f"{origin} holds images of shape {tuple(images.shape[1:])} but data.sample_shape is "
                f"{list(self.sample_shape)}; set data.sample_shape={list(images.shape[1:])}"
            )

    def check_labels(self, labels: torch.Tensor, origin: str) -> None:
        if len(labels) and labels.max() >= self.num_classes:
            raise DataError(f"{origin}'s labels go up to {int(labels.max())} but data.class_names has "
                            f"{self.num_classes} names; fix data.class_names")


class PublishedImageDataModule(ImageDataModule, ABC):
    """A published labelled dataset: found in `root`, then in `search_dirs`, else downloaded into `root`."""

    title: str = "the dataset"  # how messages name it

    def __init__(
        self,
        class_names: Sequence[str],
        root: str = "data",
        search_dirs: Sequence[str] = (),
        download: bool = True,
        **loader_options,
    ) -> None:
        super().__init__(**loader_options)
        self.class_names = tuple(class_names)
        self.num_classes = len(self.class_names)
        self.root = Path(root)
        self.search_dirs = [Path(d) for d in search_dirs]
        self.download = download

    @property
    def folders(self) -> list[Path]:
        """Where the files are looked for, in order."""
        return [self.root, *self.search_dirs]

    @abstractmethod
    def read_split(self, folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Images and labels of `split` from the files in `folder`; None when it does not hold them."""

    @abstractmethod
    def fetch(self) -> Path:
        """Download (or extract) the dataset; the folder then holding its files."""

    @abstractmethod
    def how_to_provide(self, split: str) -> str:
        """Every way a user can make `split` available, for the message when it is not."""

    def load(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_split(split)
        what = f"{self.title}'s {split} split"
        images, labels = find_or_download(self.folders, lambda folder: self.read_split(folder, split),
                                          self.fetch if self.download else None, what, self.how_to_provide(split))
        self.check_shape(images, what)
        self.check_labels(labels, what)
        return images, labels


# The torchvision datasets shipped as MNIST-style IDX files (a checkpoint may name only these).
IDX_DATASETS = ("MNIST", "FashionMNIST", "KMNIST")


class IDXDataModule(PublishedImageDataModule):
    """MNIST-style datasets (MNIST, Fashion-MNIST) read from their four IDX files.

    Files are looked for in `root`, in `root/<torchvision_name>/raw`, in `search_dirs`
    (e.g. the Debian package's folder), and finally downloaded with torchvision.
    """

    def __init__(
        self,
        torchvision_name: str,
        class_names: Sequence[str],
        root: str = "data",
        search_dirs: Sequence[str] = (),
        download: bool = True,
        sample_shape: Sequence[int] = (1, 28, 28),
        **loader_options,
    ) -> None:
        super().__init__(class_names, root, search_dirs, download, sample_shape=sample_shape, **loader_options)
        if torchvision_name not in IDX_DATASETS:
            raise ConfigError(f"data.torchvision_name must be one of {', '.join(IDX_DATASETS)}, got {torchvision_name!r}")
        self.dataset_class = getattr(torchvision.datasets, torchvision_name)
        self.title = torchvision_name

    @property
    def folders(self) -> list[Path]:
        return [self.root, self.root / self.dataset_class.__name__ / "raw", *self.search_dirs]

    def read_split(self, folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        return read_split(folder, split)

    def fetch(self) -> Path:
        self.dataset_class(self.root, train=True, download=True)
        self.dataset_class(self.root, train=False, download=True)
        return self.root / self.dataset_class.__name__ / "raw"

    def how_to_provide(self, split: str) -> str:
        return (
            f"put the {split} IDX files (.gz or raw) in {self.root}/, point data.root at a folder holding them, "
            + (f"install them into {self.search_dirs[0]} (apt-get install dataset-fashion-mnist), " if self.search_dirs else "")
            + "or connect to the internet so torchvision can download them"
        )
