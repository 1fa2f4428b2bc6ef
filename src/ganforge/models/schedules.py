"""Learning-rate schedules, stepped once per batch for both players."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ganforge.errors import ConfigError


class LinearDecay:
    """Both learning rates fall linearly to `end_factor` × their value over the run (from `start` × the run on).

    The run ends at `trainer.max_epochs` (or `max_steps`) or when `trainer.max_time` runs out, whichever comes
    first: its progress is the larger of the batches done and the share of the time budget spent, so a run for a
    wall-clock budget decays to its end as well.
    """

    def __init__(self, start: float = 0.0, end_factor: float = 0.0) -> None:
        if not 0.0 <= start < 1.0 or not 0.0 <= end_factor <= 1.0:
            raise ConfigError(f"LinearDecay needs start in [0, 1) and end_factor in [0, 1], got {start} and {end_factor}")
        self.start, self.end_factor = start, end_factor

    def factor(self, progress: float) -> float:
        """The learning rates' factor once `progress` (0 to 1) of the run is done."""
        return 1.0 - (1.0 - self.end_factor) * min(max(progress - self.start, 0.0) / (1.0 - self.start), 1.0)

    def __call__(self, optimizer: torch.optim.Optimizer, total_batches: float,
                 time_spent: Callable[[], float] | None = None) -> torch.optim.lr_scheduler.LambdaLR:
        """A per-batch schedule for a run of `total_batches` batches (inf: unbounded) and, if given, a time budget
        of which `time_spent()` is the share used so far (0 to 1)."""
        if not math.isfinite(total_batches) and time_spent is None:
            raise ConfigError("model.lr_schedule decays over the run's length: set trainer.max_epochs or "
                              "trainer.max_time (a run without either has no known end)")

        # A plain function, which LambdaLR leaves out of checkpoints: the clock is the trainer's, not state.
        def factor(batch: int) -> float:
            progress = batch / total_batches
            return self.factor(progress if time_spent is None else max(progress, time_spent()))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
