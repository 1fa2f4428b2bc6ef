"""What a GPU changes: the whole uint8 split on the device, bf16 mixed precision, TF32. Skipped without CUDA."""

from __future__ import annotations

import pytest
import torch

from conftest import data_overrides
from ganforge.training import train

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")]


def test_a_gpu_run_keeps_the_dataset_on_the_device_in_bf16(compose_config, idx_root, tmp_path):
    cfg = compose_config(["model=sngan_cgan", "data=mnist", *data_overrides(idx_root), "data.subset=64",
                          "data.batch_size=16", "trainer.max_epochs=1", "model.generator.channels=8",
                          "model.discriminator.channels=8"])
    assert cfg.trainer.precision == "bf16-mixed" or not torch.cuda.is_bf16_supported()
    train(cfg)
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_batches_are_gathered_on_the_gpu(idx_root):
    from ganforge.data import IDXDataModule

    datamodule = IDXDataModule("MNIST", [str(d) for d in range(10)], root=str(idx_root), download=False, batch_size=16)
    datamodule.setup("fit")
    datamodule.training_device = lambda: torch.device("cuda")  # as a fitting trainer on a GPU reports it
    images, labels = next(iter(datamodule.train_dataloader()))
    assert images.device.type == "cuda" and images.dtype == torch.uint8 and labels.device.type == "cuda"
