"""Puts the run's composed config into every checkpoint, so a checkpoint alone rebuilds its model and data."""

from __future__ import annotations

from typing import Any

import lightning as L

CONFIG_KEY = "ganforge"


class RecordConfig(L.Callback):
    """Stores the `model` and `data` configs (plain containers) and the Hydra choices under `checkpoint["ganforge"]`."""

    def __init__(self, model: dict[str, Any], data: dict[str, Any], choices: dict[str, str] | None = None) -> None:
        self.record = {"model": model, "data": data, "choices": dict(choices or {})}

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[CONFIG_KEY] = self.record
