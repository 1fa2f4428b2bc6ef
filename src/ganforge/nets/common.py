"""Pieces every generator and discriminator shares."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch import nn

from ganforge.errors import ConfigError


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


def image_dims(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """(channels, height, width) of a convolutional net's images; a ConfigError for any other sample shape."""
    if len(image_shape) != 3:
        raise ConfigError(f"this model's nets are convolutional and need data.sample_shape [channels, height, width], "
                          f"got {list(image_shape)}; for points choose model=gan or model=toy")
    channels, height, width = image_shape
    return channels, height, width


def square_base(image_shape: Sequence[int], channels: Sequence[int], net: str) -> tuple[int, int]:
    """(image channels, side of the first grid) of a conv generator doubling a square grid len(channels) − 1 times."""
    out_channels, height, width = image_dims(image_shape)
    doublings = len(channels) - 1
    if len(channels) < 2 or height != width or height % 2**doublings:
        raise ConfigError(
            f"the {net} generator needs square images whose side divides by 2^(len(channels)-1); "
            f"got image_shape={list(image_shape)} and channels={list(channels)}"
        )
    return out_channels, height // 2**doublings


def mlp(sizes: Sequence[int], negative_slope: float, dropout: float = 0.0, batch_norm: bool = False) -> nn.Sequential:
    """Linear layers between consecutive `sizes`, each followed by (BN,) LeakyReLU (ReLU at slope 0) (, dropout)."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(fan_in, fan_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(fan_out))
        layers.append(nn.LeakyReLU(negative_slope) if negative_slope else nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def init_normal_(module: nn.Module, std: float = 0.02) -> None:
    """The DCGAN initialisation: weights ~ N(0, std), batch-norm scales ~ N(1, std), biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
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
