"""WGAN, WGAN-GP and AC-GAN: clipping, penalties, extra loss terms and their weights, as configured."""

from __future__ import annotations

import functools
import math
import re

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from conftest import data_overrides
from ganforge.cli import user_error
from ganforge.data import Sine2D
from ganforge.errors import ConfigError
from ganforge.losses import Wasserstein
from ganforge.models import GAN, WGAN
from ganforge.nets import Critique, MLPDiscriminator, MLPGenerator

# Slim nets keep every case fast; the losses and their plumbing are what is under test.
SLIM = {
    "wgan_gp": ["model.generator.channels=[32,16]", "model.discriminator.channels=[8,16]"],
    "wgan": ["model.generator.channels=[32,16]", "model.discriminator.channels=[8,16]"],
    "acgan": [
        "model.generator.channels=[32,16,8]",
        "model.generator.refine_channels=[8]",
        "model.discriminator.channels=[8,8,16,16]",
        "model.discriminator.feature_dim=16",
    ],
}
SLIM["acgan_conditional"] = SLIM["acgan"]


def synthetic_images(idx_root, model: str, *extra: str) -> list[str]:
    return [f"model={model}", "data=mnist", *data_overrides(idx_root), "data.batch_size=16", *SLIM[model], *extra]


def build(compose_config, overrides: list[str]) -> tuple[GAN, L.LightningDataModule]:
    cfg = compose_config(overrides)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    return instantiate(cfg.model), datamodule


def fit(model: GAN, datamodule: L.LightningDataModule, batches: int) -> L.Trainer:
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=batches, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=datamodule)
    return trainer


def test_wgan_keeps_every_critic_weight_in_the_clip_box():
    torch.manual_seed(0)
    rmsprop = functools.partial(torch.optim.RMSprop, lr=5e-5)
    model = WGAN(
        clip_value=0.05, generator=MLPGenerator([2], latent_dim=2, hidden_dims=[16], tanh_output=False),
        discriminator=MLPDiscriminator([2], hidden_dims=[32, 32]), objective=Wasserstein(),
        optimizer_g=rmsprop, optimizer_d=rmsprop, n_critic=5, init_std=1.0,
    )
    assert max(p.abs().max() for p in model.discriminator.parameters()) > 0.5  # clipping has work to do
    datamodule = Sine2D(sample_shape=[2], num_samples=256, shift=[math.pi, 0.0], scale=[math.pi, 1.0], batch_size=16)
    fit(model, datamodule, batches=6)
    for name, parameter in model.discriminator.named_parameters():
        assert parameter.abs().max() <= 0.05, name
    assert any(parameter.abs().max() == 0.05 for parameter in model.discriminator.parameters())


@pytest.mark.parametrize("model", ["wgan", "wgan_gp", "acgan", "acgan_conditional"])
def test_every_variant_trains_both_nets(compose_config, idx_root, model):
    gan, datamodule = build(compose_config, synthetic_images(idx_root, model))
    before = {name: p.detach().clone() for name, p in gan.named_parameters()}
    fit(gan, datamodule, batches=gan.n_critic)  # exactly one generator step
    changed = {name.split(".")[0] for name, p in gan.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"generator", "discriminator"}


@pytest.mark.parametrize(
    ("model", "setting"),
    [
        ("wgan", "model.clip_value=0"),
        ("wgan", "model.clip_value=-0.01"),
        ("wgan_gp", "model.gp_weight=-1"),
        ("acgan", "model.gp_weight=-10"),
        ("acgan", "model.aux_weight=-1"),
        ("acgan", "model.fm_weight=-1"),
        ("acgan", "model.entropy_weight=-0.1"),
        ("acgan", "model.aux_fake_weight=1"),  # needs a conditional generator
    ],
)
def test_impossible_settings_are_config_errors(compose_config, idx_root, model, setting):
    cfg = compose_config(synthetic_images(idx_root, model, setting))
    with pytest.raises(Exception) as caught:
        instantiate(cfg.model)
    error = user_error(caught.value)
    assert isinstance(error, ConfigError)
    assert setting.split("=")[0] in str(error) and "\n" not in str(error)  # one line naming what to set


