"""The auxiliary-classifier GAN of the course's "improved GAN" MNIST project (after Odena et al., 2017)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ganforge.errors import ConfigError
from ganforge.losses import class_entropy, feature_matching
from ganforge.models.base import LossTerms
from ganforge.models.wgan_gp import WGANGP
from ganforge.nets.common import Critique


class ACGAN(WGANGP):
    """A discriminator that also classifies, and a generator pushed by more than its adversarial loss.

    D: adv (the config's objective, BCE with noisy labels)
       + aux_weight · CE(class of real images, their labels)
       + gp_weight · gradient penalty (inherited from WGANGP)
    G: adv
       + fm_weight · ‖mean D features(real) − mean D features(fake)‖²  (feature matching)
       + entropy_weight · class_entropy(D's class prediction on fakes): each fake clearly one class, the
         batch spread over all classes (see `ganforge.losses.class_entropy`)
    With a conditional generator, aux_fake_weight adds CE(class of fakes, requested labels) to both
    losses, as in Odena's AC-GAN. A weight of 0 switches its term off.
    """

    def __init__(
        self,
        aux_weight: float = 1.0,
        aux_fake_weight: float = 0.0,
        fm_weight: float = 1.0,
        entropy_weight: float = 0.1,
        **gan_options: Any,
    ) -> None:
        weights = {"aux_weight": aux_weight, "aux_fake_weight": aux_fake_weight,
                   "fm_weight": fm_weight, "entropy_weight": entropy_weight}
        for name, weight in weights.items():
            if weight < 0:
                raise ConfigError(f"model.{name} must be 0 (term off) or positive, got {weight}")
        super().__init__(**gan_options)
        if aux_fake_weight and not self.conditional:
            raise ConfigError("model.aux_fake_weight needs a conditional generator: choose model=acgan_conditional "
                              "or set model.aux_fake_weight=0")
        self.aux_weight, self.aux_fake_weight = aux_weight, aux_fake_weight
        self.fm_weight, self.entropy_weight = fm_weight, entropy_weight

    def discriminator_loss(
        self, real_images: torch.Tensor, fake_images: torch.Tensor, labels: torch.Tensor, real: Critique, fake: Critique
    ) -> LossTerms:
        terms = super().discriminator_loss(real_images, fake_images, labels, real, fake)
        if self.aux_weight:
            terms["aux"] = self.aux_weight * F.cross_entropy(real.class_logits, labels)
        if self.aux_fake_weight:
            terms["aux_fake"] = self.aux_fake_weight * F.cross_entropy(fake.class_logits, labels)
        return terms

    def generator_loss(self, fake: Critique, labels: torch.Tensor, real: Critique) -> LossTerms:
        terms = super().generator_loss(fake, labels, real)
        if self.fm_weight:
            terms["fm"] = self.fm_weight * feature_matching(real.features, fake.features)
        if self.entropy_weight:
            terms["entropy"] = self.entropy_weight * class_entropy(fake.class_logits)
        if self.aux_fake_weight:
            terms["aux_fake"] = self.aux_fake_weight * F.cross_entropy(fake.class_logits, labels)
        return terms

    @torch.no_grad()
    def discriminator_metrics(self, real: Critique, fake: Critique, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        accuracy = (real.class_logits.argmax(1) == labels).float().mean()
        return super().discriminator_metrics(real, fake, labels) | {"train/acc_class_real": accuracy}
