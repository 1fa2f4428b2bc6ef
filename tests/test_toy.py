"""The toy GANs: their data, their pictures, and that the real training loop solves them."""

from __future__ import annotations

import math

import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from ganforge.data import Gaussian1D, Sine2D
from ganforge.errors import ConfigError
from ganforge.training import train

SINE = {"sample_shape": [2], "shift": [math.pi, 0.0], "scale": [math.pi, 1.0]}


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_thread(restore_threads):
    """Tiny nets train fastest on one thread, and busy neighbours cannot stall it."""
    torch.set_num_threads(1)


def test_gaussian_samples_and_the_model_space():
    data = Gaussian1D(mean=95.0, std=5.0, num_samples=20000, sample_shape=[1], shift=[80.0], scale=[10.0])
    data.setup("fit")
    samples, labels = data.train_set.tensors
    assert samples.shape == (20000, 1) and samples.mean().item() == pytest.approx(95.0, abs=0.1)
    assert samples.std().item() == pytest.approx(5.0, abs=0.1)
    assert not labels.any() and data.num_classes == 0
    # an untrained generator's output, ≈ 0, means 80 cm; the data sit at 1.5 ± 0.5
    assert data.to_data_space(torch.zeros(1, 1)).item() == 80.0
    assert data.to_model_space(torch.tensor([[95.0]])).item() == pytest.approx(1.5)
    assert torch.allclose(data.to_data_space(data.to_model_space(samples)), samples)
    assert data.preview_limits() == [(50.0, 110.0)]


def test_sine_points_lie_on_the_curve():
    data = Sine2D(num_samples=1024, **SINE)
    data.setup("fit")
    points = data.train_set.tensors[0]
    assert points.shape == (1024, 2)
    assert 0.0 <= points[:, 0].min() and points[:, 0].max() <= 2 * math.pi
    assert data.distance_to_curve(points).max() < 1e-6
    assert data.to_model_space(points).abs().max() <= 1.0 + 1e-6  # both coordinates in [-1, 1] for the nets
    assert data.distance_to_curve(torch.tensor([[0.0, 0.5], [math.pi / 2, 0.0]])).tolist() == pytest.approx([0.5, 1.0])


@pytest.mark.parametrize(
    "options",
    [
        {"sample_shape": [3], **{k: v for k, v in SINE.items() if k != "sample_shape"}},
        {**SINE, "scale": [math.pi, 0.0]},
        {**SINE, "class_names": ["up", "down"]},
        {**SINE, "x1_range": [1.0, 1.0]},
    ],
)
def test_impossible_toy_settings_are_config_errors(options):
    with pytest.raises(ConfigError):
        Sine2D(num_samples=64, **options)


@pytest.mark.parametrize("data", ["gaussian1d", "sine2d"])
def test_fast_dev_run_writes_a_preview_plot(compose_config, tmp_path, one_thread, data):
    train(compose_config([f"data={data}", "model=toy", "trainer.fast_dev_run=true"]))
    picture = np.asarray(Image.open(tmp_path / "samples" / "epoch_000.png"))
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.shape[0] > 300
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 50  # a plot, not a blank canvas


def test_toy_experiments_set_their_thread_count(compose_config, restore_threads):
    torch.set_num_threads(2)
    train(compose_config(["experiment=toy_sine2d", "trainer.fast_dev_run=true"]))
    assert torch.get_num_threads() == 1
    with pytest.raises(ConfigError, match="torch_threads"):
        train(compose_config(["experiment=toy_sine2d", "torch_threads=0"]))


def train_toy(compose_config, experiment: str, seed: int):
    """Fit the experiment's GAN exactly as configured (no logs or pictures); its datamodule and module."""
    cfg = compose_config([f"experiment={experiment}", f"seed={seed}"])
    L.seed_everything(cfg.seed, verbose=False)
    datamodule, model = instantiate(cfg.data), instantiate(cfg.model)
    trainer = instantiate(cfg.trainer, accelerator="cpu", logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=datamodule)
    samples = model.sample(model.sample_noise(20000, torch.Generator().manual_seed(123)))
    return datamodule, datamodule.to_data_space(samples)


@pytest.mark.parametrize("seed", [0])
def test_gaussian1d_gan_learns_chest_sizes(compose_config, one_thread, seed):
    _, fake = train_toy(compose_config, "toy_gaussian1d", seed)
    assert fake.mean().item() == pytest.approx(95.0, abs=2.0)
    assert fake.std().item() == pytest.approx(5.0, abs=2.0)


@pytest.mark.parametrize("seed", [0])
def test_sine2d_gan_puts_its_points_on_the_curve(compose_config, one_thread, seed):
    datamodule, fake = train_toy(compose_config, "toy_sine2d", seed)
    assert datamodule.distance_to_curve(fake).mean().item() < 0.15
    assert fake[:, 0].std().item() > 1.2  # spread along the curve (uniform on [0, 2π]: 1.81), not collapsed
