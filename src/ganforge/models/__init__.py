"""LightningModules: the GAN every variant is (configured by its nets, objective and regularisers),
its options (EMA of the generator, learning-rate schedules), and the domain classifier."""

from ganforge.models.base import GAN
from ganforge.models.classifier import Classifier
from ganforge.models.ema import ExponentialMovingAverage
from ganforge.models.schedules import LinearDecay

__all__ = ["GAN", "Classifier", "ExponentialMovingAverage", "LinearDecay"]
