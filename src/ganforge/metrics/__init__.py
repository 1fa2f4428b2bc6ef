"""Numbers from samples and feature extractors: torch-fidelity's metrics in any extractor's features
(`fidelity`), the domain classifier as a feature extractor (`domain`), and label accuracy (`accuracy`).

Metrics know nothing of checkpoints, callbacks or training: they are handed the nets they measure with.
"""

from ganforge.metrics.base import SampleSet

__all__ = ["SampleSet"]
