"""The modern convolutional pair: SN-GAN's standard CNN (Miyato et al., 2018) with class conditioning.

G upsamples with transposed convolutions and (conditional) batch norm; D is spectrally normalised, pools
its last feature maps and judges them with a projection head. The depth of both follows the image size
(28 → 7×7 first grid, 32/64/128 → 4×4); widths double at every halving of the grid from `channels` at
full resolution, up to `max_channels`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.common import Critique, LabelEmbedding, check_latent_dim, grid_halvings, image_dims
from ganforge.nets.layers import ConditionalBatchNorm2d, ProjectionHead
from ganforge.nets.spectral_norm import spectrally_normalised

GENERATOR_CONDITIONING = ("batch_norm", "concat")
DISCRIMINATOR_CONDITIONING = ("projection", "channel")


def stage_widths(image_shape: Sequence[int], channels: int, max_channels: int) -> tuple[list[int], int]:
    """Widths from the first grid to full resolution (doubling per halving of the grid), and the first grid's side:
    the image halved while its sides are even and above 7 (28 → 7, 32 and 64 → 4), as the DCGAN nets do."""
    doublings, (first_side, _) = grid_halvings(image_shape, coarsest_side=7, exact=True)
    if doublings < 1:
        raise ConfigError(f"the SN-GAN nets need even image sides above 7 pixels, got image_shape={list(image_shape)}")
    return [min(channels * 2 ** (doublings - i), max_channels) for i in range(doublings + 1)], first_side


class SNGANGenerator(nn.Module):
    """z → Linear to the first grid → [ConvT 4×4 stride 2 → (C)BN → ReLU] per doubling → Conv 3×3 → tanh.

    With classes, `conditioning: batch_norm` gives every batch norm a per-class scale and shift;
    `conditioning: concat` joins a label embedding to z instead.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 128,
        channels: int = 32,
        max_channels: int = 512,
        num_classes: int = 0,
        conditioning: str = "batch_norm",
        embed_dim: int = 50,
    ) -> None:
        super().__init__()
        out_channels, height, width = image_dims(image_shape)
        if height != width:
            raise ConfigError(f"the SN-GAN generator makes square images, got image_shape={list(image_shape)}")
        if conditioning not in GENERATOR_CONDITIONING:
            raise ConfigError(f"generator conditioning must be one of {GENERATOR_CONDITIONING}, got {conditioning!r}")
        self.latent_dim, self.num_classes = check_latent_dim(latent_dim), num_classes
        self.widths, self.first_side = stage_widths(image_shape, channels, max_channels)
        norm_classes = num_classes if conditioning == "batch_norm" else 0
        self.condition = LabelEmbedding(num_classes if conditioning == "concat" else 0, embed_dim)
        self.project = nn.Linear(latent_dim + self.condition.extra_features, self.widths[0] * self.first_side**2)
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(w, norm_classes) for w in self.widths])
        self.upsample = nn.ModuleList(
            nn.ConvTranspose2d(fan_in, fan_out, 4, 2, 1) for fan_in, fan_out in zip(self.widths[:-1], self.widths[1:])
        )
        self.to_image = nn.Sequential(nn.Conv2d(self.widths[-1], out_channels, 3, padding=1), nn.Tanh())
        self.activation = nn.ReLU()

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.project(self.condition(z, labels)).view(len(z), self.widths[0], self.first_side, self.first_side)
        x = self.activation(self.norms[0](x, labels))
        for upsample, norm in zip(self.upsample, self.norms[1:]):
            x = self.activation(norm(upsample(x), labels))
        return self.to_image(x)


class SNGANDiscriminator(nn.Module):
    """Image → Conv 3×3 → [Conv 4×4 stride 2 → LeakyReLU (→ Conv 3×3 → LeakyReLU)] per halving → sum over the grid
    → a projection head (`conditioning: projection`), or the label as an extra image channel (`channel`).

    `convs_per_stage: 1` drops the 3×3 conv after each halving: about half the work, for CPU budgets.
    No batch norm and no dropout: the critic of per-sample penalties (R1, gradient penalty) may be this net.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        channels: int = 32,
        max_channels: int = 512,
        num_classes: int = 0,
        conditioning: str = "projection",
        negative_slope: float = 0.1,
        spectral_norm: bool = True,
        convs_per_stage: int = 2,
    ) -> None:
        super().__init__()
        in_channels, height, width = image_dims(image_shape)
        if conditioning not in DISCRIMINATOR_CONDITIONING:
            raise ConfigError(f"discriminator conditioning must be one of {DISCRIMINATOR_CONDITIONING}, got {conditioning!r}")
        if convs_per_stage not in (1, 2):
            raise ConfigError(f"model.discriminator.convs_per_stage must be 1 or 2, got {convs_per_stage}")
        self.num_classes, self.image_shape = num_classes, tuple(image_shape)
        widths = stage_widths(image_shape, channels, max_channels)[0][::-1]  # full resolution first
        self.label_map = (
            nn.Embedding(num_classes, height * width) if num_classes and conditioning == "channel" else None
        )
        layers: list[nn.Module] = [nn.Conv2d(in_channels + (self.label_map is not None), widths[0], 3, padding=1),
                                   nn.LeakyReLU(negative_slope)]
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(fan_in, fan_out, 4, 2, 1), nn.LeakyReLU(negative_slope)]
            if convs_per_stage == 2:
                layers += [nn.Conv2d(fan_out, fan_out, 3, padding=1), nn.LeakyReLU(negative_slope)]
        self.body = nn.Sequential(*layers)
        self.head = ProjectionHead(widths[-1], num_classes if conditioning == "projection" else 0)
        if spectral_norm:
            spectrally_normalised(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        if self.label_map is not None:
            x = torch.cat([x, self.label_map(labels).view(len(x), 1, *self.image_shape[1:])], dim=1)
        features = self.body(x).sum(dim=(2, 3))
        return Critique(self.head(features, labels), features)
