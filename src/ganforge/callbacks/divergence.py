"""A divergence guard: a run whose losses stop being numbers, or whose generator stops varying, ends at once."""

from __future__ import annotations

import lightning as L
import torch

from ganforge.errors import GanforgeError


class DivergenceError(GanforgeError):
    """Training diverged; the message names the step and what went wrong."""


class DivergenceGuard(L.Callback):
    """Stops training with one clear line when a loss is NaN or infinite, or when the generator has collapsed
    to (nearly) one output: the spread of `probe_size` samples of fixed noise falls below `min_sample_std`
    (model space; real Fashion-MNIST images spread by about 0.7).

    Losses are checked without waiting for the device: a non-finite one is remembered on the device and the
    flag read every `check_every_n_steps` batches. The run raises before the next checkpoint, so `last.ckpt`
    keeps the last good state, and the command exits non-zero.
    """

    def __init__(self, check_every_n_steps: int = 50, min_sample_std: float | None = 0.01, probe_size: int = 64,
                 probe_every_n_steps: int = 500) -> None:
        self.check_every_n_steps, self.min_sample_std = check_every_n_steps, min_sample_std
        self.probe_size, self.probe_every_n_steps = probe_size, probe_every_n_steps
        self.first_bad: dict[str, torch.Tensor] = {}
        self.probe: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        step = getattr(pl_module, "discriminator_steps", trainer.global_step)  # batches, for a GAN
        for name, value in (outputs or {}).items():
            seen = self.first_bad.get(name, torch.tensor(-1, device=value.device))
            # The first step at which this loss was not finite, or −1: updated on the device, read below.
            self.first_bad[name] = torch.where((seen < 0) & ~torch.isfinite(value), step, seen)
        if step % self.check_every_n_steps == 0:
            self.raise_on_bad_loss(outputs)
        if self.min_sample_std is not None and hasattr(pl_module, "sample") and step % self.probe_every_n_steps == 0:
            self.raise_on_collapse(pl_module, step)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.raise_on_bad_loss({})  # before the epoch's checkpoint is written

    def raise_on_bad_loss(self, outputs) -> None:
        for name, first in self.first_bad.items():
            if first.item() >= 0:
                raise DivergenceError(
                    f"training diverged: {name} was not finite at step {first.item()} (last value "
                    f"{float(outputs[name]) if name in outputs else 'nan'}); the last good checkpoint is kept — lower "
                    f"the learning rates, add a penalty (e.g. model.gradient_clip_val=1) or change the seed"
                )

    @torch.no_grad()
    def raise_on_collapse(self, pl_module: L.LightningModule, step: int) -> None:
        if self.probe is None:
            noise = pl_module.sample_noise(self.probe_size, generator=torch.Generator().manual_seed(0))
            classes = pl_module.generator.num_classes
            self.probe = noise, torch.arange(self.probe_size) % classes if pl_module.conditional else None
        spread = within_class_spread(pl_module.sample(*self.probe), self.probe[1])
        if spread < self.min_sample_std:
            raise DivergenceError(
                f"training diverged: the generator collapsed at step {step} (its samples of {self.probe_size} different "
                f"noise vectors differ by {spread:.2g} on average, below min_sample_std={self.min_sample_std}); the last "
                f"good checkpoint is kept — change the learning rates or the seed, or set "
                f"callbacks.divergence_guard.min_sample_std=null to allow it"
            )


def within_class_spread(samples: torch.Tensor, labels: torch.Tensor | None) -> float:
    """The standard deviation of samples across the batch, per feature, averaged; within each class when labelled."""
    groups = [samples] if labels is None else [samples[labels.to(samples.device) == k] for k in labels.unique()]
    return torch.stack([group.float().std(dim=0).mean() for group in groups if len(group) > 1]).mean().item()
