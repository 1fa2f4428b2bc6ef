"""The base GAN module: the alternating D/G loop, n_critic, objectives, guards."""

from __future__ import annotations

import csv
import functools

import lightning as L
import pytest
import torch

from ganforge.data import IDXDataModule
from ganforge.errors import ConfigError
from ganforge.losses import NonSaturating
from ganforge.models import GAN
from ganforge.nets import MLPDiscriminator, MLPGenerator

DIGITS = [str(d) for d in range(10)]


def small_gan(n_critic: int = 1, num_classes: int = 0, lr: float = 2e-4, **options) -> GAN:
    adam = functools.partial(torch.optim.Adam, lr=lr, betas=(0.5, 0.999))
    return GAN(
        MLPGenerator(latent_dim=8, hidden_dims=(32,), num_classes=num_classes),
        MLPDiscriminator(hidden_dims=(32,), num_classes=num_classes),
        NonSaturating(),
        optimizer_g=adam,
        optimizer_d=adam,
        n_critic=n_critic,
        **options,
    )


def fit(model: GAN, root, batches: int) -> L.Trainer:
    datamodule = IDXDataModule("MNIST", DIGITS, root=str(root), download=False, batch_size=16)
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, limit_train_batches=batches, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(model, datamodule=datamodule)
    return trainer


def optimizer_steps(trainer: L.Trainer) -> list[int]:
    """How many updates each optimizer (D, G) has applied, read from Adam's own step counters."""
    return [int(next(iter(opt.state.values()))["step"]) if opt.state else 0 for opt in trainer.optimizers]


def test_one_step_changes_generator_and_discriminator(idx_root):
    model = small_gan()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    fit(model, idx_root, batches=1)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert any(name.startswith("generator.") for name in changed)
    assert any(name.startswith("discriminator.") for name in changed)
    assert changed == set(before)


