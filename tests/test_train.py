"""End to end: train.py and its run directories, logs, checkpoints, resume, sweeps and error lines."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import FASHION_DEBIAN, ROOT, data_overrides, path_overrides, run_entry
from ganforge.checkpoint import load_gan, read_checkpoint
from ganforge.training import build_trainer, train

MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml"))
IMAGE_MODELS = [m for m in MODELS if m != "toy"]


def synthetic(idx_root: Path, *extra: str) -> list[str]:
    return [*data_overrides(idx_root), *extra]


def tiny_run(idx_root: Path, *extra: str) -> list[str]:
    """One short epoch: 4 batches of 16 synthetic images."""
    return synthetic(idx_root, "data.subset=64", "data.batch_size=16", "trainer.max_epochs=1", *extra)


@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_fast_dev_run_every_model(compose_config, idx_root, model):
    train(compose_config(synthetic(idx_root, f"model={model}", "trainer.fast_dev_run=true", "data.batch_size=16")))


def test_run_directory_holds_config_events_checkpoints_and_samples(compose_config, idx_root, tmp_path):
    cfg = compose_config(tiny_run(idx_root, "model=cgan", "trainer.max_epochs=2", "trainer.log_every_n_steps=1"))
    train(cfg)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    grids = sorted((tmp_path / "samples").glob("epoch_*.png"))
    assert [g.name for g in grids] == ["epoch_000.png", "epoch_001.png"]
    assert Image.open(grids[0]).size == (10 * 30 + 2, 10 * 30 + 2)  # 10 rows (classes) × 10 samples of 28+2 px
    gif = Image.open(tmp_path / "samples" / "training.gif")
    assert gif.n_frames == 2

    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    for name in ("loss_d", "loss_g", "d_x", "d_g_z", "acc_real", "acc_fake", "lr_d", "lr_g"):
        assert f"train/{name}" in scalars and f"train/{name}_epoch" in scalars, name  # every few batches, every epoch
    assert len(events.Images("samples")) == 2
    hparams_file = tmp_path / "tensorboard" / "hparams.yaml"
    assert "model/optimizer_g/lr" in hparams_file.read_text()
    hparams_session = events.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in hparams_session


def test_the_configured_progress_bar_is_used_and_the_trainer_switch_still_turns_it_off(compose_config, idx_root, tmp_path):
    cfg = compose_config(tiny_run(idx_root))
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    (configured,) = [c for c in callbacks if isinstance(c, ProgressBar)]
    assert build_trainer(cfg.trainer, callbacks, []).progress_bar_callback is configured  # not Lightning's own
    train(compose_config(tiny_run(idx_root, "+trainer.enable_progress_bar=false")))  # Lightning alone would refuse
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_checkpoint_alone_rebuilds_the_generator(compose_config, idx_root, tmp_path):
    train(compose_config(tiny_run(idx_root, "model=cdcgan")))
    checkpoint = tmp_path / "checkpoints" / "last.ckpt"
    model, record = load_gan(checkpoint)
    assert record["choices"]["model"] == "cdcgan" and model.conditional
    state = read_checkpoint(checkpoint)["state_dict"]
    assert all(torch.equal(value, state[name]) for name, value in model.state_dict().items())
    assert model.sample(torch.randn(10, model.latent_dim), torch.arange(10)).shape == (10, 1, 28, 28)


def test_resume_continues_at_the_saved_global_step(compose_config, idx_root, tmp_path):
    train(compose_config(tiny_run(idx_root, "model=cgan")))
    first = tmp_path / "checkpoints" / "last.ckpt"
    assert read_checkpoint(first)["global_step"] == 8  # 4 D steps + 4 G steps
    saved = first.rename(tmp_path / "first.ckpt")
    # Resuming takes the checkpoint's model and data, even if the command line names others.
    train(compose_config(tiny_run(idx_root, "model=dcgan", f"ckpt_path={saved}", "trainer.max_epochs=2", "logger=csv")))
    resumed = read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == 16
    assert resumed["ganforge"]["choices"]["model"] == "cgan"
    with open(tmp_path / "csv" / "metrics.csv") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert min(steps) >= 4  # the loggers' step axis counts batches: 4 were done before the stop


def logged_losses(path: Path) -> list[tuple[str, str]]:
    with open(path / "csv" / "metrics.csv") as f:
        return [(row["train/loss_d"], row["train/loss_g"]) for row in csv.DictReader(f)]


def test_same_seed_same_losses(compose_config, idx_root, tmp_path):
    runs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        cfg = compose_config(tiny_run(idx_root, "logger=csv", "trainer.log_every_n_steps=1", f"seed={seed}"))
        cfg.paths.output_dir = str(tmp_path / name)
        train(cfg)
        runs.append(logged_losses(tmp_path / name))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.skipif(not FASHION_DEBIAN.is_dir(), reason="dataset-fashion-mnist (Debian) is not installed")
def test_a_few_hundred_steps_on_real_fashion_mnist(compose_config, tmp_path):
    cfg = compose_config(["model=mlp_gan", "trainer.max_epochs=1", "trainer.limit_train_batches=200", "logger=csv"])
    train(cfg)
    grid = torch.from_numpy(__import__("numpy").asarray(Image.open(tmp_path / "samples" / "epoch_000.png")))
    assert grid.float().std() > 20  # a picture, not a blank
    with open(tmp_path / "csv" / "metrics.csv") as f:
        final = [row for row in csv.DictReader(f) if row["train/loss_g_epoch"]][-1]
    # After 200 steps the game is under way: neither player has won outright.
    assert 0.05 < float(final["train/d_x_epoch"]) < 0.99 and 0.01 < float(final["train/d_g_z_epoch"]) < 0.95


# ------------------------------------------------------------------------------------------------
# The command line, as a user types it


@pytest.mark.parametrize(
    "args, message",
    [
        (["model=gna"], "unknown model 'gna'"),
        (["data=cifar"], "unknown data 'cifar'"),
        (["model.n_critic=0"], "n_critic must be at least 1"),
        (["model.optimizer_d.lr=-0.1"], "Invalid learning rate"),
        (["data.batch_size=0"], "batch_size must be a positive integer"),
        (["ckpt_path=missing/last.ckpt"], "checkpoint not found: missing/last.ckpt"),
        (["trainer.gradient_clip_val=1.0"], "model.gradient_clip_val"),
        (["data=mnist", "data.download=false"], "train split not found"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, args, message):
    result = run_entry("train.py", *args, *path_overrides(tmp_path))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_corrupt_checkpoint_is_one_error_line_and_keeps_the_file(tmp_path):
    broken = tmp_path / "last.ckpt"
    broken.write_bytes(b"not a checkpoint")
    result = run_entry("train.py", f"ckpt_path={broken}", *path_overrides(tmp_path))
    assert result.returncode == 2 and result.stderr.startswith("error: cannot read checkpoint")
    assert broken.read_bytes() == b"not a checkpoint"


def test_multirun_sweep_gives_each_run_its_folder(tmp_path, idx_root):
    result = run_entry("train.py", "-m", "model=gan,cgan", *tiny_run(idx_root), *path_overrides(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    for job in ("0", "1"):
        assert (sweep / job / "checkpoints" / "last.ckpt").is_file()
        assert (sweep / job / "samples" / "epoch_000.png").is_file()
        assert list((sweep / job / "tensorboard").glob("events.out.tfevents.*"))
    assert read_checkpoint(sweep / "1" / "checkpoints" / "last.ckpt")["ganforge"]["choices"]["model"] == "cgan"


def test_optuna_search_ranks_trials_by_domain_fid(tmp_path, idx_root):
    result = run_entry(
        "train.py", "hparams_search=gan_optuna", "data=mnist", *tiny_run(idx_root), "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.n_startup_trials=2", "callbacks.domain_fid.n_samples=64", *path_overrides(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {"model.optimizer_g.lr", "model.optimizer_d.lr", "model.n_critic"}
    assert results["best_value"] > 0
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "2"]
