"""The small CNN behind the domain metrics: an image classifier whose hidden layer is the feature space."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.common import discriminator_stages


class ConvClassifier(nn.Module):
    """Image → stride-2 3×3 convs with ReLU → a `feature_dim` ReLU layer (the features) → class logits.

    Its depth follows the image size as the GANs' discriminators do: one conv per halving until the sides are at
    most `coarsest_side` (28 → 14 → 7: two convs; 32 → 4×4: three; 64: four). `channels` lists the widths from
    the image inward and is fitted to that count (the first entries kept, the last repeated), so (16, 32, 64, 128)
    gives (16, 32) at 28 px and (16, 32, 64, 128) at 64 px. Strided convolutions instead of pooling keep it cheap
    enough to train in a minute on a CPU.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        channels: Sequence[int] = (16, 32),
        feature_dim: int = 128,
        dropout: float = 0.3,
        coarsest_side: int = 7,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError("the domain classifier tells a dataset's classes apart, and this dataset has none: train "
                              "it on a labelled dataset (data=folder with one subfolder per class); evaluate.py "
                              "measures unlabelled data without it")
        widths, (height, width) = discriminator_stages(image_shape, channels, coarsest_side)
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        layers: list[nn.Module] = []
        in_channels = self.image_shape[0]
        for fan_out in widths:
            layers += [nn.Conv2d(in_channels, fan_out, 3, stride=2, padding=1), nn.ReLU()]
            in_channels = fan_out
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(widths[-1] * height * width, feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The feature vector of each image (N × feature_dim): where domain FID, KID and precision/recall are measured."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
