"""The generator playground: latent vectors from seeds, truncation, interpolation and arithmetic, and their pictures.

A seed names one latent vector: seed s draws what `python generate.py seed=s n=1` draws, so a grid starting at
seed s shows the samples of seeds s, s+1, … and any of them can be found again by its number.
The maths is plain torch; the pictures need only a loaded checkpoint (`AppModel`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch_fidelity.noise import batch_slerp_any

from ganforge.app.loading import AppModel
from ganforge.errors import ConfigError
from ganforge.models.base import GAN
from ganforge.evaluation.context import NotApplicable
from ganforge.evaluation.grids import blended_label_embeddings
from ganforge.viz.images import image_grid

Picture = np.ndarray  # H×W×3 uint8, as shown and downloaded


@dataclass(frozen=True)
class Canvas:
    """How generated images become one picture: tiles `padding` pixels apart, every pixel `zoom`×`zoom` large."""

    zoom: int = 4
    padding: int = 2

    def tile(self, images: torch.Tensor, columns: int) -> Picture:
        """uint8 images N×C×H×W in rows of `columns`, enlarged (nearest neighbour, no blur)."""
        picture = image_grid(images, nrow=columns, padding=self.padding)
        if len(images) == 1:  # make_grid returns a lone image unpadded; pad it like a tile of a grid
            picture = np.pad(picture, ((self.padding,) * 2, (self.padding,) * 2, (0, 0)), constant_values=255)
        return picture.repeat(self.zoom, axis=0).repeat(self.zoom, axis=1)


# --------------------------------------------------------------------------------------------------
# Latent maths


def grid_columns(count: int) -> int:
    """Columns of a square-ish grid of `count` images."""
    return math.ceil(math.sqrt(count))


def truncate(z: torch.Tensor, threshold: float | None, generator: torch.Generator) -> torch.Tensor:
    """The truncation trick (BigGAN): entries beyond ±`threshold` are redrawn from N(0, 1) truncated to ±threshold.

    Entries already inside stay as they are, so a lower threshold only tames a seed's extreme values.
    None or 0 switches truncation off.
    """
    if not threshold:
        return z
    if threshold < 0:
        raise ConfigError(f"truncation must be positive (or 0 for none), got {threshold}")
    low, high = torch.special.ndtr(torch.tensor(-threshold)), torch.special.ndtr(torch.tensor(threshold))
    uniform = torch.rand(z.shape, generator=generator, device=generator.device)
    redrawn = torch.special.ndtri(low + uniform * (high - low)).clamp(-threshold, threshold).to(z)
    return torch.where(z.abs() > threshold, redrawn, z)


def seed_latents(gan: GAN, seeds: Sequence[int], truncation: float | None = None) -> torch.Tensor:
    """One latent vector per seed (len(seeds) × latent_dim, on the CPU): seed s is generate.py's first z of seed=s."""
    vectors = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        vectors.append(truncate(gan.sample_noise(1, generator=generator).cpu(), truncation, generator))
    return torch.cat(vectors)


def interpolate(start: torch.Tensor, end: torch.Tensor, t: float) -> torch.Tensor:
    """The point at `t` (0 … 1) on the great circle from `start` to `end` (slerp, row by row): exactly `start` at 0."""
    return batch_slerp_any(start, end, torch.full((len(start), 1), float(t)))


def class_mixture(num_classes: int, first: int, second: int, t: float) -> torch.Tensor:
    """Per-class weights (1 × classes) blending class `first` into class `second`: (1 − t)·e_first + t·e_second."""
    weights = torch.zeros(1, num_classes)
    weights[0, first] += 1 - t
    weights[0, second] += t
    return weights


def latent_arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """mean(a) − mean(b) + mean(c) of three sets of latent vectors (rows), as one 1 × latent_dim vector.

    Averaging a few exemplars per term, as Radford et al. (DCGAN) did, keeps one sample's quirks out of the sum.
    """
    return a.mean(0, keepdim=True) - b.mean(0, keepdim=True) + c.mean(0, keepdim=True)


