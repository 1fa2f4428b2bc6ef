"""torch-fidelity, fed the way it expects: uint8 RGB images from memory, real statistics cached by name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from ganforge.metrics.base import SampleSet

# torch-fidelity's result keys under the short names ganforge reports.
RESULT_NAMES = {
    torch_fidelity.KEY_METRIC_FID: "fid",
    torch_fidelity.KEY_METRIC_ISC_MEAN: "is_mean",
    torch_fidelity.KEY_METRIC_ISC_STD: "is_std",
    torch_fidelity.KEY_METRIC_KID_MEAN: "kid_mean",
    torch_fidelity.KEY_METRIC_KID_STD: "kid_std",
    torch_fidelity.KEY_METRIC_PRECISION: "precision",
    torch_fidelity.KEY_METRIC_RECALL: "recall",
    torch_fidelity.KEY_METRIC_F_SCORE: "f_score",
}
METRICS = ("fid", "isc", "kid", "prc")


class RGBImages(Dataset):
    """uint8 N×C×H×W images as torch-fidelity's extractors take them: uint8 3×H×W, grayscale repeated.

    A Dataset of finished images also keeps torch-fidelity 0.4.0 away from its generator API, whose
    class labels are drawn with `np.int` (gone since numpy 1.24).
    """

    def __init__(self, images: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected uint8 N×1×H×W or N×3×H×W images, got {images.dtype} {tuple(images.shape)}")
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index].expand(3, -1, -1)


def register_extractor(name: str, extractor: type[FeatureExtractorBase]) -> str:
    """Register `extractor` with torch-fidelity under `name` (once: the registry refuses a name twice); return `name`.

    The name is part of every cached statistic's file name: give weights of their own a name of their own.
    """
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(name, extractor)
    return name


def fidelity_metrics(
    generated: SampleSet,
    real: SampleSet,
    extractor: str,
    cache_dir: Path,
    device: torch.device,
    metrics: Sequence[str] = METRICS,
    options: dict[str, Any] | None = None,
    weights: Path | None = None,
) -> dict[str, float]:
    """torch-fidelity's `metrics` (fid, isc, kid, prc) of `generated` against `real` in `extractor`'s features
    (a registered name; `weights` is the file torch-fidelity hands it, for extractors that load their own).

    IS is a property of `generated` alone. `options` are torch-fidelity's own (batch_size, kid_subsets,
    isc_splits, prc_neighborhood, …); KID subsets, IS splits and the precision/recall neighbourhood shrink to fit a
    smaller sample count (a small folder's test split).
    """
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown torch-fidelity metrics {sorted(unknown)}; choose from {list(METRICS)}")
    options = dict(options or {})
    options["kid_subset_size"] = min(options.get("kid_subset_size", 1000), len(generated.images), len(real.images))
    options["isc_splits"] = min(options.get("isc_splits", 10), len(generated.images))
    # The k-th nearest neighbour within each set, the point itself excluded: k below either set's size.
    options["prc_neighborhood"] = max(1, min(options.get("prc_neighborhood", 3), len(generated.images) - 1,
                                             len(real.images) - 1))
    raw = torch_fidelity.calculate_metrics(
        input1=RGBImages(generated.images),
        input1_cache_name=generated.name,
        input2=RGBImages(real.images),
        input2_cache_name=real.name,
        feature_extractor=extractor,
        feature_extractor_weights_path=None if weights is None else str(weights),
        cuda=device.type == "cuda",
        cache_root=str(cache_dir),
        save_cpu_ram=True,  # no DataLoader worker processes: the images are already in memory
        verbose=False,
        **{metric: True for metric in metrics},
        **options,
    )
    return {RESULT_NAMES[key]: float(value) for key, value in raw.items()}
