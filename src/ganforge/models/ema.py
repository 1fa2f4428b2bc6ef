"""An exponential moving average of the generator's weights, the generator that samples are drawn from."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from ganforge.errors import ConfigError

# A batch of generator inputs (z, labels or None), drawn from the given random number generator.
InputSampler = Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor | None]]


class ExponentialMovingAverage(nn.Module):
    """θ_avg ← decay·θ_avg + (1 − decay)·θ after every generator step (Yazıcı et al., 2019; Karras et al.).

    Until `start_step` generator steps the average simply follows the live weights (early weights are
    noise not worth remembering). With `rampup` (StyleGAN2's), the average's half-life is at most that
    fraction of the steps taken so far: early in a run it forgets quickly, the way a short run needs, and
    reaches `decay` only once the run is long enough for it.

    Batch norm: the live generator's running statistics describe the live weights' activations, not the
    average's, and sampling the average with them gives blurred, washed-out images. So before the average
    is sampled or saved, its statistics are measured afresh on `calibration_batches` batches of its own
    (fixed noise, so the same weights always get the same statistics; the training's random numbers are
    not touched). The averaged copy lives in this module, so it is saved in checkpoints with the rest.
    """

    def __init__(self, decay: float = 0.999, start_step: int = 1000, rampup: float | None = None,
                 calibration_batches: int = 20, calibration_batch_size: int = 100) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"model.ema.decay must be in (0, 1), e.g. 0.999, got {decay}")
        if start_step < 0:
            raise ConfigError(f"model.ema.start_step must be 0 or more generator steps, got {start_step}")
        if rampup is not None and not 0.0 < rampup <= 1.0:
            raise ConfigError(f"model.ema.rampup must be in (0, 1] (a fraction of the steps taken) or null, got {rampup}")
        if calibration_batches < 1 or calibration_batch_size < 2:
            raise ConfigError("model.ema.calibration_batches must be at least 1 and calibration_batch_size at least 2")
        self.decay, self.start_step, self.rampup = decay, start_step, rampup
        self.calibration_batches, self.calibration_batch_size = calibration_batches, calibration_batch_size
        self.average: nn.Module | None = None
        self.calibrated = True  # a freshly built or loaded average holds its own statistics

    def attach(self, generator: nn.Module) -> None:
        """Start averaging `generator`: the average is a frozen copy of it."""
        self.average = copy.deepcopy(generator).requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int) -> None:
        """Move the average toward `generator`'s weights after its `step`-th update (counting from 1)."""
        averaged = list(self.average.parameters())
        live = list(generator.parameters())
        if step <= self.start_step:
            torch._foreach_copy_(averaged, live)
        else:
            torch._foreach_lerp_(averaged, live, 1.0 - self.decay_at(step))
        self.calibrated = False

    def decay_at(self, step: int) -> float:
        """The decay of the `step`-th update: `decay`, or less while `rampup` × step is below its half-life."""
        if self.rampup is None:
            return self.decay
        return min(self.decay, 0.5 ** (1.0 / (self.rampup * step)))

    @torch.no_grad()
    def calibrate(self, inputs: InputSampler) -> None:
        """Measure the average's batch-norm statistics on its own samples, if its weights moved since last time."""
        if self.calibrated:
            return
        norms = [m for m in self.average.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if norms:
            momenta = [norm.momentum for norm in norms]
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None  # a plain mean over the calibration batches
            was_training = self.average.training
            self.average.train()
            draws = torch.Generator().manual_seed(0)
            for _ in range(self.calibration_batches):
                self.average(*inputs(draws))
            self.average.train(was_training)
            for norm, momentum in zip(norms, momenta):
                norm.momentum = momentum
        self.calibrated = True

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.average(z, labels)
