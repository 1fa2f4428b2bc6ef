"""What the metrics measure: a set of samples in data space."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SampleSet:
    """uint8 images (N×C×H×W, data space) and, for a labelled set, their labels.

    `name` identifies a real split (dataset, split, count) so torch-fidelity caches its statistics;
    generated sets have none and are always measured afresh.
    """

    images: torch.Tensor
    labels: torch.Tensor | None = None
    name: str | None = None
