"""Wasserstein GAN with weight clipping (Arjovsky, Chintala & Bottou, 2017)."""

from __future__ import annotations

from typing import Any

import torch

from ganforge.errors import ConfigError
from ganforge.models.base import GAN


class WGAN(GAN):
    """A critic trained on E[D(real)] − E[D(fake)] (the config's Wasserstein objective), kept K-Lipschitz
    by clamping every weight to [−clip_value, clip_value] after each of its updates.

    The paper's settings: clip 0.01, RMSprop lr 5e-5, n_critic 5.
    """

    def __init__(self, clip_value: float = 0.01, **gan_options: Any) -> None:
        if clip_value <= 0:
            raise ConfigError(f"model.clip_value must be positive (the critic's weights stay in [-c, c]), got {clip_value}")
        super().__init__(**gan_options)
        self.clip_value = clip_value

    @torch.no_grad()
    def after_discriminator_step(self) -> None:
        for parameter in self.discriminator.parameters():
            parameter.clamp_(-self.clip_value, self.clip_value)
