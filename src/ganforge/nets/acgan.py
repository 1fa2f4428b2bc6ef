"""The "improved GAN" of the course's MNIST project: a deeper conv generator and a three-headed discriminator."""

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
from ganforge.nets.layers import Dropout
from ganforge.nets.spectral_norm import spectrally_normalised


class ACGANGenerator(nn.Module):
    """z (+ label embedding) → Linear to a coarse grid → BN → stride-2 ConvTs, each LeakyReLU → BN
    → 3×3 refinement convs, each LeakyReLU → BN → 3×3 conv → tanh.

    The grid starts at the image halved until its sides are at most `coarsest_side`: with channels
    (256, 128, 64) and 28×28 images 7×7×256 → 14×14×128 → 28×28×64 → refinement → 28×28×C. A 64×64
    image starts at 4×4 and needs five widths: `channels` (coarse to fine) is fitted to the count by
    `widths_toward_image`. `refine_channels` work at the image's size, whatever it is.
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
        coarsest_side: int = 7,
    ) -> None:
        super().__init__()
        out_channels = image_dims(image_shape)[0]
        widths, grid = generator_stages(image_shape, channels, coarsest_side, "AC-GAN")
        self.latent_dim, self.num_classes = check_latent_dim(latent_dim), num_classes
        self.project = LatentProjection(latent_dim, widths[0], grid, num_classes, embed_dim)
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            # kernel 4, stride 2, padding 1 doubles the side exactly
            layers += [nn.ConvTranspose2d(fan_in, fan_out, 4, 2, 1), nn.LeakyReLU(negative_slope), nn.BatchNorm2d(fan_out)]
        refine_widths = [widths[-1], *refine_channels]
        for fan_in, fan_out in zip(refine_widths[:-1], refine_widths[1:]):
            layers += [nn.Conv2d(fan_in, fan_out, 3, padding=1), nn.LeakyReLU(negative_slope), nn.BatchNorm2d(fan_out)]
        layers += [nn.Conv2d(refine_widths[-1], out_channels, 3, padding=1), nn.Tanh()]
        self.synthesis = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.synthesis(self.project(z, labels))


class ACGANDiscriminator(nn.Module):
    """Image → stride-2 3×3 convs (each LeakyReLU and dropout, BN on all but the first) → flatten → three heads.

    One conv per halving until the sides are at most `coarsest_side`: 28×28 → 14 → 7 → 4 → 2 with channels
    (64, 128, 256, 512); a 64×64 image takes five (the list, from the image inward, keeps its first
    entries and repeats its last). The heads: a validity logit from the flattened maps (which are the
    critique's features, what feature matching and t-SNE look at); and the auxiliary classifier, a
    `feature_dim` LeakyReLU layer, dropout, then Linear to `num_classes` logits.
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
        coarsest_side: int = 2,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"the AC-GAN discriminator classifies: num_classes must be at least 1, got {num_classes}")
        in_channels = image_dims(image_shape)[0]
        widths, (height, width) = discriminator_stages(image_shape, channels, coarsest_side)
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        for i, fan_out in enumerate(widths):
            layers.append(nn.Conv2d(in_channels if i == 0 else widths[i - 1], fan_out, 3, 2, 1))
            if batch_norm and i > 0:
                layers.append(nn.BatchNorm2d(fan_out))
            layers += [nn.LeakyReLU(negative_slope), Dropout(dropout)]
        self.body = nn.Sequential(*layers, nn.Flatten())
        flat = widths[-1] * height * width
        self.validity = nn.Linear(flat, 1)
        self.features = nn.Sequential(nn.Linear(flat, feature_dim), nn.LeakyReLU(negative_slope))
        self.classifier = nn.Sequential(Dropout(dropout), nn.Linear(feature_dim, num_classes))
        if spectral_norm:
            spectrally_normalised(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        hidden = self.body(x)
        # The critique's features are those the real/fake verdict reads (what feature matching compares);
        # the class head has its own `feature_dim` layer.
        return Critique(self.validity(hidden).squeeze(1), hidden, self.classifier(self.features(hidden)))
