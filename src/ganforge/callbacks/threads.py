"""CPU threads chosen by the clock: all cores on an idle machine, fewer when another process wants them."""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

import lightning as L
import torch

from ganforge.errors import ConfigError

log = logging.getLogger(__name__)


class AdaptiveThreads(L.Callback):
    """Times batches on PyTorch's thread count and on half of it, and trains on whichever is faster.

    With every core computing, one busy competitor stalls each parallel operator at its slowest thread: on
    2 cores a `cgan` epoch took 2.6x longer beside one CPU-bound process, against 1.05x on one thread, which
    in turn is 16% slower on an idle machine (benchmarks/README.md). A user's machine changes from one to the
    other while a run goes on, so the choice is measured again every `every_n_batches` batches: the last
    `probe_batches` batches of the current setting against as many of the other (after one to settle in),
    the first time right after a few batches of warm-up. The schedule follows the run's batch count and the
    choice is saved in checkpoints, so a resumed run goes on as it was.

    CPU training only; a run with a fixed thread count (`torch_threads`, passed as `fixed_threads`) keeps it.
    """

    WARMUP_BATCHES = 3

    def __init__(self, every_n_batches: int = 300, probe_batches: int = 8, fixed_threads: int | None = None) -> None:
        if probe_batches < 1 or every_n_batches <= 2 * probe_batches + self.WARMUP_BATCHES:
            raise ConfigError(f"callbacks.adaptive_threads.every_n_batches must exceed 2 * probe_batches + "
                              f"{self.WARMUP_BATCHES} and probe_batches be at least 1; got {every_n_batches} and {probe_batches}")
        self.every_n_batches, self.probe_batches, self.fixed_threads = every_n_batches, probe_batches, fixed_threads
        self.choices: tuple[int, int] | None = None  # (current, other) while the callback is choosing
        self.restored_threads: int | None = None
        self.started = 0.0
        self.times: dict[int, list[float]] = {}

    @property
    def probe_start(self) -> int:
        """The phase of a period at which the current setting's timed batches begin."""
        return self.every_n_batches - 2 * self.probe_batches - 1

    @property
    def first_choice_batch(self) -> int:
        """The batch of a run after which the first choice has been made (warm-up, both probes, the settling one)."""
        return self.WARMUP_BATCHES + 2 * self.probe_batches + 1

    def phase(self, trainer: L.Trainer) -> int:
        """Where the batch just finished lies in the period; batch 1 of a run is WARMUP_BATCHES before the probe."""
        finished = trainer.fit_loop.epoch_loop.total_batch_idx + 1
        return (finished + self.probe_start - self.WARMUP_BATCHES - 1) % self.every_n_batches

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        threads = torch.get_num_threads()
        if pl_module.device.type != "cpu" or self.fixed_threads is not None or threads < 2:
            return
        self.choices, self.times = (threads, threads // 2), {}
        if self.restored_threads in self.choices and self.restored_threads != threads:
            self.choices = self.choices[::-1]
            torch.set_num_threads(self.choices[0])

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.choices is not None:  # the process may train again (a sweep, the tests): leave it as found
            torch.set_num_threads(max(self.choices))
            self.choices = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.choices is None:
            return
        seconds = time.perf_counter() - self.started
        phase, current, other = self.phase(trainer), *self.choices
        # A period: train …, time `probe_batches` batches on the current setting, switch and settle for one
        # batch, time `probe_batches` on the other, decide.
        if self.probe_start <= phase < self.probe_start + self.probe_batches:
            self.times.setdefault(current, []).append(seconds)
            if phase == self.probe_start + self.probe_batches - 1:
                torch.set_num_threads(other)
        elif phase > self.probe_start + self.probe_batches and current in self.times:
            self.times.setdefault(other, []).append(seconds)
            if phase == self.every_n_batches - 1:
                self.decide(current, other)

    def decide(self, current: int, other: int) -> None:
        """Keep the setting whose median batch was shorter, and set the thread count to it."""
        kept, tried = statistics.median(self.times[current]), statistics.median(self.times[other])
        self.times = {}
        if tried < kept:
            self.choices = (other, current)
            log.info("CPU threads %d -> %d: %.3f s a batch against %.3f s", current, other, tried, kept)
        torch.set_num_threads(self.choices[0])

    def state_dict(self) -> dict[str, int]:
        return {} if self.choices is None else {"threads": self.choices[0]}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.restored_threads = state_dict.get("threads")
