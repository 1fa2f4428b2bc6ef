"""Convolutional generator and discriminator of the DCGAN family (the MNIST lab's architecture).

Their depth follows the image size: the image is halved until its sides are at most `coarsest_side`,
which gives the generator's first grid and the discriminator's last (28 → 7, 32 and 64 → 4).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.common import (
    Critique,
    LatentProjection,
    check_latent_dim,
    discriminator_stages,
    generator_stages,
    image_dims,
)
from ganforge.nets.layers import ConditionalBatchNorm2d, Dropout, ProjectionHead
from ganforge.nets.spectral_norm import spectrally_normalised


GENERATOR_CONDITIONING = ("concat", "batch_norm")
DISCRIMINATOR_CONDITIONING = ("channel", "projection")


def _same_padding(kernel_size: int) -> int:
    if kernel_size % 2 == 0:
        raise ConfigError(f"kernel_size must be odd so convolutions keep their grid, got {kernel_size}")
    return kernel_size // 2


class DCGANGenerator(nn.Module):
    """z (+ label embedding) → Dense to a coarse grid → ConvT stride 1 → ConvT stride 2 … → image, tanh.

    Every hidden layer is BN + LeakyReLU. With 28×28 images the grid starts at 7×7 and doubles twice:
    channels (256, 128, 64) give 7×7×256 → 7×7×128 → 14×14×64 → 28×28×C. A 64×64 image starts at 4×4
    and doubles four times, so it needs five widths: `channels` (coarse to fine) is fitted to that count
    by `widths_toward_image` (the last entries kept, the first repeated).
    With classes, `conditioning: concat` joins a label embedding to z; `batch_norm` gives the batch norms
    of the convolutions a scale and shift per class instead.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        channels: Sequence[int] = (256, 128, 64),
        kernel_size: int = 5,
        negative_slope: float = 0.3,
        num_classes: int = 0,
        embed_dim: int = 50,
        coarsest_side: int = 7,
        conditioning: str = "concat",
    ) -> None:
        super().__init__()
        if conditioning not in GENERATOR_CONDITIONING:
            raise ConfigError(f"generator conditioning must be one of {GENERATOR_CONDITIONING}, got {conditioning!r}")
        out_channels = image_dims(image_shape)[0]
        widths, grid = generator_stages(image_shape, channels, coarsest_side, "DCGAN")
        self.latent_dim, self.num_classes = check_latent_dim(latent_dim), num_classes
        padding = _same_padding(kernel_size)
        concat_classes = num_classes if conditioning == "concat" else 0
        self.project = LatentProjection(latent_dim, widths[0], grid, concat_classes, embed_dim, negative_slope)
        self.convolutions = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            stride = 1 if i == 0 else 2
            self.convolutions.append(
                nn.ConvTranspose2d(fan_in, fan_out, kernel_size, stride, padding, output_padding=stride - 1, bias=False))
            self.norms.append(ConditionalBatchNorm2d(fan_out, num_classes - concat_classes))
        self.activation = nn.LeakyReLU(negative_slope)
        self.to_image = nn.Sequential(
            nn.ConvTranspose2d(widths[-1], out_channels, kernel_size, 2, padding, output_padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.project(z, labels)
        for convolution, norm in zip(self.convolutions, self.norms):
            x = self.activation(norm(convolution(x), labels))
        return self.to_image(x)


class DCGANDiscriminator(nn.Module):
    """Image → stride-2 convs with LeakyReLU and dropout → one logit.

    One conv per halving down to `coarsest_side` (28 → 14 → 7, 64 → 32 → 16 → 8 → 4); `channels` lists
    the widths from the image inward and is fitted to that count (the first entries kept, the last repeated).
    With classes, `conditioning: channel` adds the label as an extra image channel (its embedding projected
    to H×W); `projection` judges the features with a projection head instead. `spectral_norm` divides every
    weight by its largest singular value.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        channels: Sequence[int] = (64, 128),
        kernel_size: int = 5,
        negative_slope: float = 0.3,
        dropout: float = 0.3,
        num_classes: int = 0,
        embed_dim: int = 50,
        coarsest_side: int = 7,
        conditioning: str = "channel",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        if conditioning not in DISCRIMINATOR_CONDITIONING:
            raise ConfigError(f"discriminator conditioning must be one of {DISCRIMINATOR_CONDITIONING}, got {conditioning!r}")
        in_channels, height, width = image_dims(image_shape)
        self.num_classes, self.image_shape = num_classes, tuple(image_shape)
        padding = _same_padding(kernel_size)
        widths, (final_height, final_width) = discriminator_stages(image_shape, channels, coarsest_side)
        self.label_map = (
            nn.Sequential(nn.Embedding(num_classes, embed_dim), nn.Linear(embed_dim, height * width))
            if num_classes and conditioning == "channel"
            else None
        )
        layers: list[nn.Module] = []
        fan_in = in_channels + (self.label_map is not None)
        for fan_out in widths:
            layers += [nn.Conv2d(fan_in, fan_out, kernel_size, 2, padding), nn.LeakyReLU(negative_slope), Dropout(dropout)]
            fan_in = fan_out
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = ProjectionHead(widths[-1] * final_height * final_width, num_classes if conditioning == "projection" else 0)
        if spectral_norm:
            spectrally_normalised(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        if self.label_map is not None:
            x = torch.cat([x, self.label_map(labels).view(len(x), 1, *self.image_shape[1:])], dim=1)
        features = self.body(x)
        return Critique(self.head(features, labels), features)
