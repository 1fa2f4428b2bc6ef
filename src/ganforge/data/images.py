"""Image datasets held as uint8 tensors: MNIST-style IDX files and folders of pictures."""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image, ImageOps

from ganforge.data.base import GANDataModule
from ganforge.data.idx import load_split
from ganforge.errors import ConfigError, DataError, one_line


class ImageDataModule(GANDataModule, ABC):
    """uint8 pixels in memory and on disk; floats in [-1, 1] on the device."""

    def to_model_space(self, samples: torch.Tensor) -> torch.Tensor:
        return samples.float().div_(127.5).sub_(1.0)

    def to_data_space(self, samples: torch.Tensor) -> torch.Tensor:
        return samples.add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)

    def check_shape(self, images: torch.Tensor, origin: str) -> None:
        if tuple(images.shape[1:]) != self.sample_shape:
            raise ConfigError(
                f"{origin} holds images of shape {tuple(images.shape[1:])} but data.sample_shape is "
                f"{list(self.sample_shape)}; set data.sample_shape={list(images.shape[1:])}"
            )


# The torchvision datasets shipped as MNIST-style IDX files (a checkpoint may name only these).
IDX_DATASETS = ("MNIST", "FashionMNIST", "KMNIST")


class IDXDataModule(ImageDataModule):
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
        super().__init__(sample_shape=sample_shape, **loader_options)
        if torchvision_name not in IDX_DATASETS:
            raise ConfigError(f"data.torchvision_name must be one of {', '.join(IDX_DATASETS)}, got {torchvision_name!r}")
        self.dataset_class = getattr(torchvision.datasets, torchvision_name)
        self.class_names = tuple(class_names)
        self.num_classes = len(self.class_names)
        self.root = Path(root)
        self.search_dirs = [Path(d) for d in search_dirs]
        self.download = download

    @property
    def folders(self) -> list[Path]:
        return [self.root, self.root / self.dataset_class.__name__ / "raw", *self.search_dirs]

    def _download(self) -> Path:
        self.dataset_class(self.root, train=True, download=True)
        self.dataset_class(self.root, train=False, download=True)
        return self.root / self.dataset_class.__name__ / "raw"

    def how_to_provide(self, split: str) -> str:
        return (
            f"put the {split} IDX files (.gz or raw) in {self.root}/, point data.root at a folder holding them, "
            + (f"install them into {self.search_dirs[0]} (apt-get install dataset-fashion-mnist), " if self.search_dirs else "")
            + "or connect to the internet so torchvision can download them"
        )

    def load(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in ("train", "test"):
            raise ConfigError(f"data.train_split must be 'train' or 'test', got {split!r}")
        images, labels = load_split(self.folders, split, self._download if self.download else None,
                                    self.how_to_provide(split))
        self.check_shape(images, f"the {split} split")
        if labels.max() >= self.num_classes:
            raise DataError(f"the {split} labels go up to {int(labels.max())} but data.class_names has "
                            f"{self.num_classes} names; fix data.class_names")
        return images, labels


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def class_folders(path: str | Path) -> list[str]:
    """The first-level subfolders of `path` holding images: the classes of a labelled image folder."""
    root = Path(path)
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and any(_images_in(d)))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


class ImageFolderDataModule(ImageDataModule):
    """Your own pictures: every image under `path`, centre-cropped and resized to `sample_shape`.

    With one subfolder per class the images are labelled (conditional models can use them);
    a fixed random `test_fraction` of them is held out as the test split.
    """

    def __init__(
        self,
        path: str,
        class_names: Sequence[str] = (),
        sample_shape: Sequence[int] = (3, 64, 64),
        test_fraction: float = 0.1,
        **loader_options,
    ) -> None:
        super().__init__(sample_shape=sample_shape, **loader_options)
        if not 0.0 <= test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must be in [0, 1), got {test_fraction}")
        if self.sample_shape[0] not in (1, 3) or len(self.sample_shape) != 3:
            raise ConfigError(f"data.sample_shape must be [1 or 3, height, width], got {list(self.sample_shape)}")
        self.path, self.test_fraction = Path(path), test_fraction
        self.class_names = tuple(class_names)
        self.num_classes = len(self.class_names)
        self._splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def _read_all(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.path.is_dir():
            raise DataError(f"image folder {self.path} does not exist; set data.path to a folder of images")
        if self.class_names:
            files = [(f, label) for label, name in enumerate(self.class_names) for f in _images_in(self.path / name)]
        else:
            files = [(f, 0) for f in _images_in(self.path)]
        if not files:
            raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {self.path}; set data.path to a folder of images")
        images = torch.stack([self._read_image(f) for f, _ in files])
        return images, torch.tensor([label for _, label in files], dtype=torch.long)

    def _read_image(self, file: Path) -> torch.Tensor:
        channels, height, width = self.sample_shape
        try:
            with Image.open(file) as picture:
                picture = ImageOps.fit(picture.convert("L" if channels == 1 else "RGB"), (width, height), Image.BICUBIC)
        except OSError as err:
            raise DataError(f"cannot read image {file} ({one_line(err)}); remove or replace it") from err
        return torch.from_numpy(np.asarray(picture).copy()).view(height, width, channels).permute(2, 0, 1)

    def load(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in ("train", "test"):
            raise ConfigError(f"data.train_split must be 'train' or 'test', got {split!r}")
        if not self._splits:
            images, labels = self._read_all()
            order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
            n_test = int(len(images) * self.test_fraction)
            self._splits = {"test": (images[order[:n_test]], labels[order[:n_test]]),
                            "train": (images[order[n_test:]], labels[order[n_test:]])}
        return self._splits[split]
