"""The domain classifier as a feature extractor: a small CNN trained on the dataset itself, made for 28×28 images.

Its hidden layer is the feature space of FID, KID and precision/recall, and its logits give IS. It serves
torch-fidelity (registered under a name, as any extractor) and torchmetrics' FID (as a plain module).
The net must offer `embed` (images to features), `head` (features to logits) and `image_shape`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torchmetrics.image.fid import FrechetInceptionDistance

from ganforge.metrics.accuracy import ToModelSpace
from ganforge.metrics.fidelity import register_extractor
from ganforge.nets.common import evaluating


class DomainFeatures(nn.Module):
    """uint8 images in (N×C×H×W, or torch-fidelity's 3-channel repeats of grayscale ones), features out."""

    def __init__(self, net: nn.Module, to_model_space: ToModelSpace) -> None:
        super().__init__()
        self.net, self.to_model_space = net, to_model_space
        self.channels = net.image_shape[0]
        with torch.no_grad(), evaluating(net):
            probe = torch.zeros(1, *net.image_shape, device=next(net.parameters()).device)
            self.num_features = net.embed(probe).shape[-1]  # what torchmetrics sizes its statistics by

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with evaluating(self.net):
            # Undo the channel repetition of grayscale images: they come back exactly.
            return self.net.embed(self.to_model_space(images[:, : self.channels]))


# The features behind each registered torch-fidelity name: torch-fidelity builds an extractor from its name alone.
_REGISTERED: dict[str, DomainFeatures] = {}


class DomainFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity's view of the domain classifier registered under `name`: `features` and `logits`."""

    def __init__(self, name: str, features_list: Sequence[str], **kwargs) -> None:
        super().__init__(name, features_list)
        self.features = _REGISTERED[name]

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "logits" if metric == "isc" else "features"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.features(x)
        computed = {"features": features, "logits": self.features.net.head(features)}
        return tuple(computed[name] for name in self.features_list)


def register_domain_extractor(name: str, features: DomainFeatures) -> str:
    """Make `features` torch-fidelity's extractor `name` (name it after the classifier's weights); return `name`."""
    _REGISTERED[name] = features
    return register_extractor(name, DomainFeatureExtractor)


def domain_fid_metric(features: DomainFeatures) -> FrechetInceptionDistance:
    """torchmetrics' FID in the classifier's features (float64 statistics, summed across DDP ranks on `compute`);
    `reset()` keeps the real statistics, so the real images are read once."""
    return FrechetInceptionDistance(feature=features, reset_real_features=False)