@pytest.mark.parametrize("n_critic", [1, 3, 5])
def test_discriminator_takes_n_critic_steps_per_generator_step(idx_root, n_critic):
    trainer = fit(small_gan(n_critic=n_critic), idx_root, batches=15)
    assert optimizer_steps(trainer) == [15, 15 // n_critic]
    assert trainer.global_step == 15 + 15 // n_critic  # Lightning counts every optimizer step


def test_the_n_critic_rhythm_runs_across_epoch_ends(idx_root):
    # 3 batches per epoch, n_critic 2, two epochs: G steps after D steps 1, 3 and 5, wherever the epochs end.
    model = small_gan(n_critic=2)
    datamodule = IDXDataModule("MNIST", DIGITS, root=str(idx_root), download=False, batch_size=16, subset=48)
    trainer = L.Trainer(accelerator="cpu", max_epochs=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=datamodule)
    assert optimizer_steps(trainer) == [6, 3]
    assert (model.discriminator_steps, model.generator_steps) == (6, 3)


class GeneratorSnapshots(L.Callback):
    """G's and D's weights after every batch."""

    def __init__(self) -> None:
        self.after: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        flat = [torch.cat([p.detach().flatten() for p in net.parameters()]) for net in (pl_module.generator, pl_module.discriminator)]
        self.after.append((flat[0].clone(), flat[1].clone()))


def test_a_discriminator_step_alone_leaves_the_generator_untouched(idx_root):
    snapshots = GeneratorSnapshots()
    datamodule = IDXDataModule("MNIST", DIGITS, root=str(idx_root), download=False, batch_size=16)
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=2, logger=False, callbacks=[snapshots],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(small_gan(n_critic=2), datamodule=datamodule)
    (g_first, d_first), (g_second, d_second) = snapshots.after
    assert torch.equal(g_first, g_second)  # batch 2: D's step only
    assert not torch.equal(d_first, d_second)


def test_logged_metrics(idx_root, tmp_path):
    datamodule = IDXDataModule("MNIST", DIGITS, root=str(idx_root), download=False, batch_size=16, subset=64)
    logger = L.pytorch.loggers.CSVLogger(tmp_path, name="", version="")
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, logger=logger, log_every_n_steps=1, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(small_gan(), datamodule=datamodule)
    logger.save()
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    names = ("loss_d", "loss_g", "d_x", "d_g_z", "acc_real", "acc_fake", "lr_d", "lr_g")
    steps = [row for row in rows if row["train/loss_d"]]
    assert [int(row["step"]) for row in steps] == [1, 2, 3, 4]  # every batch, counted from 1
    (epoch,) = [row for row in rows if row["train/loss_d_epoch"]]
    for name in names:
        assert all(row[f"train/{name}"] for row in steps) and epoch[f"train/{name}_epoch"], name
    # the epoch value is the mean of the batches' values
    assert float(epoch["train/loss_d_epoch"]) == pytest.approx(sum(float(r["train/loss_d"]) for r in steps) / 4, rel=1e-5)
    assert float(epoch["train/lr_g_epoch"]) == pytest.approx(2e-4)


def test_epoch_means_of_the_generator_loss_count_only_its_steps(idx_root, tmp_path):
    datamodule = IDXDataModule("MNIST", DIGITS, root=str(idx_root), download=False, batch_size=16, subset=96)
    logger = L.pytorch.loggers.CSVLogger(tmp_path, name="", version="")
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, logger=logger, log_every_n_steps=1, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(small_gan(n_critic=3), datamodule=datamodule)
    logger.save()
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    g_losses = [float(row["train/loss_g"]) for row in rows if row.get("train/loss_g")]
    d_losses = [float(row["train/loss_d"]) for row in rows if row.get("train/loss_d")]
    (epoch,) = [row for row in rows if row["train/loss_g_epoch"]]
    assert len(d_losses) == 6 and len(g_losses) == 2  # G stepped after D steps 1 and 4
    assert float(epoch["train/loss_g_epoch"]) == pytest.approx(sum(g_losses) / 2, rel=1e-5)
    assert float(epoch["train/loss_d_epoch"]) == pytest.approx(sum(d_losses) / 6, rel=1e-5)


def test_gradient_clipping_bounds_the_update(idx_root):
    # With SGD, the update equals lr × gradient: a clipped gradient norm bounds the parameter change.
    sgd = functools.partial(torch.optim.SGD, lr=1.0)
    model = GAN(MLPGenerator(latent_dim=8, hidden_dims=(32,)), MLPDiscriminator(hidden_dims=(32,)), NonSaturating(),
                optimizer_g=sgd, optimizer_d=sgd, n_critic=2, gradient_clip_val=0.01)
    before = torch.cat([p.detach().flatten().clone() for p in model.discriminator.parameters()])
    fit(model, idx_root, batches=1)
    after = torch.cat([p.detach().flatten() for p in model.discriminator.parameters()])
    assert 0 < (after - before).norm() <= 0.01 + 1e-6


def test_conditional_generator_samples_by_class():
    model = small_gan(num_classes=10)
    assert model.conditional and not small_gan().conditional
    samples = model.sample(torch.randn(4, 8), torch.tensor([0, 1, 2, 3]))
    assert samples.shape == (4, 1, 28, 28) and model.generator.training


def test_label_smoothing_targets():
    objective = NonSaturating(real_label=(0.9, 0.9))
    logits = torch.full((1000,), 20.0)  # D certain of "real"
    # BCE against target 0.9 at p≈1 is -0.9 log p - 0.1 log(1-p) ≈ 0.1·20 = 2
    assert objective.discriminator_loss(logits, -logits).item() == pytest.approx(2.0, abs=0.01)
    noisy = NonSaturating(real_label=(0.9, 1.0))
    targets = noisy._targets(logits, *noisy.real_label)
    assert 0.9 <= targets.min() < 0.91 and 0.99 < targets.max() <= 1.0


@pytest.mark.parametrize(
    "options, message",
    [({"n_critic": 0}, "n_critic"), ({"lr": -1e-3}, "learning rate"), ({"gradient_clip_val": 0.0}, "gradient_clip")],
)
def test_impossible_settings_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        small_gan(**options)


def test_impossible_label_range_is_a_config_error():
    with pytest.raises(ConfigError, match="real_label"):
        NonSaturating(real_label=(1.0, 0.9))
