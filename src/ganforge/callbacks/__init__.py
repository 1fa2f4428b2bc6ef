"""Callbacks: sample previews, checkpoints that survive interruptions, the divergence guard, and the config
record that makes a checkpoint self-contained."""

from ganforge.callbacks.checkpointing import AtomicCheckpointIO, FinishBatchOnCtrlC, LastCheckpoint
from ganforge.callbacks.divergence import DivergenceError, DivergenceGuard
from ganforge.callbacks.preview import SamplePreview
from ganforge.callbacks.record_config import CONFIG_KEY, RecordConfig
from ganforge.callbacks.threads import AdaptiveThreads

__all__ = ["CONFIG_KEY", "AdaptiveThreads", "AtomicCheckpointIO", "DivergenceError", "DivergenceGuard", "FinishBatchOnCtrlC", "LastCheckpoint",
           "RecordConfig", "SamplePreview"]
