"""Pictures of a fixed noise batch through training: one PNG per epoch, TensorBoard images, a GIF at the end."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from ganforge.viz.images import save_gif, save_png


def is_last_epoch(trainer: L.Trainer) -> bool:
    """Whether the epoch now ending is the run's last (by `max_epochs`)."""
    return trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs


class SamplePreview(L.Callback):
    """Renders the generator's output on the same noise (and labels) at the end of every few epochs.

    The datamodule decides how its samples are drawn (`render_preview`), how many there are and how
    often (`preview_size`, `preview_every_n_epochs`): image grids, histograms or scatter plots. A module
    that cannot sample (the domain classifier, trained with the same callbacks) has nothing to show.
    """

    def __init__(self, dirpath: str | Path, seed: int = 0, gif: bool = True) -> None:
        self.dirpath, self.seed, self.gif = Path(dirpath), seed, gif
        self.noise: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not callable(getattr(pl_module, "sample", None)):
            return
        datamodule = trainer.datamodule
        self.labels = datamodule.preview_labels()
        self.noise = pl_module.sample_noise(len(self.labels), generator=torch.Generator().manual_seed(self.seed)).cpu()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.noise is None:
            return
        epoch = trainer.current_epoch
        datamodule = trainer.datamodule
        if (epoch + 1) % datamodule.preview_every_n_epochs and not is_last_epoch(trainer):
            return
        if not trainer.is_global_zero:
            return
        fake = datamodule.to_data_space(pl_module.sample(self.noise, self.labels)).cpu()
        picture = datamodule.render_preview(fake, self.labels, pl_module)
        save_png(picture, self.dirpath / f"epoch_{epoch:03d}.png")
        for logger in trainer.loggers:
            if hasattr(logger.experiment, "add_image"):
                logger.experiment.add_image("samples", picture, global_step=epoch, dataformats="HWC")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.gif and self.noise is not None and trainer.is_global_zero:
            save_gif(sorted(self.dirpath.glob("epoch_*.png")), self.dirpath / "training.gif")
