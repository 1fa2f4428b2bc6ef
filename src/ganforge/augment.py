"""Differentiable augmentation (Zhao et al., 2020): every image D sees, real or fake, is randomly transformed.

D then cannot memorise the real images, while the transform stays differentiable, so G learns through
it. The same random transforms apply to real and generated batches alike; nothing changes what G
produces or what evaluation measures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ganforge.errors import ConfigError

__all__ = ["DiffAugment"]


def random_colour(images: torch.Tensor) -> torch.Tensor:
    """Brightness ± 0.5, saturation × U(0, 2), contrast × U(0.5, 1.5), per image (model space, [-1, 1])."""
    n = len(images)
    images = images + (torch.rand(n, 1, 1, 1, device=images.device, dtype=images.dtype) - 0.5)
    mean = images.mean(dim=1, keepdim=True)
    images = (images - mean) * (torch.rand(n, 1, 1, 1, device=images.device, dtype=images.dtype) * 2) + mean
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - mean) * (torch.rand(n, 1, 1, 1, device=images.device, dtype=images.dtype) + 0.5) + mean


def shifted_indices(size: int, shifts: torch.Tensor) -> torch.Tensor:
    """Per image, the padded-axis index each output pixel reads: i − shift + 1, the zero border past the edges."""
    return (torch.arange(size, device=shifts.device) - shifts[:, None] + 1).clamp(0, size + 1)


def random_translation(images: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Each image moved by up to `ratio` of its size in x and y, the uncovered border filled with 0."""
    n, _, height, width = images.shape
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n,), device=images.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n,), device=images.device)
    padded = F.pad(images, [1, 1, 1, 1])
    rows, columns = shifted_indices(height, dy), shifted_indices(width, dx)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], columns[:, None, :]].permute(0, 3, 1, 2)


def random_cutout(images: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """A square of `ratio` × the image size, centred anywhere in the image, set to 0 in each image."""
    n, _, height, width = images.shape
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_y = torch.randint(0, height + (1 - cut_h % 2), (n, 1), device=images.device)
    centre_x = torch.randint(0, width + (1 - cut_w % 2), (n, 1), device=images.device)
    rows = torch.arange(height, device=images.device) - (centre_y - cut_h // 2)
    columns = torch.arange(width, device=images.device) - (centre_x - cut_w // 2)
    inside = ((rows >= 0) & (rows < cut_h))[:, :, None] & ((columns >= 0) & (columns < cut_w))[:, None, :]
    return images * (~inside).unsqueeze(1).to(images.dtype)


TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "colour": random_colour,
    "translation": random_translation,
    "cutout": random_cutout,
}


class DiffAugment:
    """The transforms of `policy`, in order, each drawn afresh per image: `colour`, `translation`, `cutout`.

    The paper's choice is translation and cutout for grayscale images and all three for colour ones.
    """

    def __init__(self, policy: Sequence[str] = ("translation", "cutout")) -> None:
        unknown = [name for name in policy if name not in TRANSFORMS]
        if unknown or not policy:
            raise ConfigError(f"DiffAugment.policy must list some of {', '.join(TRANSFORMS)}, got {list(policy)}")
        self.policy = tuple(policy)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise ConfigError(f"DiffAugment transforms images (N×C×H×W), got a batch of shape {tuple(images.shape)}")
        for name in self.policy:
            images = TRANSFORMS[name](images)
        return images
