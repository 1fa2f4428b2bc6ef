"""The domain classifier of a dataset: training it (`python train.py experiment=classifier`, or on first use),
keeping it in `<classifier_dir>/<dataset>-<key>.pt` with its test accuracy, loading it for the domain metrics, and
training a fresh one on labelled samples for CAS.

The key is a digest of the data the classifier learns from and is tested on (the uint8 tensors and labels, the
class names) and of its recipe: evaluations measured in a classifier's features depend on it, so a classifier of
other data, or of another recipe, is kept beside it under a key of its own, and none is ever overwritten."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader, TensorDataset

from ganforge.callbacks.record_config import RecordConfig
from ganforge.checkpoint import load_module
from ganforge.data import GANDataModule
from ganforge.errors import CheckpointError, ConfigError
from ganforge.metrics import SampleSet
from ganforge.metrics.accuracy import ToModelSpace, label_accuracy
from ganforge.metrics.base import content_key
from ganforge.models.classifier import Classifier
from ganforge.quiet_trainer import fit_quietly, quiet_trainer

log = logging.getLogger(__name__)


def classifier_key(
    train: Sequence[torch.Tensor], test: Sequence[torch.Tensor], recipe: dict[str, Any], class_names: Sequence[str]
) -> str:
    """The digest naming a domain classifier: its training and test images and labels, class names and recipe."""
    return content_key(*train, *test, config={"recipe": recipe, "class_names": list(class_names)})


def classifier_file(classifier_dir: str | Path, dataset: str, key: str) -> Path:
    """Where the domain classifier of `dataset` (its data config name, e.g. "fashion") with `key` is kept."""
    return Path(classifier_dir) / f"{dataset}-{key}.pt"


def classifier_files(classifier_dir: str | Path, dataset: str) -> list[Path]:
    """The domain classifiers kept for `dataset`, whatever data and recipe they were trained on, newest first."""
    named = re.compile(rf"{re.escape(dataset)}-[0-9a-f]{{16}}\.pt")
    found = [path for path in Path(classifier_dir).glob(f"{dataset}-*.pt") if named.fullmatch(path.name)]
    return sorted(found, key=lambda path: path.stat().st_mtime_ns, reverse=True)


class ExportClassifier(L.Callback):
    """Saves the fitted classifier with its test accuracy (and, through the trainer's `RecordConfig`, the configs
    that rebuild it) to `classifier_dir/<dataset>-<key>.pt`; refuses before training when that file is there."""

    def __init__(self, classifier_dir: str | Path, dataset: str) -> None:
        self.classifier_dir, self.dataset = classifier_dir, dataset
        self.path: Path | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        (record,) = [callback.record for callback in trainer.callbacks if isinstance(callback, RecordConfig)]
        key = classifier_key(datamodule.train_set.tensors, datamodule.load("test"), record["model"],
                             datamodule.class_names)
        self.path = classifier_file(self.classifier_dir, self.dataset, key)
        if self.path.exists():
            raise ConfigError(f"{self.path} is a domain classifier of this same data and recipe, and evaluations "
                              f"measured in its features depend on it; nothing was trained (move it away to replace it)")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        images, labels = datamodule.load("test")
        accuracy = label_accuracy(pl_module.net, images, labels, datamodule.to_model_space)
        pl_module.test_accuracy.fill_(accuracy)
        for logger in trainer.loggers:
            logger.log_metrics({"test/accuracy": accuracy}, step=trainer.global_step)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        trainer.save_checkpoint(temporary)
        try:
            os.link(temporary, self.path)  # unlike a rename, never replaces a file that appeared meanwhile
        except FileExistsError as err:
            raise CheckpointError(f"{self.path} appeared while this classifier trained; it is kept and the new one "
                                  f"was not saved") from err
        finally:
            temporary.unlink(missing_ok=True)
        log.info("Domain classifier: test accuracy %.4f, saved to %s", accuracy, self.path)


def train_domain_classifier(
    recipe: dict[str, Any], data_config: dict[str, Any], dataset: str, classifier_dir: str | Path, max_epochs: int
) -> Path:
    """Train the domain classifier of `dataset` on its whole training split and save it as
    `python train.py experiment=classifier` does; return its file.

    The random state is the caller's again afterwards: a GAN run that trains the classifier on first use
    continues exactly as one that found it.
    """
    data_config = {**data_config, "subset": None}
    log.info("Training the domain classifier of %s for %d epoch(s); it is kept for later runs", dataset, max_epochs)
    export = ExportClassifier(classifier_dir, dataset)
    callbacks = [RecordConfig(recipe, data_config, {"data": dataset, "model": "classifier"}), export]
    with torch.random.fork_rng():
        trainer = quiet_trainer(max_epochs, callbacks=callbacks)
        fit_quietly(trainer, instantiate(recipe), datamodule=instantiate(data_config))
    return export.path


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
    """The classifier of `dataset`'s data (its whole training split) and `recipe` in `classifier_dir`, trained for
    `epochs` first if there is none."""
    datamodule: GANDataModule = instantiate({**data_config, "subset": None})
    key = classifier_key(datamodule.load(datamodule.train_split), datamodule.load("test"), recipe,
                         datamodule.class_names)
    path = classifier_file(classifier_dir, dataset, key)
    if not path.is_file():
        path = train_domain_classifier(recipe, data_config, dataset, classifier_dir, epochs)
    classifier, record = load_module(path, Classifier)
    return DomainClassifier(path, classifier.to(device), record["model"], record["data"]["sample_shape"][0],
                            datamodule.to_model_space)


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
