"""The domain suite: torch-fidelity's metrics through the dataset's own classifier, offline, plus label accuracy
and CAS for labelled samples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganforge.domain_classifier import domain_classifier, train_on_samples
from ganforge.evaluation.suites import MetricInputs, SuiteResult, extractor_name
from ganforge.metrics.accuracy import label_accuracy
from ganforge.metrics.domain import DomainFeatures, register_domain_extractor
from ganforge.metrics.fidelity import METRICS, fidelity_metrics


class DomainMetrics:
    """FID, IS, KID and precision/recall through the dataset's own classifier; for labelled samples also
    label accuracy (samples classified as the class asked for) and CAS.

    The classifier is `classifier_dir/<dataset>.pt`: written by `python train.py experiment=classifier
    data=<dataset>`, or trained here from `classifier` (a model config) for `classifier_epochs` on first use.
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

    def __call__(self, inputs: MetricInputs) -> SuiteResult:
        classifier = domain_classifier(self.recipe, self.classifier_dir, inputs.dataset, inputs.data_config,
                                       self.classifier_epochs, inputs.device)
        features = DomainFeatures(classifier.classifier.net, classifier.to_model_space)
        extractor = register_domain_extractor(extractor_name(f"ganforge-{inputs.dataset}", classifier.path), features)
        measure = dict(extractor=extractor, cache_dir=self.cache_dir, device=inputs.device, options=self.options)
        values = fidelity_metrics(inputs.generated, inputs.real, metrics=self.metrics, **measure)
        if self.floor and inputs.reference is not None:
            values["fid_floor"] = fidelity_metrics(inputs.reference, inputs.real, metrics=["fid"], **measure)["fid"]
        values["classifier_test_accuracy"] = classifier.test_accuracy
        generated, real, to_model_space = inputs.generated, inputs.real, inputs.datamodule.to_model_space
        if generated.labels is not None and self.with_label_accuracy:
            values["label_accuracy"] = label_accuracy(classifier.classifier.net, generated.images, generated.labels,
                                                      to_model_space)
        if generated.labels is not None and self.cas_epochs:
            trained_on_samples = train_on_samples(classifier.recipe, generated, to_model_space, self.cas_epochs,
                                                  inputs.datamodule.batch_size, inputs.seed)
            values["cas"] = label_accuracy(trained_on_samples, real.images, real.labels, to_model_space)
        details = {
            "feature_extractor": extractor,
            "classifier": str(classifier.path),
            "real_statistics": real.name,
            "floor_statistics": inputs.reference.name if self.floor and inputs.reference is not None else None,
        }
        return SuiteResult(values, details)
