"""The domain suite: torch-fidelity's metrics through the dataset's own classifier, offline, plus label accuracy
and CAS for labelled samples. Also what every suite measuring in a trained CNN's features shares: the metrics
with their floor, and the words saying which feature space they come from and how far to trust it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganforge.data import GANDataModule
from ganforge.domain_classifier import DomainClassifier, domain_classifier, train_on_samples
from ganforge.evaluation.context import NotApplicable
from ganforge.evaluation.suites import MetricInputs, SuiteResult, extractor_name
from ganforge.metrics.accuracy import label_accuracy
from ganforge.metrics.domain import DomainFeatures, register_domain_extractor
from ganforge.metrics.fidelity import METRICS, fidelity_metrics


def skill(accuracy: float, chance: float) -> float:
    """How far above chance a held-out accuracy is: 0 at chance, 1 when every answer is right."""
    return (accuracy - chance) / (1 - chance)


def trust_note(task: str, accuracy: float, chance: float, min_skill: float, weak_advice: str, caveat: str = "") -> str:
    """What a reader may conclude from numbers measured in the features of a CNN trained for `task` (what it
    does, e.g. "tells the 10 classes apart"), given its accuracy on held-out images; `caveat`: what such features
    miss even when the CNN does its task well."""
    measured = f"on held-out images the CNN {task} with accuracy {accuracy:.3f} (chance: {chance:.3f})"
    if skill(accuracy, chance) < min_skill:
        return (f"WEAK: {measured}, so its features say little about these images; {weak_advice}. "
                f"Treat these numbers as a rough check only.")
    return (f"Useful: {measured}. Compare these numbers only between models evaluated on this dataset with this same "
            f"feature extractor (named below), never with other datasets or published (Inception) FIDs; fid_floor, "
            f"real training images measured the same way, is as close as real data gets.{caveat}")


def measure_in_features(
    extractor: DomainClassifier, family: str, inputs: MetricInputs, metrics: Sequence[str], floor: bool,
    cache_dir: Path, options: dict[str, Any],
) -> SuiteResult:
    """torch-fidelity's `metrics` of the samples against the test split in the hidden layer of `extractor` (registered
    as `family-<hash of its weights>`), and with `floor` the FID of as many real training images."""
    features = DomainFeatures(extractor.classifier.net, extractor.to_model_space)
    name = register_domain_extractor(extractor_name(family, extractor.path), features)
    measure = dict(extractor=name, cache_dir=cache_dir, device=inputs.device, options=options)
    values = fidelity_metrics(inputs.generated, inputs.real, metrics=metrics, **measure)
    with_floor = floor and inputs.reference is not None
    if with_floor:
        values["fid_floor"] = fidelity_metrics(inputs.reference, inputs.real, metrics=["fid"], **measure)["fid"]
    details = {
        "feature_extractor": name,
        "feature_dim": features.num_features,
        "classifier": str(extractor.path),
        "real_statistics": inputs.real.name,
        "floor_statistics": inputs.reference.name if with_floor else None,
    }
    return SuiteResult(values, details)


class DomainMetrics:
    """FID, IS, KID and precision/recall through the dataset's own classifier; for labelled samples also
    label accuracy (samples classified as the class asked for) and CAS. Labelled datasets only.

    The classifier is `classifier_dir/<dataset>-<key>.pt` (key: a digest of the data and the recipe): written by `python train.py experiment=classifier
    data=<dataset>`, or trained here from `classifier` (a model config) on first use, for `classifier_epochs`
    or as many more as take `classifier_min_steps` batches (a folder of a few hundred pictures has only a few
    batches an epoch). Below `min_skill` (its test accuracy's share of the way from chance to 1) the report calls
    its features weak.
    """

    def __init__(
        self,
        classifier: DictConfig | dict[str, Any],
        classifier_dir: str,
        cache_dir: str,
        classifier_epochs: int = 2,
        classifier_min_steps: int = 500,
        metrics: Sequence[str] = METRICS,
        floor: bool = True,
        label_accuracy: bool = True,
        cas_epochs: int = 2,
        min_skill: float = 0.5,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.recipe = OmegaConf.to_container(OmegaConf.create(classifier), resolve=True)
        self.classifier_dir, self.cache_dir = Path(classifier_dir), Path(cache_dir)
        self.classifier_epochs, self.metrics, self.floor = classifier_epochs, list(metrics), floor
        self.with_label_accuracy, self.cas_epochs, self.options = label_accuracy, cas_epochs, dict(options or {})
        self.min_skill, self.classifier_min_steps = min_skill, classifier_min_steps

    def classifier_epochs_for(self, datamodule: GANDataModule) -> int:
        """`classifier_epochs`, or more when that is fewer than `classifier_min_steps` batches of the training split."""
        batches = max(1, len(datamodule.load(datamodule.train_split)[0]) // datamodule.batch_size)
        return max(self.classifier_epochs, math.ceil(self.classifier_min_steps / batches))

    def __call__(self, inputs: MetricInputs) -> SuiteResult:
        classes = inputs.datamodule.class_names
        if not classes:
            raise NotApplicable("the dataset is unlabelled: it has no classes for a domain classifier to learn "
                                "(the label_free suite measures it instead)")
        classifier = domain_classifier(self.recipe, self.classifier_dir, inputs.dataset, inputs.data_config,
                                       self.classifier_epochs_for(inputs.datamodule), inputs.device)
        result = measure_in_features(classifier, f"ganforge-{inputs.dataset}", inputs, self.metrics, self.floor,
                                     self.cache_dir, self.options)
        values = result.values
        values["classifier_test_accuracy"] = classifier.test_accuracy
        generated, real, to_model_space = inputs.generated, inputs.real, inputs.datamodule.to_model_space
        if generated.labels is not None and self.with_label_accuracy:
            values["label_accuracy"] = label_accuracy(classifier.classifier.net, generated.images, generated.labels,
                                                      to_model_space)
        if generated.labels is not None and self.cas_epochs:
            trained_on_samples = train_on_samples(classifier.recipe, generated, to_model_space, self.cas_epochs,
                                                  inputs.datamodule.batch_size, inputs.seed)
            values["cas"] = label_accuracy(trained_on_samples, real.images, real.labels, to_model_space)
        result.details = {
            "feature_space": f"the {result.details['feature_dim']}-d hidden layer of a small CNN trained to tell the "
                             f"{len(classes)} classes of data={inputs.dataset} apart on its training split "
                             f"(supervised, by the labels); IS from its class probabilities",
            "trust": trust_note(f"tells the {len(classes)} classes apart", classifier.test_accuracy, 1 / len(classes),
                                self.min_skill,
                                "the classes may be too few, too alike or too small a set to learn"),
            **result.details,
        }
        return result
