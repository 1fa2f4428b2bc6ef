"""Decoding one picture file into a uint8 tensor of a fixed shape: the only code that reads a user's pixels."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

# PIL's own default: about a quarter of a gigapixel (89,478,485 pixels).
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS
# Modes PIL opens 16-bit grayscale files in; its convert("L") would clip them to 0 or 255.
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# What a picture over `pixel_limit` raises, before it is decoded.
TOO_LARGE = (Image.DecompressionBombError, Image.DecompressionBombWarning)
# What a broken, truncated or foreign file raises while it is opened and decoded.
UNREADABLE = (
    OSError,  # includes PIL.UnidentifiedImageError and truncated files
    ValueError,
    SyntaxError,  # some PIL plugins report malformed headers this way
    EOFError,
    struct.error,
)


@contextmanager
def pixel_limit(max_pixels: int | None) -> Iterator[None]:
    """Within the block, any picture larger than `max_pixels` (None: no limit) raises before it is decoded.

    PIL only warns between its limit and twice that; here every picture over the limit is refused alike.
    """
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def opaque(picture: Image.Image, background: Sequence[int]) -> Image.Image:
    """`picture` without transparency, composited over the `background` colour; 16-bit grayscale scaled to 8 bits."""
    if picture.mode in SIXTEEN_BIT_MODES:
        pixels = np.asarray(picture, dtype=np.float64) / 257.0
        return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")
    if not picture.has_transparency_data:
        return picture
    canvas = Image.new("RGBA", picture.size, (*background, 255))
    return Image.alpha_composite(canvas, picture.convert("RGBA")).convert("RGB")


def decode_picture(file: Path, shape: Sequence[int], background: Sequence[int] = (255, 255, 255)) -> torch.Tensor:
    """A picture file as a C×H×W uint8 tensor of `shape` (C = 1 grey or 3 RGB).

    The picture is turned upright by its EXIF orientation, flattened onto `background`, converted,
    centre-cropped to the aspect ratio of `shape` and resized with Lanczos (antialiased when shrinking).
    Raises one of `UNREADABLE` for a file that is not a readable picture, one of `TOO_LARGE` over `pixel_limit`.
    """
    channels, height, width = shape
    with Image.open(file) as picture:
        # JPEGs decode at 1/2, 1/4 or 1/8 scale when that still covers the target: big photos read far faster.
        picture.draft(None, (max(height, width),) * 2)
        upright = ImageOps.exif_transpose(picture)
        converted = opaque(upright, background).convert("L" if channels == 1 else "RGB")
        fitted = ImageOps.fit(converted, (width, height), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(fitted).copy()).view(height, width, channels).permute(2, 0, 1).contiguous()
