"""Nothing lost: checkpoints written atomically, and one more written when a run is stopped from outside."""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file beside it, flushes it to disk, then renames it into place.

    A rename within one folder is atomic: a run killed while saving (even by SIGKILL) leaves the previous
    file whole, never a truncated one.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class LastCheckpoint(L.Callback):
    """Keeps `last.ckpt` the latest state of the run: written after every epoch, when training ends (also
    mid-epoch, e.g. at `trainer.max_time`), and when the run is stopped by SIGTERM (what `kill` and SLURM
    send) or Ctrl-C. Both stop at the end of the batch under way (Ctrl-C through `FinishBatchOnCtrlC`).

    Any other exception (a crash, a divergence) saves nothing, so `last.ckpt` keeps the last good state.
    List it after the callbacks that act at an epoch's end (the divergence guard above all).
    """

    def __init__(self, dirpath: str | Path, filename: str = "last.ckpt") -> None:
        self.path = Path(dirpath) / filename
        self.saved_step = -1

    def save(self, trainer: L.Trainer) -> None:
        if trainer.global_step != self.saved_step and trainer.global_step > 0:
            trainer.save_checkpoint(self.path, weights_only=False)  # the whole training state
            self.saved_step = trainer.global_step

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            self.save(trainer)
            log.warning("Stopped by %s at step %d: saved %s", type(exception).__name__, trainer.global_step, self.path)


class FinishBatchOnCtrlC(L.Callback):
    """Ctrl-C stops training at the end of the batch under way, as SIGTERM does, so the checkpoint saved on the
    way out (`LastCheckpoint`) holds whole steps; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: Any = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self.previous = signal.signal(signal.SIGINT, self.request)

    def request(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.previous is not None and not self.requested:
            signal.signal(signal.SIGINT, self.previous)
        self.previous = None
