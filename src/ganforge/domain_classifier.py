"""The domain classifier of a dataset: training it (`python train.py experiment=classifier`, or on first use),
keeping it in `<classifier_dir>/<dataset>.pt` with its test accuracy, loading it for the domain metrics, and
training a fresh one on labelled samples for CAS."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader, TensorDataset

from ganforge.callbacks.record_config import RecordConfig
from ganforge.checkpoint import load_module
from ganforge.errors import CheckpointError
from ganforge.metrics import SampleSet
from ganforge.metrics.accuracy import ToModelSpace, label_accuracy
from ganforge.models.classifier import Classifier
from ganforge.quiet_trainer import fit_quietly, quiet_trainer

log = logging.getLogger(__name__)

HOW_TO_TRAIN = "python train.py experiment=classifier data={dataset}"


def classifier_file(classifier_dir: str | Path, dataset: str) -> Path:
    """Where the domain classifier of `dataset` (its data config name, e.g. "fashion") is kept."""
    return Path(classifier_dir) / f"{dataset}.pt"


class ExportClassifier(L.Callback):
    """After fitting: measures the classifier's accuracy on the test split and saves the whole checkpoint
    (weights, accuracy and, through `RecordConfig`, the configs that rebuild it) to `classifier_dir/<dataset>.pt`."""

    def __init__(self, classifier_dir: str | Path, dataset: str) -> None:
        self.path = classifier_file(classifier_dir, dataset)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        images, labels = datamodule.load("test")
        accuracy = label_accuracy(pl_module.net, images, labels, datamodule.to_model_space)
        pl_module.test_accuracy.fill_(accuracy)
        for logger in trainer.loggers:
            logger.log_metrics({"test/accuracy": accuracy}, step=trainer.global_step)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(self.path)
        log.info("Domain classifier: test accuracy %.4f, saved to %s", accuracy, self.path)


def train_domain_classifier(
    recipe: dict[str, Any], data_config: dict[str, Any], dataset: str, classifier_dir: str | Path, max_epochs: int
) -> Path:
    """Train the domain classifier of `dataset` on its whole training split and save it as
    `python train.py experiment=classifier` does.

    The random state is the caller's again afterwards: a GAN run that trains the classifier on first use
    continues exactly as one that found it.
    """
    data_config = {**data_config, "subset": None}
    log.info("Training the domain classifier of %s for %d epoch(s); it is kept for later runs", dataset, max_epochs)
    callbacks = [RecordConfig(recipe, data_config, {"data": dataset, "model": "classifier"}),
                 ExportClassifier(classifier_dir, dataset)]
    with torch.random.fork_rng():
        trainer = quiet_trainer(max_epochs, callbacks=callbacks)
        fit_quietly(trainer, instantiate(recipe), datamodule=instantiate(data_config))
    return classifier_file(classifier_dir, dataset)


@dataclass
class DomainClassifier:
    """A loaded domain classifier: its file, the module (eval mode, on the device) and what it was trained on."""

    path: Path
    classifier: Classifier
    recipe: dict[str, Any]  # the model config it was built from: CAS trains a fresh one from it
    channels: int  # of the images it reads
    to_model_space: ToModelSpace  # of the data it was trained on

    @property
    def test_accuracy(self) -> float:
        return self.classifier.test_accuracy.item()


def domain_classifier(
    recipe: dict[str, Any], classifier_dir: str | Path, dataset: str, data_config: dict[str, Any], epochs: int,
    device: torch.device,
) -> DomainClassifier:
    """The classifier of `dataset` in `classifier_dir`, trained from `recipe` for `epochs` first if there is none;
    a CheckpointError if the one there was trained on other data."""
    path = classifier_file(classifier_dir, dataset)
    if not path.is_file():
        train_domain_classifier(recipe, data_config, dataset, classifier_dir, epochs)
    classifier, record = load_module(path, Classifier)
    trained_on = {key: record["data"].get(key) for key in ("sample_shape", "class_names")}
    expected = {key: data_config.get(key) for key in trained_on}
    if trained_on != expected:
        raise CheckpointError(
            f"the domain classifier {path} was trained on other data ({trained_on}, not {expected}); delete it to "
            f"train a new one on first use, or run {HOW_TO_TRAIN.format(dataset=dataset)}"
        )
    return DomainClassifier(path, classifier.to(device), record["model"], record["data"]["sample_shape"][0],
                            instantiate(record["data"]).to_model_space)


def train_on_samples(
    recipe: dict[str, Any], train: SampleSet, to_model_space: ToModelSpace, max_epochs: int, batch_size: int, seed: int
) -> torch.nn.Module:
    """A fresh classifier from `recipe` trained only on `train`'s labelled samples (seeded): the net whose test
    accuracy is the CAS of those samples (Ravuri & Vinyals, 2019)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = instantiate(recipe)
        loader = DataLoader(TensorDataset(to_model_space(train.images), train.labels), batch_size=batch_size, shuffle=True)
        fit_quietly(quiet_trainer(max_epochs), classifier, train_dataloaders=loader)
    return classifier.net
