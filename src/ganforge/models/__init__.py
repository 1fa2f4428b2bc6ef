"""LightningModules: one base owning the D/G alternation, and the variants that change its losses."""

from ganforge.models.base import GAN

__all__ = ["GAN"]
