"""Callbacks: sample previews and the config record that makes a checkpoint self-contained."""

from ganforge.callbacks.preview import SamplePreview
from ganforge.callbacks.record_config import CONFIG_KEY, RecordConfig

__all__ = ["CONFIG_KEY", "RecordConfig", "SamplePreview"]