def test_acgan_logs_every_configured_term_and_class_accuracy(compose_config, idx_root):
    gan, datamodule = build(compose_config, synthetic_images(idx_root, "acgan"))
    logged = fit(gan, datamodule, batches=2).logged_metrics
    for name in ("loss_d_adv", "loss_d_aux", "loss_d_gp", "loss_g_adv", "loss_g_fm", "loss_g_entropy", "acc_class_real"):
        assert f"train/{name}_epoch" in logged, name
    assert 0.0 <= logged["train/acc_class_real_epoch"] <= 1.0
    assert logged["train/loss_d_gp_epoch"] >= 0.0
    assert -math.log(10) <= logged["train/loss_g_entropy_epoch"] / gan.entropy_weight <= 0.0


def test_acgan_without_extra_terms_logs_only_the_adversarial_ones(compose_config, idx_root):
    off = ["model.aux_weight=0", "model.gp_weight=0", "model.fm_weight=0", "model.entropy_weight=0"]
    gan, datamodule = build(compose_config, synthetic_images(idx_root, "acgan", *off))
    logged = fit(gan, datamodule, batches=2).logged_metrics
    terms = {name for name in logged if re.fullmatch(r"train/loss_[dg]_\w+_(step|epoch)", name)}
    assert not terms  # one term per net: only the totals are logged
    assert "train/loss_d_epoch" in logged and "train/acc_class_real_epoch" in logged


def loss_gradients(gan: GAN, net: str, batch, drop: str | None = None) -> list[torch.Tensor]:
    """Gradients of one net's summed loss terms (but `drop`) on `batch`, with all randomness seeded."""
    images, labels = batch
    torch.manual_seed(0)  # noisy labels, dropout, interpolation weights
    z = gan.sample_noise(len(labels), torch.Generator().manual_seed(1))
    if net == "d":
        fake_images = gan.generator(z, labels).detach()
        terms = gan.discriminator_loss(images, fake_images, labels, gan.discriminator(images, labels),
                                       gan.discriminator(fake_images, labels))
    else:
        real = Critique(*(None if t is None else t.detach() for t in gan.discriminator(images, labels)))
        terms = gan.generator_loss(gan.discriminator(gan.generator(z, labels), labels), labels, real)
    assert drop is None or drop in terms
    params = list((gan.discriminator if net == "d" else gan.generator).parameters())
    loss = sum(value for name, value in terms.items() if name != drop)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True))]


@pytest.mark.parametrize(
    ("model", "weight", "net", "term"),
    [
        ("wgan_gp", "gp_weight", "d", "gp"),
        ("acgan", "gp_weight", "d", "gp"),
        ("acgan", "aux_weight", "d", "aux"),
        ("acgan", "fm_weight", "g", "fm"),
        ("acgan", "entropy_weight", "g", "entropy"),
        ("acgan_conditional", "aux_fake_weight", "d", "aux_fake"),
        ("acgan_conditional", "aux_fake_weight", "g", "aux_fake"),
    ],
)
def test_a_term_weighted_zero_has_no_effect_on_the_gradients(compose_config, idx_root, model, weight, net, term):
    weighted, datamodule = build(compose_config, synthetic_images(idx_root, model))
    switched_off, _ = build(compose_config, synthetic_images(idx_root, model, f"model.{weight}=0"))
    switched_off.load_state_dict(weighted.state_dict())
    batch = datamodule.on_after_batch_transfer(next(iter(datamodule.train_dataloader())), 0)

    with_term = loss_gradients(weighted, net, batch)
    without_term = loss_gradients(weighted, net, batch, drop=term)
    weighted_zero = loss_gradients(switched_off, net, batch)
    assert all(torch.allclose(a, b, atol=1e-7) for a, b in zip(weighted_zero, without_term))
    assert not all(torch.allclose(a, b, atol=1e-7) for a, b in zip(with_term, without_term))  # the term does matter
