"""What the metrics measure: a set of samples in data space; and the digest naming what is cached from data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

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


def content_key(*tensors: torch.Tensor, config: Any = None) -> str:
    """A short digest of the tensors (shape, type and values) and of `config` (JSON): what is cached from data (a
    classifier, real statistics) is named by it, so other data, or another recipe, never takes its place."""
    digest = hashlib.sha256()
    for tensor in tensors:
        digest.update(f"{tuple(tensor.shape)} {tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    if config is not None:
        digest.update(json.dumps(config, sort_keys=True).encode())
    return digest.hexdigest()[:16]
