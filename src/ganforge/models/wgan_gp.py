"""WGAN with gradient penalty (Gulrajani et al., 2017)."""

from __future__ import annotations

from typing import Any

import torch

from ganforge.errors import ConfigError
from ganforge.losses import gradient_penalty
from ganforge.models.base import GAN, LossTerms
from ganforge.nets.common import Critique


class WGANGP(GAN):
    """The critic's loss gains λ·E[(‖∇D(x̂)‖ − 1)²] on random interpolates x̂ between real and fake samples.

    The penalty keeps D 1-Lipschitz softly, where weight clipping did it by force. The paper's settings
    (Wasserstein objective, λ 10, Adam 1e-4 β (0, 0.9), n_critic 5) come from the config; the critic must
    not batch-normalise, because the penalty is per sample. λ = 0 switches the penalty off.
    """

    def __init__(self, gp_weight: float = 10.0, **gan_options: Any) -> None:
        if gp_weight < 0:
            raise ConfigError(f"model.gp_weight must be 0 (no gradient penalty) or positive, got {gp_weight}")
        super().__init__(**gan_options)
        self.gp_weight = gp_weight

    def discriminator_loss(
        self, real_images: torch.Tensor, fake_images: torch.Tensor, labels: torch.Tensor, real: Critique, fake: Critique
    ) -> LossTerms:
        terms = super().discriminator_loss(real_images, fake_images, labels, real, fake)
        if self.gp_weight:
            terms["gp"] = self.gp_weight * gradient_penalty(self.discriminator, real_images, fake_images, labels)
        return terms
