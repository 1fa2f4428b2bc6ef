"""Saves a trained domain classifier, with its test accuracy, where the domain metrics look for it."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L

from ganforge.metrics.accuracy import label_accuracy

log = logging.getLogger(__name__)


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
