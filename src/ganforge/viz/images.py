"""Image grids, PNG files and GIF animations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid


def image_grid(images: torch.Tensor, nrow: int = 10, padding: int = 2) -> np.ndarray:
    """uint8 images N×C×H×W tiled into one H×W×3 uint8 picture, `nrow` images per row."""
    grid = make_grid(images.cpu(), nrow=nrow, padding=padding, pad_value=255)
    return grid.permute(1, 2, 0).numpy()


def save_png(picture: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(path)
    return path


def save_gif(frames: Sequence[Path], path: str | Path, frame_ms: int = 300) -> Path | None:
    """An animation of PNG frames (the last one held longer); None when there are no frames."""
    if not frames:
        return None
    images = [Image.open(frame).convert("RGB") for frame in frames]
    durations = [frame_ms] * (len(images) - 1) + [frame_ms * 5]
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0)
    return path
