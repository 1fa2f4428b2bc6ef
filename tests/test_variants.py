"""WGAN, WGAN-GP and AC-GAN: the base GAN with regularisers — clipping, penalties, extra terms and their weights."""

from __future__ import annotations

import functools
import math

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from conftest import data_overrides
from ganforge.cli import user_error
from ganforge.data import Sine2D
from ganforge.errors import ConfigError
from ganforge.losses import Round, Wasserstein, WeightClipping
from ganforge.models import GAN
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


def test_weight_clipping_keeps_every_critic_weight_in_the_clip_box():
    torch.manual_seed(0)
    rmsprop = functools.partial(torch.optim.RMSprop, lr=5e-5)
    model = GAN(
        generator=MLPGenerator([2], latent_dim=2, hidden_dims=[16], tanh_output=False),
        discriminator=MLPDiscriminator([2], hidden_dims=[32, 32]), objective=Wasserstein(),
        optimizer_g=rmsprop, optimizer_d=rmsprop, n_critic=5, init_std=1.0,
        regularisers={"clip": WeightClipping(clip_value=0.05)},
    )
    assert max(p.abs().max() for p in model.discriminator.parameters()) > 0.5  # clipping has work to do
    datamodule = Sine2D(sample_shape=[2], num_samples=256, shift=[math.pi, 0.0], scale=[math.pi, 1.0], batch_size=16)
    fit(model, datamodule, batches=6)
    for name, parameter in model.discriminator.named_parameters():
        assert parameter.abs().max() <= 0.05, name
    assert any(parameter.abs().max() == 0.05 for parameter in model.discriminator.parameters())


@pytest.mark.parametrize("model", ["wgan", "wgan_gp", "acgan", "acgan_conditional"])
def test_one_batch_trains_both_nets_whatever_n_critic(compose_config, idx_root, model):
    gan, datamodule = build(compose_config, synthetic_images(idx_root, model))
    assert gan.n_critic > 1
    before = {name: p.detach().clone() for name, p in gan.named_parameters()}
    fit(gan, datamodule, batches=1)  # as fast_dev_run: one D step, then the first G step
    changed = {name.split(".")[0] for name, p in gan.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"generator", "discriminator"}


@pytest.mark.parametrize(
    ("model", "setting", "message"),
    [
        ("wgan", "model.regularisers.clip.clip_value=0", "clip_value must be positive"),
        ("wgan", "model.regularisers.clip.clip_value=-0.01", "clip_value must be positive"),
        ("wgan_gp", "model.regularisers.gp.weight=-1", "model.regularisers.gp.weight must be 0 (off) or positive"),
        ("acgan", "model.regularisers.aux.weight=-1", "model.regularisers.aux.weight must be"),
        ("acgan", "model.regularisers.fm.every=0", "model.regularisers.fm.every must be at least 1"),
        ("acgan", "+regulariser@model.regularisers.aux_fake=classify_fake", "this generator is unconditional"),
        ("acgan", "model.discriminator.batch_norm=true", "model.regularisers.gp penalises D's gradient sample by sample"),
        ("acgan", "model.discriminator.dropout=0.25", "the discriminator has Dropout"),
    ],
)
def test_impossible_settings_are_config_errors(compose_config, idx_root, model, setting, message):
    cfg = compose_config(synthetic_images(idx_root, model, setting))
    with pytest.raises(Exception) as caught:
        instantiate(cfg.model)
    error = user_error(caught.value)
    assert isinstance(error, ConfigError)
    assert message in str(error) and "\n" not in str(error)  # one line naming what to set


def test_a_gradient_penalty_without_batch_norm_or_dropout_is_fine(compose_config, idx_root):
    gan, _ = build(compose_config, synthetic_images(idx_root, "acgan", "model.discriminator.dropout=0.25",
                                                    "model.regularisers.gp=null"))
    assert "gp" not in gan.regularisers  # no penalty: dropout is allowed again


