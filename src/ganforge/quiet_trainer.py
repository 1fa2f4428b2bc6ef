"""A Lightning Trainer for a helper fit inside another run or a test: no logger, checkpoints, progress bar,
model summary or start-up chatter."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import lightning as L
from lightning.pytorch.utilities.warnings import PossibleUserWarning

QUIET = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's start-up lines and its warnings about small datasets for the block."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=PossibleUserWarning)
            yield
    finally:
        logger.setLevel(level)


def quiet_trainer(max_epochs: int, **options) -> L.Trainer:
    """A one-device Trainer for `max_epochs` that writes and prints nothing; `options` add or replace Trainer arguments."""
    with quiet_lightning():
        return L.Trainer(**{"max_epochs": max_epochs, "accelerator": "auto", "devices": 1, **QUIET, **options})


def fit_quietly(trainer: L.Trainer, module: L.LightningModule, **fit_inputs) -> None:
    """`trainer.fit(module, **fit_inputs)` without Lightning's chatter."""
    with quiet_lightning():
        trainer.fit(module, **fit_inputs)
