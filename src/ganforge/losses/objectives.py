"""Adversarial objectives: what D and G minimise in the game, and how to read D's output."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ganforge.errors import ConfigError


class Objective(ABC):
    """The adversarial game: what D minimises, what G minimises, and how to read D's output."""

    score_limits: tuple[float, float] | None = None  # the range of `score`, where it has one (for plots)

    @abstractmethod
    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor: ...

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        """D's output as logged under D(x) and D(G(z)): a probability, or the raw critic value."""
        return logits


class NonSaturating(Objective):
    """Binary cross-entropy on logits (Goodfellow et al.), G maximising log D(G(z)).

    Real and fake targets are drawn uniformly from `real_label` and `fake_label`: (1, 1) and (0, 0)
    are plain labels; (0.9, 0.9) is one-sided smoothing; (0.9, 1.0) and (0.0, 0.1) are noisy labels.
    """

    score_limits = (0.0, 1.0)

    def __init__(self, real_label: Sequence[float] = (1.0, 1.0), fake_label: Sequence[float] = (0.0, 0.0)) -> None:
        for name, (low, high) in (("real_label", real_label), ("fake_label", fake_label)):
            if not 0.0 <= low <= high <= 1.0:
                raise ConfigError(f"objective.{name} must be [low, high] with 0 <= low <= high <= 1, got {list((low, high))}")
        self.real_label, self.fake_label = tuple(real_label), tuple(fake_label)

    @staticmethod
    def _targets(logits: torch.Tensor, low: float, high: float) -> torch.Tensor:
        return torch.empty_like(logits).uniform_(low, high) if high > low else torch.full_like(logits, low)

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(
            real_logits, self._targets(real_logits, *self.real_label)
        ) + F.binary_cross_entropy_with_logits(fake_logits, self._targets(fake_logits, *self.fake_label))

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)


class Wasserstein(Objective):
    """The critic estimates the Wasserstein-1 distance as E[D(real)] − E[D(fake)]; G lowers it (Arjovsky et al.).

    The critic's output is an unbounded score, not a logit; it needs a Lipschitz constraint
    (weight clipping or a gradient penalty) to mean anything.
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


class Hinge(Objective):
    """The hinge game of SN-GAN and BigGAN: D pushes real scores above +1 and fake ones below −1."""

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()
