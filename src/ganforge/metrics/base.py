"""What every metric suite measures, and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from ganforge.data import GANDataModule


@dataclass
class SampleSet:
    """uint8 images (N×C×H×W, data space) and, for a labelled set, their labels.

    `name` identifies a real split (dataset, split, count) so torch-fidelity caches its statistics;
    generated sets have none and are always measured afresh.
    """

    images: torch.Tensor
    labels: torch.Tensor | None = None
    name: str | None = None


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


def split_set(datamodule: GANDataModule, split: str, dataset: str) -> SampleSet:
    """A real split, named `<dataset>-<split>-<count>` for torch-fidelity's cache of its statistics."""
    images, labels = datamodule.load(split)
    return SampleSet(images, labels, f"{dataset}-{split}-{len(images)}")


class MetricSuite(Protocol):
    def __call__(self, inputs: MetricInputs) -> SuiteResult | None:
        """The suite's numbers; None when it was configured as optional and cannot run (e.g. no Inception weights)."""
