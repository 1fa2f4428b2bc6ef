"""Reading and locating the IDX files of MNIST-style datasets."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from ganforge.errors import DataError, one_line

# The IDX magic number's third byte names the element type; MNIST-style files only use uint8.
_IDX_UINT8 = 0x08

SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an IDX file (raw or gzip-compressed) into a uint8 tensor of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read IDX file {path}: {one_line(err)}; delete it so it is fetched again") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UINT8:
        raise DataError(f"{path} is not a uint8 IDX file (bad magic number); replace it with the original file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise DataError(f"{path} is truncated or corrupt (shape {shape}); replace it with the original file")
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy())


def idx_file(folder: Path, split: str, kind: str) -> Path | None:
    """The images/labels file of `split` in `folder`, compressed or not, if present."""
    stem = f"{SPLIT_PREFIX[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_split(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Images (N×1×H×W uint8) and labels (N int64) of `split` from `folder`, when it holds both files."""
    images_file, labels_file = idx_file(folder, split, "images"), idx_file(folder, split, "labels")
    if not (images_file and labels_file):
        return None
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{images_file} and {labels_file} do not belong together; replace them with the original files")
    return images.unsqueeze(1), labels.long()
