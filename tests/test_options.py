"""The options any GAN switches on by config: EMA, spectral norm, projection, conditional batch norm, R1,
DiffAugment, the learning-rate schedule — each against a value its inputs determine."""

from __future__ import annotations

import copy
import functools
import math
import time

import lightning as L
import pytest
import torch
from torch import nn

from ganforge.augment import DiffAugment, random_cutout, random_translation
from ganforge.data import IDXDataModule
from ganforge.losses import Hinge, R1Penalty, Round, r1_penalty
from ganforge.models import GAN, ExponentialMovingAverage, LinearDecay
from ganforge.nets import (
    ConditionalBatchNorm2d, Critique, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator,
    ProjectionHead, SNGANDiscriminator, SNGANGenerator, init_normal_,
)
from ganforge.nets.spectral_norm import (
    SpectralNorm, SpectrallyNormalisedEmbedding, SpectrallyNormalisedLinear, one_sigma_per_step, spectrally_normalised,
)

DIGITS = [str(d) for d in range(10)]


def fit(model: GAN, root, batches: int, epochs: int = 1) -> L.Trainer:
    datamodule = IDXDataModule("MNIST", DIGITS, root=str(root), download=False, batch_size=16, subset=16 * batches)
    trainer = L.Trainer(accelerator="cpu", max_epochs=epochs, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=datamodule)
    return trainer


def mlp_gan(**options) -> GAN:
    adam = functools.partial(torch.optim.Adam, lr=1e-3, betas=(0.0, 0.9))
    return GAN(MLPGenerator(latent_dim=8, hidden_dims=(32,)), MLPDiscriminator(hidden_dims=(32,)), Hinge(),
               optimizer_g=adam, optimizer_d=adam, **options)


# --------------------------------------------------------------------------------------------------
# EMA


def test_ema_follows_the_live_weights_until_its_start_then_averages_them():
    live = nn.Linear(3, 2)
    ema = ExponentialMovingAverage(decay=0.9, start_step=1)
    ema.attach(live)
    with torch.no_grad():
        live.weight.fill_(1.0)
    ema.update(live, step=1)  # still at the start: a copy
    assert torch.equal(ema.average.weight, live.weight)
    with torch.no_grad():
        live.weight.fill_(2.0)
    ema.update(live, step=2)  # 0.9 · 1 + 0.1 · 2
    assert torch.allclose(ema.average.weight, torch.full((2, 3), 1.1))
    ema.update(live, step=3)  # 0.9 · 1.1 + 0.1 · 2
    assert torch.allclose(ema.average.weight, torch.full((2, 3), 1.19))
    assert not ema.average.weight.requires_grad


class Normalise(nn.Module):
    """A generator that only batch-normalises its noise: its statistics are those of z."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(4)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.norm(z)


def test_ema_measures_its_own_batch_norm_statistics_after_it_moved():
    live = Normalise()
    ema = ExponentialMovingAverage(decay=0.5, start_step=0, calibration_batches=3, calibration_batch_size=50)
    ema.attach(live)
    live(torch.randn(64, 4) * 3 + 5)  # the live statistics move; the average's are its own
    ema.update(live, step=1)
    inputs = lambda draws: (torch.randn(50, 4, generator=draws) * 2 - 1, None)  # noqa: E731
    ema.calibrate(inputs)
    draws = torch.Generator().manual_seed(0)
    drawn = torch.cat([inputs(draws)[0] for _ in range(3)])
    assert torch.allclose(ema.average.norm.running_mean, drawn.mean(0), atol=1e-6)  # the mean of the 150 draws
    assert not torch.allclose(ema.average.norm.running_mean, live.norm.running_mean)
    before = ema.average.norm.running_mean.clone()
    ema.calibrate(lambda draws: (torch.zeros(50, 4), None))  # weights unchanged since: nothing to measure
    assert torch.equal(ema.average.norm.running_mean, before)


class GeneratorWeights(L.Callback):
    """G's live weights after every batch (each batch takes a G step here)."""

    def __init__(self) -> None:
        self.after: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.after.append(torch.cat([p.detach().flatten() for p in pl_module.generator.parameters()]).clone())


