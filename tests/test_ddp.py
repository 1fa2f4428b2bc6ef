"""trainer=ddp on two CPU processes (gloo): both ranks end with one model — weights, EMA copy, spectral norms'
vectors and batch-norm statistics alike —, each rank trains on its own half of every epoch, and only the epoch
means are synchronised for logging (step values are rank 0's own)."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, data_overrides, path_overrides
from ganforge.checkpoint import read_checkpoint

TESTS = Path(__file__).resolve().parent
# Tiny nets: the plumbing across processes is under test, not the nets.
SMALL = {
    "gan": ["model.generator.channels=8", "model.discriminator.channels=8", "model.ema.start_step=2"],
    "cgan": ["model.generator.hidden_dims=[16]", "model.discriminator.hidden_dims=[16]", "model.ema.start_step=2"],
    "sngan_cgan": ["model.generator.channels=8", "model.discriminator.channels=8", "model.ema.start_step=2"],
    "wgan_gp": ["model.generator.channels=[32,16]", "model.discriminator.channels=[8,16]"],
    "mlp_gan": ["model.generator.hidden_dims=[16]", "model.discriminator.hidden_dims=[16]"],
    "mlp_cgan": ["model.generator.hidden_dims=[16]", "model.discriminator.hidden_dims=[16]"],
    "dcgan": ["model.generator.channels=[32,16]", "model.discriminator.channels=[8,16]"],
    "cdcgan": ["model.generator.channels=[32,16]", "model.discriminator.channels=[8,16]"],
    "wgan": ["model.generator.channels=[32,16]", "model.discriminator.channels=[8,16]"],
    "acgan": ["model.generator.channels=[32,16,8]", "model.generator.refine_channels=[8]",
              "model.discriminator.channels=[8,8,16,16]", "model.discriminator.feature_dim=16"],
}
SMALL["acgan_conditional"] = SMALL["acgan"]
IMAGE_MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml") if p.stem != "toy")
THROUGH_TRAIN_PY = ["gan", "cgan", "wgan_gp"]
SUBSET, BATCH, EPOCHS = 128, 16, 2  # 4 batches of 16 per rank and epoch


def short_ddp_run(idx_root: Path) -> list[str]:
    return ["data=mnist", *data_overrides(idx_root), f"data.subset={SUBSET}", f"data.batch_size={BATCH}",
            f"trainer.max_epochs={EPOCHS}", "trainer.log_every_n_steps=2", "logger=csv",
            "callbacks.sample_preview.gif=false"]


def with_tests_importable() -> dict[str, str]:
    """The environment of a run whose config names the test-only callback `ddp_probe.RankProbe`."""
    return os.environ | {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
                         "OMP_NUM_THREADS": "1"}


def load_ranks(folder: Path) -> tuple[dict, dict]:
    return tuple(torch.load(folder / f"rank{rank}.pt", weights_only=True) for rank in (0, 1))


def assert_one_model_and_disjoint_shards(folder: Path) -> tuple[dict, dict]:
    """Both ranks hold the same state (every parameter and buffer); within each epoch they saw different samples,
    together the whole subset."""
    first, second = load_ranks(folder)
    assert first["state"].keys() == second["state"].keys()
    differing = [name for name in first["state"] if not torch.equal(first["state"][name], second["state"][name])]
    assert not differing, differing
    for epoch in range(EPOCHS):
        seen = [{digest for at, digest in rank["samples"] if at == epoch} for rank in (first, second)]
        assert len(seen[0]) == len(seen[1]) == SUBSET // 2 and not seen[0] & seen[1], epoch
    return first, second


@pytest.mark.parametrize("model", THROUGH_TRAIN_PY)
def test_train_py_ddp_ranks_agree_shard_the_data_and_sync_only_epoch_means(tmp_path, idx_root, model):
    probe = tmp_path / "ranks"
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
         f"model={model}", *SMALL[model], *short_ddp_run(idx_root), *path_overrides(tmp_path),
         "+callbacks.rank_probe._target_=ddp_probe.RankProbe", f"+callbacks.rank_probe.dirpath={probe}"],
        cwd=ROOT, env=with_tests_importable(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = assert_one_model_and_disjoint_shards(probe)
    state = first["state"]
    if model != "wgan_gp":  # SN-GAN nets: the EMA copy and the spectral norms' power-iteration vectors agree too
        assert any(name.startswith("ema.average.") for name in state)
        assert any(name.endswith("._u") for name in state)
        assert any("running_mean" in name for name in state)

    (run,) = (tmp_path / "logs" / "train" / "runs").iterdir()  # both processes write into one run
    n_critic = {"wgan_gp": 5}.get(model, 1)
    batches = EPOCHS * SUBSET // 2 // BATCH
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] == batches + math.ceil(batches / n_critic)

    with open(run / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    steps = {int(row["step"]): float(row["train/loss_d"]) for row in rows if row["train/loss_d"]}
    # Step values: rank 0's own loss of that batch, every log_every_n_steps batches, not a mean across ranks.
    assert steps == pytest.approx({step: first["losses"][step - 1]["loss_d"] for step in (2, 4, 6, 8)}, rel=1e-6)
    assert any(first["losses"][step - 1]["loss_d"] != second["losses"][step - 1]["loss_d"] for step in steps)
    # Epoch values: the mean over both ranks' batches of the epoch, synchronised once.
    epochs = [float(row["train/loss_d_epoch"]) for row in rows if row["train/loss_d_epoch"]]
    per_epoch = batches // EPOCHS
    expected = [sum(rank["losses"][i]["loss_d"] for rank in (first, second)
                    for i in range(epoch * per_epoch, (epoch + 1) * per_epoch)) / (2 * per_epoch)
                for epoch in range(EPOCHS)]
    assert epochs == pytest.approx(expected, rel=1e-5)


def test_every_other_image_variant_under_ddp(tmp_path, idx_root):
    """The remaining variants one after the other in one pair of processes (torchrun; the same trainer=ddp)."""
    variants = {model: SMALL[model] for model in IMAGE_MODELS if model not in THROUGH_TRAIN_PY}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(TESTS / "ddp_probe.py"),
         str(tmp_path), json.dumps(variants), *short_ddp_run(idx_root)],
        cwd=ROOT, env=with_tests_importable(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for model in variants:
        assert_one_model_and_disjoint_shards(tmp_path / model)
