"""The small CNN behind the domain metrics: an image classifier whose hidden layer is the feature space."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class ConvClassifier(nn.Module):
    """Image → stride-2 3×3 convs with ReLU → a `feature_dim` ReLU layer (the features) → class logits.

    Strided convolutions instead of pooling keep it cheap enough to train in a minute on a CPU.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        channels: Sequence[int] = (16, 32),
        feature_dim: int = 128,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        in_channels, height, width = image_shape
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        layers: list[nn.Module] = []
        for fan_out in channels:
            layers += [nn.Conv2d(in_channels, fan_out, 3, stride=2, padding=1), nn.ReLU()]
            in_channels = fan_out
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels[-1] * height * width, feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The feature vector of each image (N × feature_dim): where domain FID, KID and precision/recall are measured."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
