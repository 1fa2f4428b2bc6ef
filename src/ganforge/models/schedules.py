"""Learning-rate schedules, stepped once per batch for both players."""

from __future__ import annotations

import math

import torch

from ganforge.errors import ConfigError


class LinearFactor:
    """1 until `start` of `total` batches, then straight down to `end_factor` at the last one."""

    def __init__(self, total: int, start: int, end_factor: float) -> None:
        self.total, self.start, self.end_factor = total, start, end_factor

    def __call__(self, batch: int) -> float:
        progress = min(max(batch - self.start, 0) / max(self.total - self.start, 1), 1.0)
        return 1.0 - (1.0 - self.end_factor) * progress


class LinearDecay:
    """Both learning rates fall linearly to `end_factor` × their value over the run (from `start` × the run on).

    The run's length comes from `trainer.max_epochs` (or `max_steps`); a run bounded only by
    `trainer.max_time` has no known end, so it cannot decay toward one.
    """

    def __init__(self, start: float = 0.0, end_factor: float = 0.0) -> None:
        if not 0.0 <= start < 1.0 or not 0.0 <= end_factor <= 1.0:
            raise ConfigError(f"LinearDecay needs start in [0, 1) and end_factor in [0, 1], got {start} and {end_factor}")
        self.start, self.end_factor = start, end_factor

    def __call__(self, optimizer: torch.optim.Optimizer, total_batches: float) -> torch.optim.lr_scheduler.LambdaLR:
        if not math.isfinite(total_batches):
            raise ConfigError("model.lr_schedule decays over the run's length: set trainer.max_epochs "
                              "(a run bounded only by trainer.max_time has no known end)")
        total = int(total_batches)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, LinearFactor(total, int(self.start * total), self.end_factor))
