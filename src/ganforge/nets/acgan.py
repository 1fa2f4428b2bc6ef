"""The "improved GAN" of the course's MNIST project: a deeper conv generator and a three-headed discriminator."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.common import Critique, LabelEmbedding, image_dims, square_base


class ACGANGenerator(nn.Module):
    """z (+ label embedding) → Linear to channels[0]×s×s → BN → stride-2 ConvTs, each LeakyReLU → BN
    → 3×3 refinement convs, each LeakyReLU → BN → 3×3 conv → tanh.

    With channels (256, 128, 64) and 28×28 images: 7×7×256 → 14×14×128 → 28×28×64 → refinement → 28×28×C.
    Unconditional by default (as in the course); `num_classes` > 0 makes it an Odena-style conditional G.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        channels: Sequence[int] = (256, 128, 64),
        refine_channels: Sequence[int] = (64, 32),
        negative_slope: float = 0.2,
        num_classes: int = 0,
        embed_dim: int = 50,
    ) -> None:
        super().__init__()
        out_channels, self.base_size = square_base(image_shape, channels, "AC-GAN")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.base_channels = channels[0]
        self.condition = LabelEmbedding(num_classes, embed_dim)
        self.project = nn.Sequential(
            nn.Linear(latent_dim + self.condition.extra_features, channels[0] * self.base_size**2),
            nn.BatchNorm1d(channels[0] * self.base_size**2),
        )
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(channels[:-1], channels[1:]):
            # kernel 4, stride 2, padding 1 doubles the side exactly
            layers += [nn.ConvTranspose2d(fan_in, fan_out, 4, 2, 1), nn.LeakyReLU(negative_slope), nn.BatchNorm2d(fan_out)]
        refine_widths = [channels[-1], *refine_channels]
        for fan_in, fan_out in zip(refine_widths[:-1], refine_widths[1:]):
            layers += [nn.Conv2d(fan_in, fan_out, 3, padding=1), nn.LeakyReLU(negative_slope), nn.BatchNorm2d(fan_out)]
        layers += [nn.Conv2d(refine_widths[-1], out_channels, 3, padding=1), nn.Tanh()]
        self.synthesis = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        grid = self.project(self.condition(z, labels)).view(len(z), self.base_channels, self.base_size, self.base_size)
        return self.synthesis(grid)


class ACGANDiscriminator(nn.Module):
    """Image → stride-2 3×3 convs (each LeakyReLU and dropout, BN on all but the first) → flatten → three heads.

    28×28 → 14 → 7 → 4 → 2 with channels (64, 128, 256, 512). The heads: a validity logit from the
    flattened maps; `feature_dim` features (LeakyReLU), what feature matching and t-SNE look at; and the
    auxiliary classifier, dropout then Linear from those features to `num_classes` logits.
    Labels are not an input: this D tells the class, it is not told it.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        channels: Sequence[int] = (64, 128, 256, 512),
        feature_dim: int = 256,
        negative_slope: float = 0.2,
        dropout: float = 0.25,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"the AC-GAN discriminator classifies: num_classes must be at least 1, got {num_classes}")
        in_channels, height, width = image_dims(image_shape)
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        for i, fan_out in enumerate(channels):
            layers.append(nn.Conv2d(in_channels if i == 0 else channels[i - 1], fan_out, 3, 2, 1))
            if batch_norm and i > 0:
                layers.append(nn.BatchNorm2d(fan_out))
            layers += [nn.LeakyReLU(negative_slope), nn.Dropout(dropout)]
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        self.body = nn.Sequential(*layers, nn.Flatten())
        flat = channels[-1] * height * width
        self.validity = nn.Linear(flat, 1)
        self.features = nn.Sequential(nn.Linear(flat, feature_dim), nn.LeakyReLU(negative_slope))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        hidden = self.body(x)
        features = self.features(hidden)
        return Critique(self.validity(hidden).squeeze(1), features, self.classifier(features))
