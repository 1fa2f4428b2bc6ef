"""Pieces every generator and discriminator shares."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.layers import Dropout
from ganforge.nets.spectral_norm import INITIAL_ITERATIONS, SpectralNorm


class Critique(NamedTuple):
    """What a discriminator says about a batch."""

    logits: torch.Tensor  # (N,) realness: a logit, or a critic value under a Wasserstein objective
    features: torch.Tensor  # (N, F) the last hidden layer: for feature matching and t-SNE
    class_logits: torch.Tensor | None = None  # (N, classes) from an auxiliary classifier head


class LabelEmbedding(nn.Module):
    """Appends a learned embedding of the class label to flat inputs; without classes it adds nothing."""

    def __init__(self, num_classes: int, embed_dim: int = 50) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.embedding = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.extra_features = embed_dim if num_classes else 0

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.embedding is None:
            return inputs
        return torch.cat([inputs, self.embedding(labels)], dim=1)


def check_latent_dim(latent_dim: int) -> int:
    """`latent_dim`, or a ConfigError when it is below 1: without noise every sample (of a class) is the same."""
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
        raise ConfigError(f"model.generator.latent_dim must be at least 1 (a generator without noise draws one sample "
                          f"over and over), got {latent_dim!r}")
    return latent_dim


def image_dims(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """(channels, height, width) of a convolutional net's images; a ConfigError for any other sample shape."""
    if len(image_shape) != 3:
        raise ConfigError(f"this model's nets are convolutional and need data.sample_shape [channels, height, width], "
                          f"got {list(image_shape)}; for points choose model=mlp_gan or model=toy")
    channels, height, width = image_shape
    return channels, height, width


def grid_halvings(
    image_shape: Sequence[int], coarsest_side: int, exact: bool, at_least: int = 0
) -> tuple[int, tuple[int, int]]:
    """How often the image grid is halved until neither side exceeds `coarsest_side`, and the grid it ends at.

    `exact` (generators, which double back up) stops early at an odd side; otherwise sides round up
    (discriminators' stride-2 convolutions), and at least `at_least` halvings are made.
    28 → 14 → 7 and 32 → 16 → 8 → 4 with `coarsest_side` 7.
    """
    _, height, width = image_dims(image_shape)
    if coarsest_side < 1:
        raise ConfigError(f"coarsest_side must be a positive number of pixels, got {coarsest_side}")
    halvings = 0
    while (max(height, width) > coarsest_side or halvings < at_least) and not (exact and (height % 2 or width % 2)):
        height, width, halvings = -(-height // 2), -(-width // 2), halvings + 1
    return halvings, (height, width)


def widths_toward_image(channels: Sequence[int], count: int) -> list[int]:
    """`count` layer widths from `channels`, listed from the coarsest grid to the image.

    The widths nearest the image are the ones kept: a longer list loses its first (coarsest) entries,
    a shorter one repeats its first entry in front. So one list serves every image size, e.g.
    (512, 256, 128, 64) gives (256, 128, 64) for three layers and (512, 512, 256, 128, 64) for five.
    """
    widths = list(channels)
    if not widths or min(widths) < 1:
        raise ConfigError(f"channels must be a non-empty list of positive widths, got {widths}")
    return [widths[0]] * (count - len(widths)) + widths[max(len(widths) - count, 0):]


class LatentProjection(nn.Module):
    """z (+ a label embedding) → Linear → batch norm (→ LeakyReLU) → a channels×H×W grid: where a conv generator starts.

    The Linear has no bias: the batch norm right after it would cancel one. `negative_slope` None leaves
    the grid without an activation (the AC-GAN generator activates after its first upsampling instead).
    """

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        grid: tuple[int, int],
        num_classes: int = 0,
        embed_dim: int = 50,
        negative_slope: float | None = None,
    ) -> None:
        super().__init__()
        self.condition = LabelEmbedding(num_classes, embed_dim)
        self.grid_shape = (channels, *grid)
        features = channels * grid[0] * grid[1]
        layers: list[nn.Module] = [
            nn.Linear(latent_dim + self.condition.extra_features, features, bias=False),
            nn.BatchNorm1d(features),
        ]
        if negative_slope is not None:
            layers.append(nn.LeakyReLU(negative_slope))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(self.condition(z, labels)).view(len(z), *self.grid_shape)


def generator_stages(
    image_shape: Sequence[int], channels: Sequence[int], coarsest_side: int, net: str
) -> tuple[list[int], tuple[int, int]]:
    """A conv generator's layer widths, coarse to fine (one per doubling, plus the first grid's), and its first grid.

    The first grid is the image halved until its sides are at most `coarsest_side`; `channels` is fitted
    to the number of widths that takes by `widths_toward_image`.
    """
    doublings, grid = grid_halvings(image_shape, coarsest_side, exact=True)
    if doublings < 1:
        raise ConfigError(
            f"the {net} generator doubles its grid at least once, so the image sides must be even and larger than "
            f"coarsest_side={coarsest_side}; got image_shape={list(image_shape)}"
        )
    return widths_toward_image(channels, doublings + 1), grid


def discriminator_stages(
    image_shape: Sequence[int], channels: Sequence[int], coarsest_side: int
) -> tuple[list[int], tuple[int, int]]:
    """A conv discriminator's stride-2 layer widths from the image inward, and the grid it ends at.

    One layer per halving until the sides are at most `coarsest_side` (at least one); `channels`, listed
    from the image inward, is fitted by the generators' rule: the entries nearest the image are kept.
    """
    halvings, grid = grid_halvings(image_shape, coarsest_side, exact=False, at_least=1)
    return widths_toward_image(list(channels)[::-1], halvings)[::-1], grid


def mlp(sizes: Sequence[int], negative_slope: float, dropout: float = 0.0, batch_norm: bool = False) -> nn.Sequential:
    """Linear layers between consecutive `sizes`, each followed by (BN,) LeakyReLU (ReLU at slope 0) (, dropout)."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(fan_in, fan_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(fan_out))
        layers.append(nn.LeakyReLU(negative_slope) if negative_slope else nn.ReLU())
        if dropout:
            layers.append(Dropout(dropout))
    return nn.Sequential(*layers)


def init_normal_(module: nn.Module, std: float = 0.02) -> None:
    """The DCGAN initialisation: weights ~ N(0, std), batch-norm scales ~ N(1, std), biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
            if isinstance(layer, SpectralNorm):  # its estimate of σ belonged to the weights just replaced
                layer.power_iteration(INITIAL_ITERATIONS)
        elif isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.affine:  # conditional ones own no scale
            nn.init.normal_(layer.weight, 1.0, std)
            nn.init.zeros_(layer.bias)


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """`module` in eval mode (dropout off, batch-norm running statistics) for the block, then as it was."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
