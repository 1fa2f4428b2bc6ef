"""torch-fidelity, fed the way it expects: uint8 RGB images from memory, real statistics cached by name."""

from __future__ import annotations

import hashlib
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


def file_digest(path: Path) -> str:
    """A short content hash: part of a feature extractor's name, so its cached statistics die with its weights."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def register_extractor(family: str, extractor: type[FeatureExtractorBase], weights: Path) -> str:
    """Register `extractor` with torch-fidelity under `family-<digest of weights>` and return that name."""
    name = f"{family}-{file_digest(weights)}"
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(name, extractor)
    return name


def fidelity_metrics(
    generated: SampleSet,
    real: SampleSet,
    extractor: str,
    weights: Path,
    cache_dir: Path,
    device: torch.device,
    metrics: Sequence[str] = METRICS,
    options: dict[str, Any] | None = None,
) -> dict[str, float]:
    """torch-fidelity's `metrics` (fid, isc, kid, prc) of `generated` against `real` in `extractor`'s features.

    IS is a property of `generated` alone. `options` are torch-fidelity's own (batch_size, kid_subsets,
    isc_splits, prc_neighborhood, …); KID subsets and IS splits shrink to fit a smaller sample count.
    """
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown torch-fidelity metrics {sorted(unknown)}; choose from {list(METRICS)}")
    options = dict(options or {})
    options["kid_subset_size"] = min(options.get("kid_subset_size", 1000), len(generated.images), len(real.images))
    options["isc_splits"] = min(options.get("isc_splits", 10), len(generated.images))
    raw = torch_fidelity.calculate_metrics(
        input1=RGBImages(generated.images),
        input1_cache_name=generated.name,
        input2=RGBImages(real.images),
        input2_cache_name=real.name,
        feature_extractor=extractor,
        feature_extractor_weights_path=str(weights),
        cuda=device.type == "cuda",
        cache_root=str(cache_dir),
        save_cpu_ram=True,  # no DataLoader worker processes: the images are already in memory
        verbose=False,
        **{metric: True for metric in metrics},
        **options,
    )
    return {RESULT_NAMES[key]: float(value) for key, value in raw.items()}
