"""Classifying images with a trained classifier: its test accuracy and the label accuracy of samples."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ganforge.nets.common import evaluating

ToModelSpace = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def predict_labels(net: nn.Module, images: torch.Tensor, to_model_space: ToModelSpace, batch_size: int = 500) -> torch.Tensor:
    """The class `net` assigns to each uint8 image (run in eval mode on the net's device)."""
    device = next(net.parameters()).device
    with evaluating(net):
        return torch.cat([net(to_model_space(batch.to(device))).argmax(1).cpu() for batch in images.split(batch_size)])


def label_accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, to_model_space: ToModelSpace) -> float:
    """The fraction of images `net` classifies as their label: test accuracy on real images, label accuracy on samples."""
    return (predict_labels(net, images, to_model_space) == labels).float().mean().item()
