"""Classifying images with a trained classifier: its test accuracy, the label accuracy of samples, CAS."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ganforge.nets.inference import in_batches

ToModelSpace = Callable[[torch.Tensor], torch.Tensor]


def predict_labels(net: nn.Module, images: torch.Tensor, to_model_space: ToModelSpace, batch_size: int = 500) -> torch.Tensor:
    """The class `net` assigns to each uint8 image (run in eval mode on the net's device)."""
    return in_batches(net, lambda batch: net(to_model_space(batch)).argmax(1), [images], batch_size)


def label_accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, to_model_space: ToModelSpace) -> float:
    """The fraction of images `net` classifies as their label: test accuracy on real images, label accuracy on
    samples, and CAS when `net` was trained on samples only and `images` are real."""
    return (predict_labels(net, images, to_model_space) == labels).float().mean().item()