def test_ema_rampup_caps_the_half_life_at_a_fraction_of_the_steps_taken():
    ema = ExponentialMovingAverage(decay=0.999, start_step=0, rampup=0.1)
    assert ema.decay_at(100) == pytest.approx(0.5 ** (1 / 10))  # half-life 10 steps after 100
    assert ema.decay_at(100_000) == 0.999  # a long run reaches the configured decay
    assert ExponentialMovingAverage(decay=0.99, start_step=0).decay_at(5) == 0.99


def test_training_with_ema_samples_from_the_average_of_the_live_weights(idx_root):
    model = mlp_gan(ema=ExponentialMovingAverage(decay=0.9, start_step=2))
    weights = GeneratorWeights()
    datamodule = IDXDataModule("MNIST", DIGITS, root=str(idx_root), download=False, batch_size=16, subset=96)
    L.Trainer(accelerator="cpu", max_epochs=1, logger=False, callbacks=[weights], enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False).fit(model, datamodule=datamodule)
    expected = weights.after[1]  # steps 1 and 2 copy the live weights, then the average moves 10% toward them
    for live in weights.after[2:]:
        expected = 0.9 * expected + 0.1 * live
    average = torch.cat([p.flatten() for p in model.ema.average.parameters()])
    assert torch.allclose(average, expected, atol=1e-6)
    assert not torch.allclose(average, weights.after[-1], atol=1e-4)  # it lags the live weights
    assert model.sampling_weights == "ema"
    z = torch.randn(5, 8)
    assert torch.equal(model.sample(z), model.ema.average.eval()(z))
    assert not torch.equal(model.sample(z), model.generator.eval()(z))


# --------------------------------------------------------------------------------------------------
# Spectral norm, projection, conditional batch norm


@pytest.mark.parametrize("make", [
    lambda: SNGANDiscriminator((1, 28, 28), channels=8, num_classes=10),
    lambda: DCGANDiscriminator(channels=(8, 16), spectral_norm=True, num_classes=10, conditioning="projection"),
    lambda: MLPDiscriminator(hidden_dims=(64, 32), spectral_norm=True, num_classes=10, conditioning="projection"),
])
def test_spectral_norm_keeps_every_largest_singular_value_near_one(make):
    torch.manual_seed(0)
    discriminator = make()
    for _ in range(30):  # power iterations run in training forward passes
        discriminator(torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,)))
    layers = {name: m for name, m in discriminator.named_modules() if isinstance(m, SpectralNorm)}
    assert {type(m) for m in layers.values()} >= {SpectrallyNormalisedLinear, SpectrallyNormalisedEmbedding}
    for name, layer in layers.items():
        sigma = torch.linalg.matrix_norm(layer.eval().normalised_weight().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05), name


def test_spectral_norm_divides_a_known_matrix_by_its_largest_singular_value():
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 0.5]]))
    spectrally_normalised(layer)
    x = torch.randn(5, 2)
    for _ in range(10):
        layer(x)
    assert torch.allclose(layer(x), x @ torch.tensor([[1.0, 0.0], [0.0, 1 / 6]]), atol=1e-4)


def test_the_dcgan_initialisation_of_a_spectrally_normalised_layer_starts_its_estimate_of_sigma_anew():
    torch.manual_seed(0)
    layer = spectrally_normalised(nn.Linear(64, 32))
    init_normal_(layer, std=0.02)
    sigma = torch.linalg.matrix_norm(layer.weight, ord=2)
    assert layer.eval().sigma().item() == pytest.approx(sigma.item(), rel=0.05)