def parse_seeds(text: str | int | float, what: str = "seeds") -> list[int]:
    """Seeds typed as "3", "3, 17, 42" or "3 17 42"; a ConfigError saying what to type otherwise."""
    parts = [part for part in re.split(r"[,\s]+", str(text).strip()) if part]
    if not parts or not all(re.fullmatch(r"\d+", part) for part in parts):
        raise ConfigError(f"{what}: type one or more whole numbers ≥ 0, e.g. 3 or 3, 17, 42 (got {str(text)!r})")
    return [int(part) for part in parts]


# --------------------------------------------------------------------------------------------------
# Pictures of a checkpoint


def check_class(model: AppModel, label: int) -> int:
    if not 0 <= label < len(model.class_names):
        raise ConfigError(f"class {label} is not a class of this model (0–{len(model.class_names) - 1})")
    return label


def row_labels(model: AppModel, label: int | None) -> list[int | None]:
    """The class of each row: every class for a conditional model when `label` is None, else `label`; None when
    the model is unconditional."""
    if not model.gan.conditional:
        return [None]
    return list(range(len(model.class_names))) if label is None else [check_class(model, label)]


def render_rows(model: AppModel, z: torch.Tensor, labels: list[int | None]) -> torch.Tensor:
    """Images of the same latent vectors `z` once per row label (rows × len(z) images)."""
    rows = len(labels)
    repeated = z.repeat(rows, 1)
    classes = None if labels[0] is None else torch.tensor(labels).repeat_interleave(len(z))
    return model.render(repeated, classes)


def sample_grid(
    model: AppModel, canvas: Canvas, seed: int, count: int, label: int | None = None, truncation: float | None = None,
) -> Picture:
    """The samples of seeds seed … seed+count−1: for a conditional model and no `label`, one row per class
    (a column keeps its z); otherwise a square-ish grid."""
    z = seed_latents(model.gan, range(seed, seed + count), truncation)
    labels = row_labels(model, label)
    columns = count if len(labels) > 1 else grid_columns(count)
    return canvas.tile(render_rows(model, z, labels), columns)


def grid_caption(model: AppModel, seed: int, count: int, label: int | None = None) -> str:
    """What `sample_grid` shows, in words."""
    seeds = f"seed {seed}" if count == 1 else f"seeds {seed}–{seed + count - 1}"
    labels = row_labels(model, label)
    if len(labels) > 1:
        return f"Columns: {seeds}. Rows: {', '.join(model.class_names)}."
    named = "" if labels[0] is None else f" of class {model.class_names[labels[0]]}"
    return f"Samples{named} of {seeds}, row by row."


def seed_interpolation(
    model: AppModel, canvas: Canvas, first: int, second: int, t: float, label: int | None = None,
    truncation: float | None = None,
) -> Picture:
    """The sample at `t` on the way from seed `first`'s z to seed `second`'s (one per class of `row_labels`)."""
    start, end = seed_latents(model.gan, [first, second], truncation)
    labels = row_labels(model, label)
    return canvas.tile(render_rows(model, interpolate(start[None], end[None], t), labels), 1)


def class_interpolation(
    model: AppModel, canvas: Canvas, seed: int, first: int, second: int, t: float, truncation: float | None = None,
) -> Picture:
    """Seed `seed`'s sample, its label embedding blended from class `first` to class `second` (conditional models)."""
    if not model.gan.conditional:
        raise ConfigError("the model is unconditional: it has no classes to interpolate between")
    first, second = check_class(model, first), check_class(model, second)
    z = seed_latents(model.gan, [seed], truncation)
    try:
        # Every embedding of the module is blended, so whichever generator copy samples (live or EMA) is.
        with blended_label_embeddings(model.gan, class_mixture(len(model.class_names), first, second, t)):
            images = model.render(z, torch.tensor([first]))
    except NotApplicable as reason:
        raise ConfigError(f"cannot interpolate classes: {reason}") from reason
    return canvas.tile(images, 1)


def arithmetic_picture(
    model: AppModel, canvas: Canvas, a: Sequence[int], b: Sequence[int], c: Sequence[int], label: int | None = None,
    truncation: float | None = None,
) -> Picture:
    """Columns a, b, c (each the mean z of its seeds) and a − b + c; one row per class of `row_labels`."""
    terms = [seed_latents(model.gan, seeds, truncation) for seeds in (a, b, c)]
    z = torch.cat([*(term.mean(0, keepdim=True) for term in terms), latent_arithmetic(*terms)])
    return canvas.tile(render_rows(model, z, row_labels(model, label)), len(z))
