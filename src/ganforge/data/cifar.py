"""CIFAR-10: 50k training and 10k test colour pictures of 32×32 pixels in 10 classes, held as uint8 tensors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import CIFAR10

from ganforge.data.images import PublishedImageDataModule
from ganforge.errors import DataError, one_line

# The binary version's files: each record is one label byte and 32·32 red, then green, then blue bytes.
BINARY_FOLDER = "cifar-10-batches-bin"
BINARY_FILES = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
RECORD_BYTES = 1 + 3 * 32 * 32


def read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N×3×32×32 uint8) and labels of one file of CIFAR-10's binary version."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise DataError(f"cannot read {path} ({one_line(err)}); replace it with the original file") from err
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise DataError(f"{path} is truncated or not a CIFAR-10 binary batch; replace it with the original file")
    records = raw.reshape(-1, RECORD_BYTES)
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0]


def binary_split(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """`split` from the binary version's folder under `folder` (read without unpickling anything), if it is there."""
    files = [folder / BINARY_FOLDER / name for name in BINARY_FILES[split]]
    if not all(file.is_file() for file in files):
        return None
    batches = [read_binary_batch(file) for file in files]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    return torch.from_numpy(images), torch.from_numpy(labels).long()


def torchvision_split(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """`split` from torchvision's copy (the Python version) under `folder`, if it is there.

    torchvision checks every file against the published MD5 sums before it unpickles it, so only the
    genuine files are ever unpickled.
    """
    if not (folder / CIFAR10.base_folder).is_dir():
        return None
    try:
        dataset = CIFAR10(str(folder), train=split == "train", download=False)
    except RuntimeError as err:
        raise DataError(f"{folder / CIFAR10.base_folder} is incomplete or corrupt ({one_line(err)}); "
                        f"delete it so it is extracted or downloaded again") from err
    images = torch.from_numpy(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)))
    return images, torch.tensor(dataset.targets, dtype=torch.long)


class CIFAR10DataModule(PublishedImageDataModule):
    """CIFAR-10, found in `root`, then in `search_dirs`, and finally downloaded by torchvision into `root`.

    Either version is read: the binary one's `cifar-10-batches-bin/` or torchvision's
    `cifar-10-batches-py/`; with `download` the archive `cifar-10-python.tar.gz` placed in `root`
    is checked and extracted without a connection.
    """

    title = "CIFAR-10"

    def __init__(
        self,
        class_names: Sequence[str],
        root: str = "data",
        search_dirs: Sequence[str] = (),
        download: bool = True,
        sample_shape: Sequence[int] = (3, 32, 32),
        **loader_options,
    ) -> None:
        super().__init__(class_names, root, search_dirs, download, sample_shape=sample_shape, **loader_options)

    def read_split(self, folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        return binary_split(folder, split) or torchvision_split(folder, split)

    def fetch(self) -> Path:
        CIFAR10(str(self.root), train=True, download=True)  # fetches (or extracts) both splits
        return self.root

    def how_to_provide(self, split: str) -> str:
        return (
            f"put cifar-10-python.tar.gz (with data.download=true), or its extracted {CIFAR10.base_folder}/, or the "
            f"binary version's {BINARY_FOLDER}/ into {self.root}/ or point data.root at a folder holding one, "
            + ("" if self.download else "or set data.download=true ")
            + "or connect to the internet so torchvision can download it"
        )