def torch_and_ours(layer: nn.Module) -> tuple[nn.Module, nn.Module]:
    """`layer` spectrally normalised by PyTorch's parametrization and, a copy with the same u and v, by ours."""
    ours = spectrally_normalised(copy.deepcopy(layer))
    theirs = torch.nn.utils.parametrizations.spectral_norm(layer)
    theirs.parametrizations.weight[0]._u.copy_(ours._u)
    theirs.parametrizations.weight[0]._v.copy_(ours._v)
    return theirs, ours


@pytest.mark.parametrize("make, inputs", [
    (lambda: nn.Linear(6, 4), lambda: torch.randn(3, 6)),
    (lambda: nn.Embedding(5, 4), lambda: torch.tensor([0, 3, 3, 4])),
    (lambda: nn.Conv2d(2, 3, 3, padding=1), lambda: torch.randn(2, 2, 5, 5)),
])
def test_spectral_norm_computes_what_pytorchs_parametrization_computes(make, inputs):
    torch.manual_seed(0)
    theirs, ours = torch_and_ours(make())
    x = inputs()
    for _ in range(3):  # each training pass: one power iteration, then the layer with W / σ, and W's gradient
        out_theirs, out_ours = theirs(x), ours(x)
        assert torch.allclose(out_ours, out_theirs, atol=1e-6)
        out_theirs.square().sum().backward()
        out_ours.square().sum().backward()
        assert torch.allclose(ours.weight.grad, theirs.parametrizations.weight.original.grad, atol=1e-5)
        assert torch.allclose(ours._u, theirs.parametrizations.weight[0]._u, atol=1e-6)
    theirs.eval(), ours.eval()
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)


def test_spectral_norm_estimates_sigma_once_per_step_and_reuses_it():
    torch.manual_seed(0)
    layer = spectrally_normalised(nn.Linear(6, 4))
    x = torch.randn(3, 6)
    with one_sigma_per_step():
        u, v = layer._u.clone(), layer._v.clone()
        first = layer(x)
        after_first = layer._u.clone()
        second = layer(x)
        assert not torch.equal(after_first, u)  # one power iteration …
        assert torch.equal(layer._u, after_first)  # … and no second one
        assert torch.equal(first, second)
        (first.sum() + second.sum()).backward()  # one σ, one graph: both batches' gradients flow through it
    alone = spectrally_normalised(nn.Linear(6, 4))
    alone.load_state_dict(layer.state_dict() | {"_u": u, "_v": v})  # as the layer was before its one iteration
    assert torch.allclose(2 * torch.autograd.grad(alone(x).sum(), alone.weight)[0], layer.weight.grad, atol=1e-6)


def test_a_discriminator_saved_with_pytorchs_spectral_norm_loads_and_judges_alike():
    torch.manual_seed(0)
    saved = MLPDiscriminator(hidden_dims=(16, 8), num_classes=3, conditioning="projection")
    for layer in list(saved.modules()):
        if isinstance(layer, (nn.Linear, nn.Embedding)):
            torch.nn.utils.parametrizations.spectral_norm(layer)
    loaded = MLPDiscriminator(hidden_dims=(16, 8), num_classes=3, conditioning="projection", spectral_norm=True)
    loaded.load_state_dict(saved.state_dict())
    x, labels = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 0])
    assert torch.allclose(loaded.eval()(x, labels).logits, saved.eval()(x, labels).logits, atol=1e-5)


def test_the_projection_head_adds_the_inner_product_with_the_class_embedding():
    head = ProjectionHead(3, num_classes=2)
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[1.0, 0.0, 0.0]]))
        head.linear.bias.fill_(0.5)
        head.embedding.weight.copy_(torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]))
    features = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    # ψ(h) = 1 + 0.5; ⟨e_0, h⟩ = 2, ⟨e_1, h⟩ = 6
    assert head(features, torch.tensor([0, 1])).tolist() == [3.5, 7.5]


