"""The Inception suite: FID, IS, KID and precision/recall in the features of torch-fidelity's InceptionV3, with
its weights found offline (or downloaded once)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3, FeatureExtractorInceptionV3

from ganforge.errors import GanforgeError, one_line
from ganforge.evaluation.suites import MetricInputs, SuiteResult, extractor_name
from ganforge.metrics.fidelity import METRICS, fidelity_metrics, register_extractor

log = logging.getLogger(__name__)

WEIGHTS_NAME = Path(urlparse(URL_INCEPTION_V3).path).name
DOWNLOAD_TIMEOUT_SECONDS = 30


class InceptionWeightsError(GanforgeError):
    """The Inception weights are missing (offline, nothing cached) or are not InceptionV3's."""


def cached_weights_path() -> Path:
    """Where torch-fidelity keeps the Inception weights it downloads (torch's hub cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def how_to_provide() -> str:
    return (
        f"put torch-fidelity's {WEIGHTS_NAME} ({URL_INCEPTION_V3}) in {cached_weights_path().parent}/ "
        f"or pass metrics.inception_weights=PATH; metrics=domain evaluates without it"
    )


def find_weights(path: str | None) -> Path:
    """The weights file to use: `path` if given, else the cached download (fetched now if possible)."""
    if path:
        weights = Path(path).expanduser()
        if not weights.is_file():
            raise InceptionWeightsError(f"metrics.inception_weights={path}: no such file; {how_to_provide()}")
    else:
        weights = cached_weights_path()
        if not weights.is_file():
            previous_timeout = socket.getdefaulttimeout()
            socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)  # a firewalled network fails instead of hanging
            try:
                weights.parent.mkdir(parents=True, exist_ok=True)
                torch.hub.download_url_to_file(URL_INCEPTION_V3, str(weights), progress=False)
            except Exception as err:  # noqa: BLE001 - any download failure means the same thing to the user
                raise InceptionWeightsError(
                    f"Inception weights are neither cached nor downloadable ({one_line(err)}); {how_to_provide()}"
                ) from err
            finally:
                socket.setdefaulttimeout(previous_timeout)
    check_weights(weights)
    return weights


def check_weights(weights: Path) -> None:
    # torch-fidelity loads the file with weights_only=False; a file that loads as plain tensors cannot run code.
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - unreadable, or a pickle with code in it: either way not usable
        raise InceptionWeightsError(f"{weights} is not a plain state dict ({one_line(err)}); {how_to_provide()}") from err
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise InceptionWeightsError(f"{weights} is not torch-fidelity's InceptionV3 state dict; {how_to_provide()}")


class InceptionMetrics:
    """torch-fidelity's Inception metrics; precision/recall too are measured on Inception's 2048-d features.

    With `required=False` missing weights skip the suite with a warning instead of failing the run.
    The weights are looked for when the suite is built, before any sample is drawn.
    """

    def __init__(
        self,
        cache_dir: str,
        weights: str | None = None,
        required: bool = True,
        metrics: Sequence[str] = METRICS,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.cache_dir, self.metrics, self.options = Path(cache_dir), list(metrics), dict(options or {})
        try:
            self.weights: Path | None = find_weights(weights)
        except InceptionWeightsError as err:
            if required:
                raise
            log.warning("Skipping the Inception metrics: %s", err)
            self.weights = None

    def __call__(self, inputs: MetricInputs) -> SuiteResult | None:
        if self.weights is None:
            return None
        extractor = register_extractor(extractor_name("inception-v3-compat", self.weights), FeatureExtractorInceptionV3)
        values = fidelity_metrics(inputs.generated, inputs.real, extractor, self.cache_dir, inputs.device, self.metrics,
                                  self.options, weights=self.weights)
        details = {
            "feature_space": "the 2048-d pool features of InceptionV3 trained on ImageNet (torch-fidelity's FID "
                             "weights), every image resized to 299×299; IS from its 1008 ImageNet class logits",
            "trust": "The standard space of published FIDs, and independent of this dataset: comparable across "
                     "datasets and with papers only at the same sample count and reference images. ImageNet features "
                     "may miss what matters in pictures far from photographs (digits, drawings, scans).",
            "feature_extractor": extractor,
            "weights": str(self.weights),
            "real_statistics": inputs.real.name,
        }
        return SuiteResult(values, details)
