"""Objectives and regularisers against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganforge.losses import Hinge, Wasserstein, class_entropy, feature_matching, gradient_penalty
from ganforge.nets import Critique

REAL = torch.tensor([1.0, 2.0, 3.0])
FAKE = torch.tensor([0.0, -1.0, 2.0])


class LinearCritic(nn.Module):
    """D(x) = a·x: its gradient is `a` everywhere, so the gradient penalty must be (‖a‖ − 1)²."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.linear = nn.Linear(a.numel(), 1, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(a.flatten())

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        return Critique(self.linear(x.flatten(1)).squeeze(1), x.flatten(1))


def test_wasserstein_losses_are_the_mean_critic_gap():
    objective = Wasserstein()
    assert objective.discriminator_loss(REAL, FAKE).item() == pytest.approx(1 / 3 - 2)
    assert objective.generator_loss(FAKE).item() == pytest.approx(-1 / 3)
    assert torch.equal(objective.score(FAKE), FAKE)  # the raw critic value is what gets logged
    assert objective.score_limits is None  # unbounded, so plots scale to it


def test_hinge_losses():
    objective = Hinge()
    # real scores all ≥ 1 cost nothing; fake scores cost relu(1 + D) = [1, 0, 3]
    assert objective.discriminator_loss(REAL, FAKE).item() == pytest.approx(4 / 3)
    assert objective.generator_loss(FAKE).item() == pytest.approx(-1 / 3)


@pytest.mark.parametrize("a", [[2.0, 0.0, 1.0, 2.0], [0.6, 0.8, 0.0, 0.0], [0.1, -0.2, 0.3, 0.05]])
def test_gradient_penalty_of_a_linear_critic_is_norm_minus_one_squared(a):
    torch.manual_seed(0)
    a = torch.tensor(a).view(1, 2, 2)
    critic = LinearCritic(a)
    penalty = gradient_penalty(critic, torch.randn(8, 1, 2, 2), torch.randn(8, 1, 2, 2))
    norm = a.norm().item()
    assert penalty.item() == pytest.approx((norm - 1) ** 2, abs=1e-6)
    penalty.backward()  # the penalty trains the critic: d/da (‖a‖ − 1)² = 2(‖a‖ − 1) a / ‖a‖
    assert torch.allclose(critic.linear.weight.grad.view_as(a), 2 * (norm - 1) * a / norm, atol=1e-6)


def test_gradient_penalty_is_computed_in_fp32_under_mixed_precision():
    torch.manual_seed(0)
    a = torch.randn(64) * 0.37  # a norm that bf16 cannot hold exactly
    critic = LinearCritic(a)
    real, fake = torch.randn(16, 64).bfloat16(), torch.randn(16, 64).bfloat16()
    exact = (a.norm().item() - 1) ** 2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        in_bf16 = critic(real.float().requires_grad_()).logits
        assert in_bf16.dtype == torch.bfloat16  # autocast is really on here
        penalty = gradient_penalty(critic, real, fake)
    assert penalty.dtype == torch.float32
    assert penalty.item() == pytest.approx(exact, abs=1e-6)


def test_feature_matching_is_the_squared_distance_of_batch_means():
    real = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # mean (1, 1)
    fake = torch.tensor([[3.0, 1.0], [3.0, 1.0]], requires_grad=True)  # mean (3, 1)
    loss = feature_matching(real, fake)
    assert loss.item() == pytest.approx((2.0**2 + 0.0**2) / 2)
    loss.backward()
    assert torch.allclose(fake.grad, torch.tensor([[1.0, 0.0], [1.0, 0.0]]))  # d/dfake of mean((m_f − m_r)²)
    assert feature_matching(fake.detach(), fake.detach()).item() == 0.0


@pytest.mark.parametrize(
    ("class_logits", "expected"),
    [
        (100.0 * torch.eye(10), -math.log(10)),  # each sample sure of its own class, all classes covered
        (100.0 * torch.eye(10)[[3] * 10], 0.0),  # every sample the same class: no diversity
        (torch.zeros(10, 10), 0.0),  # every sample unsure
        # p = (1/2, 1/2) and (1, 0): conditional (log 2 + 0) / 2, marginal H(3/4, 1/4)
        (torch.tensor([[0.0, 0.0], [50.0, -50.0]]), math.log(2) / 2 + 0.75 * math.log(0.75) + 0.25 * math.log(0.25)),
    ],
)
def test_class_entropy_is_conditional_minus_marginal_entropy(class_logits, expected):
    assert class_entropy(class_logits).item() == pytest.approx(expected, abs=1e-5)