def test_conditional_batch_norm_scales_and_shifts_each_class_by_its_own_parameters():
    norm = ConditionalBatchNorm2d(2, num_classes=3)
    with torch.no_grad():
        norm.scale.weight.copy_(torch.tensor([[1.0, 1.0], [2.0, 2.0], [1.0, 1.0]]))
        norm.shift.weight.copy_(torch.tensor([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]))
    x = torch.randn(6, 2, 4, 4)
    normalised = nn.functional.batch_norm(x, None, None, training=True)
    out = norm(x, torch.tensor([0, 0, 1, 1, 2, 2]))
    assert torch.allclose(out[:2], normalised[:2], atol=1e-5)
    assert torch.allclose(out[2:4], 2 * normalised[2:4], atol=1e-5)
    assert torch.allclose(out[4:], normalised[4:] + 5, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: SNGANGenerator((1, 28, 28), latent_dim=8, channels=8, num_classes=10, conditioning="batch_norm"),
    lambda: DCGANGenerator(latent_dim=8, channels=(16, 8, 8), num_classes=10, conditioning="batch_norm"),
])
def test_a_conditional_batch_norm_generator_draws_a_different_image_per_class_from_one_z(make):
    torch.manual_seed(0)
    generator = make()
    for norm in generator.modules():  # per-class scales away from their initial 1, as training makes them
        if isinstance(norm, ConditionalBatchNorm2d):
            nn.init.normal_(norm.scale.weight, 1.0, 0.5)
    generator.eval()
    images = generator(torch.randn(1, 8).expand(10, 8), torch.arange(10))
    assert images.shape == (10, 1, 28, 28)
    assert (images[1:] - images[:1]).abs().amax(dim=(1, 2, 3)).min() > 1e-3  # every class differs from class 0


# --------------------------------------------------------------------------------------------------
# R1 and DiffAugment


class ConstantCritic(nn.Module):
    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        return Critique(torch.zeros(len(x)) + 0.0 * x.flatten(1).sum(1), x.flatten(1))


class QuadraticCritic(nn.Module):
    """D(x) = Σ x², so ∇D = 2x and R1 = E[‖2x‖²] / 2."""

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        return Critique(x.flatten(1).pow(2).sum(1), x.flatten(1))


def test_r1_is_zero_on_a_constant_critic_and_half_the_squared_gradient_otherwise():
    real = torch.randn(8, 1, 4, 4)
    assert r1_penalty(ConstantCritic(), real).item() == 0.0
    expected = (2 * real.flatten(1)).pow(2).sum(1).mean() / 2
    assert r1_penalty(QuadraticCritic(), real).item() == pytest.approx(expected.item(), rel=1e-5)


def test_lazy_r1_is_taken_every_k_steps_and_scaled_by_k():
    model = GAN(MLPGenerator(latent_dim=4, hidden_dims=(8,)), QuadraticCritic(), Hinge(),
                optimizer_g=functools.partial(torch.optim.SGD, lr=0.1), optimizer_d=lambda params: torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1),
                regularisers={"r1": R1Penalty(weight=2.0, every=4)}, init_std=None)
    real = torch.randn(8, 1, 28, 28)
    game = Round(real, real, torch.zeros(8, dtype=torch.long), *(model.critic(real, None),) * 2, model.critic)
    r1 = r1_penalty(model.critic, real).item()
    assert model.regulariser_terms("discriminator_term", game, step=3) == {}
    assert model.regulariser_terms("discriminator_term", game, step=4)["r1"].item() == pytest.approx(2.0 * 4 * r1)


def test_diffaugment_keeps_shapes_and_draws_the_same_transforms_for_real_and_fake_from_the_same_state():
    real, fake = torch.rand(16, 3, 28, 28) * 2 - 1, torch.rand(16, 3, 28, 28) * 2 - 1
    augment = DiffAugment(["colour", "translation", "cutout"])
    torch.manual_seed(3)
    augmented_real = augment(real)
    torch.manual_seed(3)
    augmented_fake = augment(fake)
    assert augmented_real.shape == real.shape and augmented_fake.shape == fake.shape
    # the same draws: the pixels cut out and the borders shifted in (zeros) sit at the same places
    assert torch.equal(augmented_real == 0, augmented_fake == 0)
    assert (augmented_real == 0).any()


