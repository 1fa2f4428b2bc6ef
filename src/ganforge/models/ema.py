"""An exponential moving average of the generator's weights, the generator that samples are drawn from."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ganforge.errors import ConfigError


class ExponentialMovingAverage(nn.Module):
    """θ_avg ← decay·θ_avg + (1 − decay)·θ after every generator step (Yazıcı et al., 2019; Karras et al.).

    Until `start_step` generator steps the average simply follows the live weights (early weights are
    noise not worth remembering). Batch-norm statistics are buffers, not trained weights: they are
    copied from the live generator, whose recent batches they describe.
    The averaged copy lives in this module, so it is saved in checkpoints with the rest of the model.
    """

    def __init__(self, decay: float = 0.999, start_step: int = 1000) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"model.ema.decay must be in (0, 1), e.g. 0.999, got {decay}")
        if start_step < 0:
            raise ConfigError(f"model.ema.start_step must be 0 or more generator steps, got {start_step}")
        self.decay, self.start_step = decay, start_step
        self.average: nn.Module | None = None

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
            torch._foreach_lerp_(averaged, live, 1.0 - self.decay)
        buffers = list(self.average.buffers())
        if buffers:
            torch._foreach_copy_(buffers, list(generator.buffers()))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.average(z, labels)
