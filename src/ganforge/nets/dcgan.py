"""Convolutional generator and discriminator of the DCGAN family (the MNIST lab's architecture)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.common import Critique, LabelEmbedding, image_dims, square_base


def _same_padding(kernel_size: int) -> int:
    if kernel_size % 2 == 0:
        raise ConfigError(f"kernel_size must be odd so convolutions keep their grid, got {kernel_size}")
    return kernel_size // 2


class DCGANGenerator(nn.Module):
    """z (+ label embedding) → Dense to channels[0]×s×s → ConvT stride 1 → ConvT stride 2 … → image, tanh.

    Every hidden layer is BN + LeakyReLU. With channels (256, 128, 64) and 28×28 images this is
    7×7×256 → 7×7×128 → 14×14×64 → 28×28×C.
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
    ) -> None:
        super().__init__()
        out_channels, self.base_size = square_base(image_shape, channels, "DCGAN")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.base_channels = channels[0]
        padding = _same_padding(kernel_size)
        self.condition = LabelEmbedding(num_classes, embed_dim)
        self.project = nn.Sequential(
            nn.Linear(latent_dim + self.condition.extra_features, channels[0] * self.base_size**2, bias=False),
            nn.BatchNorm1d(channels[0] * self.base_size**2),
            nn.LeakyReLU(negative_slope),
        )
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(channels[:-1], channels[1:])):
            stride = 1 if i == 0 else 2
            layers += [
                nn.ConvTranspose2d(fan_in, fan_out, kernel_size, stride, padding, output_padding=stride - 1, bias=False),
                nn.BatchNorm2d(fan_out),
                nn.LeakyReLU(negative_slope),
            ]
        layers += [nn.ConvTranspose2d(channels[-1], out_channels, kernel_size, 2, padding, output_padding=1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        grid = self.project(self.condition(z, labels)).view(len(z), self.base_channels, self.base_size, self.base_size)
        return self.upsample(grid)


class DCGANDiscriminator(nn.Module):
    """Image (+ a label map as an extra channel) → stride-2 convs with LeakyReLU and dropout → one logit."""

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        channels: Sequence[int] = (64, 128),
        kernel_size: int = 5,
        negative_slope: float = 0.3,
        dropout: float = 0.3,
        num_classes: int = 0,
        embed_dim: int = 50,
    ) -> None:
        super().__init__()
        in_channels, height, width = image_dims(image_shape)
        self.num_classes, self.image_shape = num_classes, tuple(image_shape)
        padding = _same_padding(kernel_size)
        # The label enters as one more image channel: its embedding, projected to H×W.
        self.label_map = (
            nn.Sequential(nn.Embedding(num_classes, embed_dim), nn.Linear(embed_dim, height * width))
            if num_classes
            else None
        )
        layers: list[nn.Module] = []
        fan_in = in_channels + (1 if num_classes else 0)
        for fan_out in channels:
            layers += [nn.Conv2d(fan_in, fan_out, kernel_size, 2, padding), nn.LeakyReLU(negative_slope), nn.Dropout(dropout)]
            fan_in = fan_out
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(channels[-1] * height * width, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        if self.label_map is not None:
            x = torch.cat([x, self.label_map(labels).view(len(x), 1, *self.image_shape[1:])], dim=1)
        features = self.body(x)
        return Critique(self.head(features).squeeze(1), features)