def test_translation_moves_a_pixel_and_cutout_blanks_a_square():
    image = torch.zeros(1, 1, 8, 8)
    image[0, 0, 4, 4] = 1.0
    torch.manual_seed(0)
    moved = random_translation(image, ratio=0.25)
    (y, x) = (moved[0, 0] == 1).nonzero()[0].tolist()
    assert abs(y - 4) <= 2 and abs(x - 4) <= 2 and moved.sum() == 1  # within ±2 pixels (0.25 × 8)
    cut = random_cutout(torch.ones(4, 1, 8, 8), ratio=0.5)
    zeros = (cut == 0).sum(dim=(1, 2, 3))
    assert ((zeros >= 4) & (zeros <= 16)).all()  # a 4×4 square, clipped at the border


def test_training_with_diffaugment_shows_d_only_augmented_samples(idx_root):
    seen: list[torch.Tensor] = []

    class Recording(MLPDiscriminator):
        def forward(self, x, labels=None):
            seen.append(x.detach())
            return super().forward(x, labels)

    adam = functools.partial(torch.optim.Adam, lr=1e-3)
    model = GAN(MLPGenerator(latent_dim=8, hidden_dims=(32,)), Recording(hidden_dims=(32,)), Hinge(), adam, adam,
                augment=DiffAugment(["cutout"]))
    fit(model, idx_root, batches=2)
    # real and fake batches alike went through cutout: every image D saw has its blanked square
    assert len(seen) == 2 * 3 and all(((batch == 0).flatten(1).sum(1) >= 49).all() for batch in seen)


# --------------------------------------------------------------------------------------------------
# Learning-rate schedule


def test_linear_decay_reaches_its_end_factor_at_the_last_batch(idx_root):
    model = mlp_gan(lr_schedule=LinearDecay(start=0.5, end_factor=0.0))
    trainer = fit(model, idx_root, batches=4, epochs=2)  # 8 batches: constant for 4, then down to 0
    assert all(opt.param_groups[0]["lr"] == pytest.approx(0.0) for opt in trainer.optimizers)
    factor = LinearDecay(start=0.5, end_factor=0.2)(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), 8).lr_lambdas[0]
    assert [round(factor(batch), 4) for batch in range(9)] == [1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2]


def test_linear_decay_follows_whichever_end_comes_first_batches_or_the_time_budget():
    spent = [0.5]  # the share of trainer.max_time used
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    factor = LinearDecay()(optimizer, 100, lambda: spent[0]).lr_lambdas[0]
    assert factor(10) == pytest.approx(0.5)  # the clock is further along than the batches
    assert factor(80) == pytest.approx(0.2)  # the batches are
    spent[0] = 1.0
    assert factor(10) == 0.0
    unbounded = LinearDecay()(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), math.inf, lambda: spent[0])
    assert unbounded.lr_lambdas[0](10**6) == 0.0


class SlowBatches(L.Callback):
    def on_train_batch_end(self, *args) -> None:
        time.sleep(0.2)


def test_a_run_for_a_time_budget_decays_its_learning_rates_by_the_clock(idx_root):
    model = mlp_gan(lr_schedule=LinearDecay(end_factor=0.0))
    datamodule = IDXDataModule("MNIST", DIGITS, root=str(idx_root), download=False, batch_size=16, subset=64)
    trainer = L.Trainer(accelerator="cpu", max_epochs=1000, max_time={"seconds": 1}, callbacks=[SlowBatches()],
                        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=datamodule)
    # Stopped by the clock after ~5 of 4000 batches: by the batches alone the rates would still be at 0.999.
    assert trainer.global_step < 100
    assert all(opt.param_groups[0]["lr"] < 0.5e-3 for opt in trainer.optimizers)
