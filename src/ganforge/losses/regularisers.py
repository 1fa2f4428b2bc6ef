"""Regularisers: small pieces any GAN switches on by config, each adding a weighted term to D's or G's loss.

A regulariser sees one `Round` of the game (the real and generated batch and D's verdicts on them) and
returns its term for the discriminator's step, the generator's step, or both; the model sums the terms,
each times its weight, and logs them by the name the config gives (`model.regularisers.<name>`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.common import Critique

Critic = Callable[[torch.Tensor, torch.Tensor | None], Critique]


@dataclass
class Round:
    """One round of the game, as a regulariser may look at it."""

    real: torch.Tensor  # the real batch (model space)
    fake: torch.Tensor  # the generated batch (detached in D's step, carrying G's graph in G's)
    labels: torch.Tensor  # the labels of the real batch, which the fakes were also asked for
    real_verdict: Critique  # D on `real` (detached in G's step)
    fake_verdict: Critique  # D on `fake`
    critic: Critic  # D as it is trained (augmentation included), for terms that probe it themselves


class Regulariser:
    """A term `weight · value` added to D's and/or G's loss, every `every` steps of that net.

    Lazy regularisation (StyleGAN2): a term taken every k steps is multiplied by k, so its average
    strength does not depend on k. A term that differentiates D with respect to its input sample by
    sample (gradient penalty, R1) sets `needs_per_sample_gradients`, and the model refuses a critic
    with batch norm or dropout for it.
    """

    needs_per_sample_gradients = False
    needs_conditional_generator = False  # its term compares fakes with the class G was asked for

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        self.weight, self.every = weight, every  # checked by the model, which knows the regulariser's name

    def discriminator_term(self, game: Round) -> torch.Tensor | None:
        """The unweighted term for D's loss, or None when the regulariser leaves D alone."""
        return None

    def generator_term(self, game: Round) -> torch.Tensor | None:
        """The unweighted term for G's loss, or None when the regulariser leaves G alone."""
        return None

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Runs after every discriminator update (e.g. weight clipping)."""


def input_gradients(critic: Critic, samples: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """∇ₓ Σ D(x) per sample, with the graph kept so a penalty on it trains D.

    In fp32 with autocast off: second-order gradients under- and overflow in half precision.
    """
    samples = samples.detach().float().requires_grad_(True)
    with torch.autocast(device_type=samples.device.type, enabled=False):
        scores = critic(samples, labels).logits.float()
        (gradients,) = torch.autograd.grad(scores.sum(), samples, create_graph=True)
    return gradients.flatten(1)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on random interpolates x̂ = αx + (1 − α)x̃, one α ~ U(0, 1) per sample (Gulrajani et al.)."""
    real, fake = real.detach().float(), fake.detach().float()
    alpha = torch.rand(len(real), *[1] * (real.ndim - 1), device=real.device)
    interpolates = alpha * real + (1 - alpha) * fake
    return (input_gradients(critic, interpolates, labels).norm(2, dim=1) - 1).pow(2).mean()


class GradientPenalty(Regulariser):
    """WGAN-GP's penalty on D: λ·E[(‖∇D(x̂)‖ − 1)²] on real/fake interpolates (λ = `weight`, 10 in the paper)."""

    needs_per_sample_gradients = True

    def discriminator_term(self, game: Round) -> torch.Tensor:
        return gradient_penalty(game.critic, game.real, game.fake, game.labels)


def r1_penalty(critic: Critic, real: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """E[‖∇ₓ D(x)‖²] / 2 on real samples (Mescheder et al., 2018): 0 where D is flat on the data."""
    return input_gradients(critic, real, labels).pow(2).sum(1).mean() / 2


class R1Penalty(Regulariser):
    """R1: γ/2 · E[‖∇D(x_real)‖²] (γ = `weight`), lazily every `every` steps as in StyleGAN2."""

    needs_per_sample_gradients = True

    def discriminator_term(self, game: Round) -> torch.Tensor:
        return r1_penalty(game.critic, game.real, game.labels)


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Squared distance between the mean D features of a real and a fake batch (Salimans et al., 2016)."""
    return F.mse_loss(fake_features.mean(0), real_features.mean(0).detach())


class FeatureMatching(Regulariser):
    """G matches the mean of D's features on fakes to that on the real batch."""

    def generator_term(self, game: Round) -> torch.Tensor:
        return feature_matching(game.real_verdict.features, game.fake_verdict.features)


def class_entropy(class_logits: torch.Tensor) -> torch.Tensor:
    """Mean per-sample entropy of D's p(y|x) minus the entropy of the batch's marginal p(y), in nats.

    Minimised by samples that each look clearly like one class (low conditional entropy) while the batch
    covers all K classes evenly (high marginal entropy), the two halves of the Inception score. It is minus
    the mutual information between sample and predicted class: 0 when every sample gets the same
    prediction, −log K when confident predictions spread evenly over the classes.
    """
    log_p = F.log_softmax(class_logits.float(), dim=1)
    conditional = -(log_p.exp() * log_p).sum(1).mean()
    log_marginal = torch.logsumexp(log_p, dim=0) - math.log(len(log_p))
    marginal = -(log_marginal.exp() * log_marginal).sum()
    return conditional - marginal


class ClassEntropy(Regulariser):
    """G makes each fake clearly one class of D's classifier head while the batch covers all classes."""

    def generator_term(self, game: Round) -> torch.Tensor:
        return class_entropy(classifier_logits(game.fake_verdict))


def classifier_logits(verdict: Critique) -> torch.Tensor:
    if verdict.class_logits is None:
        raise ConfigError("this regulariser needs a discriminator with a classifier head (e.g. model=acgan's)")
    return verdict.class_logits


class ClassifyReal(Regulariser):
    """AC-GAN's auxiliary loss on real images: D's classifier head learns their classes (Odena et al., 2017)."""

    def discriminator_term(self, game: Round) -> torch.Tensor:
        return F.cross_entropy(classifier_logits(game.real_verdict), game.labels)


class ClassifyFake(Regulariser):
    """AC-GAN's auxiliary loss on fakes: D and G both make each fake recognisable as the class G was asked for."""

    needs_conditional_generator = True

    def discriminator_term(self, game: Round) -> torch.Tensor:
        return F.cross_entropy(classifier_logits(game.fake_verdict), game.labels)

    def generator_term(self, game: Round) -> torch.Tensor:
        return self.discriminator_term(game)


class WeightClipping(Regulariser):
    """WGAN's Lipschitz constraint: every weight of D clamped to [−c, c] after each of its updates."""

    def __init__(self, clip_value: float = 0.01) -> None:
        super().__init__()
        if clip_value <= 0:
            raise ConfigError(f"WeightClipping.clip_value must be positive (D's weights stay in [-c, c]), got {clip_value}")
        self.clip_value = clip_value

    @torch.no_grad()
    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        for parameter in discriminator.parameters():
            parameter.clamp_(-self.clip_value, self.clip_value)
