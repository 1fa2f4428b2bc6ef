"""Metric suites: what `conf/metrics/*.yaml` builds. A suite gets the evaluation's samples and real splits,
fetches what it measures with (a classifier, Inception weights), and reports named numbers through `metrics`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ganforge.data import GANDataModule
from ganforge.metrics import SampleSet


@dataclass
class MetricInputs:
    """Generated samples and the real images they are compared with."""

    generated: SampleSet
    real: SampleSet  # the test split
    datamodule: GANDataModule  # maps data space to model space; trains the domain classifier
    data_config: dict[str, Any]  # the datamodule's config, recorded with a classifier trained on it
    dataset: str  # the dataset's config name (e.g. "fashion"): names cached classifiers and statistics
    device: torch.device
    seed: int = 0
    reference: SampleSet | None = None  # real training images, as many as generated: the floor of the metrics


@dataclass
class SuiteResult:
    """Named numbers of one suite, and how they were measured (feature extractor, caches, weights)."""

    values: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


class MetricSuite(Protocol):
    def __call__(self, inputs: MetricInputs) -> SuiteResult | None:
        """The suite's numbers; None when it was configured as optional and cannot run (e.g. no Inception weights)."""


def split_set(datamodule: GANDataModule, split: str, dataset: str) -> SampleSet:
    """A real split, named `<dataset>-<split>-<count>` for torch-fidelity's cache of its statistics."""
    images, labels = datamodule.load(split)
    return SampleSet(images, labels, f"{dataset}-{split}-{len(images)}")


def extractor_name(family: str, weights: Path) -> str:
    """`family-<short content hash of weights>`: cached statistics die with the weights they were computed with."""
    digest = hashlib.sha256()
    with open(weights, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{family}-{digest.hexdigest()[:12]}"
