"""LightningModules: one base owning the D/G alternation, and the variants that change its losses."""

from ganforge.models.acgan import ACGAN
from ganforge.models.base import GAN
from ganforge.models.classifier import Classifier
from ganforge.models.wgan import WGAN
from ganforge.models.wgan_gp import WGANGP

__all__ = ["ACGAN", "GAN", "WGAN", "WGANGP", "Classifier"]
