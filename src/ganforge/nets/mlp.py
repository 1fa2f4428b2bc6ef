"""Fully connected generator and discriminator: the MLP GAN, the MLP cGAN and the toy GANs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.common import Critique, LabelEmbedding, check_latent_dim, mlp
from ganforge.nets.layers import MinibatchStd, ProjectionHead
from ganforge.nets.spectral_norm import spectrally_normalised


class MLPGenerator(nn.Module):
    """z (+ label embedding) → hidden layers → a sample of `sample_shape` (tanh-squashed for images)."""

    def __init__(
        self,
        sample_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 64,
        hidden_dims: Sequence[int] = (256, 512, 1024),
        negative_slope: float = 0.0,
        batch_norm: bool = False,
        tanh_output: bool = True,
        num_classes: int = 0,
        embed_dim: int = 50,
    ) -> None:
        super().__init__()
        self.latent_dim, self.num_classes, self.sample_shape = check_latent_dim(latent_dim), num_classes, tuple(sample_shape)
        self.condition = LabelEmbedding(num_classes, embed_dim)
        self.body = mlp([latent_dim + self.condition.extra_features, *hidden_dims], negative_slope, batch_norm=batch_norm)
        self.head = nn.Sequential(nn.Linear(hidden_dims[-1], math.prod(sample_shape)),
                                  nn.Tanh() if tanh_output else nn.Identity())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        flat = self.head(self.body(self.condition(z, labels)))
        return flat.view(len(z), *self.sample_shape)


class MLPDiscriminator(nn.Module):
    """Flattened sample (+ label embedding) → hidden layers → one realness logit.

    With classes, `conditioning: concat` joins a label embedding to the input; `projection` judges the last
    hidden layer with a projection head instead. `spectral_norm` divides every weight by its largest singular value.
    `minibatch_std_group` > 0 gives the head one more feature: the spread of each group of that many samples.
    """

    def __init__(
        self,
        sample_shape: Sequence[int] = (1, 28, 28),
        hidden_dims: Sequence[int] = (512, 256),
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        num_classes: int = 0,
        embed_dim: int = 50,
        conditioning: str = "concat",
        spectral_norm: bool = False,
        minibatch_std_group: int = 0,
    ) -> None:
        super().__init__()
        if conditioning not in ("concat", "projection"):
            raise ConfigError(f"discriminator conditioning must be concat or projection, got {conditioning!r}")
        self.num_classes = num_classes
        self.condition = LabelEmbedding(num_classes if conditioning == "concat" else 0, embed_dim)
        in_features = math.prod(sample_shape) + self.condition.extra_features
        self.body = mlp([in_features, *hidden_dims], negative_slope, dropout=dropout)
        self.spread = MinibatchStd(minibatch_std_group) if minibatch_std_group else nn.Identity()
        features = hidden_dims[-1] + (1 if minibatch_std_group else 0)
        self.head = ProjectionHead(features, num_classes if conditioning == "projection" else 0)
        if spectral_norm:
            spectrally_normalised(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        features = self.spread(self.body(self.condition(x.flatten(1), labels)))
        return Critique(self.head(features, labels), features)