def test_acgan_logs_every_configured_term_and_class_accuracy(compose_config, idx_root):
    gan, datamodule = build(compose_config, synthetic_images(idx_root, "acgan"))
    logged = fit(gan, datamodule, batches=2).logged_metrics
    for name in ("loss_d_adv", "loss_d_aux", "loss_d_gp", "loss_g_adv", "loss_g_fm", "loss_g_entropy", "acc_class_real"):
        assert f"train/{name}_epoch" in logged, name
    # the epoch means are means of the two batches' terms: loss_d is their sum
    terms = sum(logged[f"train/loss_d_{name}_epoch"] for name in ("adv", "aux", "gp"))
    assert logged["train/loss_d_epoch"] == pytest.approx(terms.item(), rel=1e-5)


def test_acgan_without_extra_terms_logs_only_the_adversarial_ones(compose_config, idx_root):
    off = [f"model.regularisers.{name}=null" for name in ("aux", "gp", "fm", "entropy")]
    gan, datamodule = build(compose_config, synthetic_images(idx_root, "acgan", *off))
    logged = fit(gan, datamodule, batches=2).logged_metrics
    losses = {name for name in logged if name.startswith("train/loss_")}
    assert losses == {"train/loss_d_epoch", "train/loss_g_epoch"}  # one term per net: only the totals
    assert "train/loss_d_epoch" in logged and "train/acc_class_real_epoch" in logged


def loss_gradients(gan: GAN, net: str, batch, drop: str | None = None) -> list[torch.Tensor]:
    """Gradients of one net's summed loss terms (but `drop`) on `batch`, with all randomness seeded."""
    images, labels = batch
    torch.manual_seed(0)  # noisy labels, interpolation weights
    fake = gan.generator(gan.sample_noise(len(labels), torch.Generator().manual_seed(1)), labels)
    real_verdict = gan.critic(images, labels)
    if net == "d":
        game = Round(images, fake.detach(), labels, real_verdict, gan.critic(fake.detach(), labels), gan.critic)
        terms = {"adv": gan.objective.discriminator_loss(game.real_verdict.logits, game.fake_verdict.logits)}
        terms |= gan.regulariser_terms("discriminator_term", game, step=1)
    else:
        detached = Critique(*(None if t is None else t.detach() for t in real_verdict))
        game = Round(images, fake, labels, detached, gan.critic(fake, labels), gan.critic)
        terms = {"adv": gan.objective.generator_loss(game.fake_verdict.logits)}
        terms |= gan.regulariser_terms("generator_term", game, step=1)
    assert drop is None or drop in terms
    params = list((gan.discriminator if net == "d" else gan.generator).parameters())
    loss = sum(value for name, value in terms.items() if name != drop)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True))]


@pytest.mark.parametrize(
    ("model", "net", "term"),
    [
        ("wgan_gp", "d", "gp"),
        ("acgan", "d", "gp"),
        ("acgan", "d", "aux"),
        ("acgan", "g", "fm"),
        ("acgan", "g", "entropy"),
        ("acgan_conditional", "d", "aux_fake"),
        ("acgan_conditional", "g", "aux_fake"),
    ],
)
def test_a_term_weighted_zero_has_no_effect_on_the_gradients(compose_config, idx_root, model, net, term):
    weighted, datamodule = build(compose_config, synthetic_images(idx_root, model))
    switched_off, _ = build(compose_config, synthetic_images(idx_root, model, f"model.regularisers.{term}.weight=0"))
    switched_off.load_state_dict(weighted.state_dict())
    batch = datamodule.on_after_batch_transfer(next(iter(datamodule.train_dataloader())), 0)

    with_term = loss_gradients(weighted, net, batch)
    without_term = loss_gradients(weighted, net, batch, drop=term)
    weighted_zero = loss_gradients(switched_off, net, batch)
    assert all(torch.allclose(a, b, atol=1e-7) for a, b in zip(weighted_zero, without_term))
    assert not all(torch.equal(a, b) for a, b in zip(with_term, without_term))  # the term does matter
