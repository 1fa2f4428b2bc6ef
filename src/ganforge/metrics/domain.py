"""Metrics in the feature space of a small CNN trained on the dataset itself: offline, made for 28×28 grayscale.

The classifier is registered with torch-fidelity as a feature extractor, so the very code that computes
the Inception metrics computes FID, KID and precision/recall on its features and IS on its logits.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities.warnings import PossibleUserWarning
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, TensorDataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from ganforge.callbacks.export_classifier import ExportClassifier, classifier_file
from ganforge.callbacks.record_config import RecordConfig
from ganforge.checkpoint import load_module
from ganforge.errors import CheckpointError
from ganforge.metrics.accuracy import ToModelSpace, label_accuracy
from ganforge.metrics.base import MetricInputs, SampleSet, SuiteResult
from ganforge.metrics.fidelity import METRICS, fidelity_metrics, register_extractor
from ganforge.models.classifier import Classifier

log = logging.getLogger(__name__)


class DomainFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity's view of a ganforge classifier file: uint8 RGB batches in; `features` and `logits` out.

    The file (a checkpoint written by `ExportClassifier`) arrives as `feature_extractor_weights_path`,
    the way torch-fidelity hands any extractor its weights. The classifier's net must offer `embed`
    (the feature vector) and `head` (features to logits).
    """

    def __init__(self, name: str, features_list: Sequence[str], feature_extractor_weights_path: str, **kwargs) -> None:
        super().__init__(name, features_list)
        classifier, record = load_module(feature_extractor_weights_path, Classifier)
        self.net = classifier.net
        self.channels = record["data"]["sample_shape"][0]
        self.to_model_space = instantiate(record["data"]).to_model_space

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
        # Undo RGBImages' channel repetition: grayscale images come back exactly.
        features = self.net.embed(self.to_model_space(x[:, : self.channels]))
        computed = {"features": features, "logits": self.net.head(features)}
        return tuple(computed[name] for name in self.features_list)


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's start-up chatter for a helper fit inside another run."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=PossibleUserWarning)
            yield
    finally:
        logger.setLevel(level)


def fit_quietly(module: L.LightningModule, max_epochs: int, callbacks: Sequence[L.Callback] = (), **fit_inputs) -> None:
    """Fit a helper model (no logger, checkpoints, progress bar or summary); `fit_inputs` go to `Trainer.fit`."""
    with quiet_lightning():
        trainer = L.Trainer(
            max_epochs=max_epochs,
            accelerator="auto",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=list(callbacks),
        )
        trainer.fit(module, **fit_inputs)


def train_classifier(
    recipe: dict[str, Any], data_config: dict[str, Any], dataset: str, classifier_dir: Path, max_epochs: int
) -> Path:
    """Train the domain classifier of `dataset` on its whole training split and save it as `ExportClassifier` does
    after `python train.py model=classifier`."""
    data_config = {**data_config, "subset": None}
    log.info("Training the domain classifier of %s for %d epoch(s); it is kept for later runs", dataset, max_epochs)
    callbacks = [RecordConfig(recipe, data_config, {"data": dataset, "model": "classifier"}),
                 ExportClassifier(classifier_dir, dataset)]
    fit_quietly(instantiate(recipe), max_epochs, callbacks, datamodule=instantiate(data_config))
    return classifier_file(classifier_dir, dataset)


def classification_accuracy_score(
    recipe: dict[str, Any], train: SampleSet, test: SampleSet, to_model_space: ToModelSpace,
    max_epochs: int, batch_size: int, seed: int,
) -> float:
    """CAS (Ravuri & Vinyals, 2019): the test accuracy of a fresh classifier trained only on `train`'s labelled samples."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = instantiate(recipe)
        loader = DataLoader(TensorDataset(to_model_space(train.images), train.labels), batch_size=batch_size, shuffle=True)
        fit_quietly(classifier, max_epochs, train_dataloaders=loader)
    return label_accuracy(classifier.net, test.images, test.labels, to_model_space)


class DomainMetrics:
    """FID, IS, KID and precision/recall through the dataset's own classifier; for labelled samples also
    label accuracy (samples classified as the class asked for) and CAS.

    The classifier is `classifier_dir/<dataset>.pt`: written by `python train.py model=classifier data=<dataset>`,
    or trained here from `classifier` (a model config) for `classifier_epochs` on first use.
    """

    def __init__(
        self,
        classifier: DictConfig | dict[str, Any],
        classifier_dir: str,
        cache_dir: str,
        classifier_epochs: int = 2,
        metrics: Sequence[str] = METRICS,
        floor: bool = True,
        label_accuracy: bool = True,
        cas_epochs: int = 2,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.recipe = OmegaConf.to_container(OmegaConf.create(classifier), resolve=True)
        self.classifier_dir, self.cache_dir = Path(classifier_dir), Path(cache_dir)
        self.classifier_epochs, self.metrics, self.floor = classifier_epochs, list(metrics), floor
        self.with_label_accuracy, self.cas_epochs, self.options = label_accuracy, cas_epochs, dict(options or {})

    def classifier(self, inputs: MetricInputs) -> tuple[Path, Classifier, dict[str, Any]]:
        """The dataset's classifier file (trained now if missing), the classifier and its record."""
        path = classifier_file(self.classifier_dir, inputs.dataset)
        if not path.is_file():
            train_classifier(self.recipe, inputs.data_config, inputs.dataset, self.classifier_dir, self.classifier_epochs)
        classifier, record = load_module(path, Classifier)
        trained_on = {key: record["data"].get(key) for key in ("sample_shape", "class_names")}
        expected = {key: inputs.data_config.get(key) for key in trained_on}
        if trained_on != expected:
            raise CheckpointError(
                f"the domain classifier {path} was trained on other data ({trained_on}, not {expected}); delete it to "
                f"train a new one on first use, or run python train.py model=classifier data={inputs.dataset}"
            )
        return path, classifier.to(inputs.device), record

    def __call__(self, inputs: MetricInputs) -> SuiteResult:
        path, classifier, record = self.classifier(inputs)
        extractor = register_extractor(f"ganforge-{inputs.dataset}", DomainFeatureExtractor, path)
        measure = dict(extractor=extractor, weights=path, cache_dir=self.cache_dir, device=inputs.device, options=self.options)
        values = fidelity_metrics(inputs.generated, inputs.real, metrics=self.metrics, **measure)
        if self.floor and inputs.reference is not None:
            values["fid_floor"] = fidelity_metrics(inputs.reference, inputs.real, metrics=["fid"], **measure)["fid"]
        values["classifier_test_accuracy"] = classifier.test_accuracy.item()
        generated, to_model_space = inputs.generated, inputs.datamodule.to_model_space
        if generated.labels is not None and self.with_label_accuracy:
            values["label_accuracy"] = label_accuracy(classifier.net, generated.images, generated.labels, to_model_space)
        if generated.labels is not None and self.cas_epochs:
            values["cas"] = classification_accuracy_score(
                record["model"], generated, inputs.real, to_model_space, self.cas_epochs,
                inputs.datamodule.batch_size, inputs.seed,
            )
        details = {
            "feature_extractor": extractor,
            "classifier": str(path),
            "real_statistics": inputs.real.name,
            "floor_statistics": inputs.reference.name if self.floor and inputs.reference is not None else None,
        }
        return SuiteResult(values, details)
