"""The toy GANs: their data, their pictures, and that the real training loop solves them."""

from __future__ import annotations

import math
from functools import partial

import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image
from torch import nn

from ganforge.callbacks.preview import HistogramWithCritic, ImageGrid, ScatterWithCritic, verdict_on_grid, window
from ganforge.cli import user_error
from ganforge.data import Gaussian1D, Sine2D
from ganforge.data.base import balanced_labels
from ganforge.errors import ConfigError
from ganforge.losses import NonSaturating
from ganforge.models.base import GAN
from ganforge.nets import MLPGenerator
from ganforge.nets.common import Critique
from ganforge.quiet_trainer import fit_quietly, quiet_trainer
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
    assert window(data, extent=3.0) == [(50.0, 110.0)]  # the preview's window: model space ±3


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


class CoordinateSum(nn.Module):
    """A discriminator whose verdict is known by hand: logit = the sum of the model-space coordinates."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        return Critique(x.flatten(1).sum(1) * self.scale, x.flatten(1))


def known_gan(dimensions: int) -> GAN:
    adam = partial(torch.optim.Adam, lr=1e-3)
    generator = MLPGenerator(sample_shape=[dimensions], latent_dim=2, hidden_dims=[4], tanh_output=False)
    return GAN(generator, CoordinateSum(), NonSaturating(), adam, adam, init_std=None)


def test_the_gaussian_preview_shows_d_along_its_window():
    data = Gaussian1D(num_samples=64, sample_shape=[1], shift=[80.0], scale=[10.0])
    grid, verdict = verdict_on_grid(known_gan(1), data, window(data, extent=3.0), points=7)
    assert grid[:, 0].tolist() == pytest.approx([50, 60, 70, 80, 90, 100, 110])
    assert verdict.tolist() == pytest.approx(torch.sigmoid(torch.arange(-3.0, 4.0)).tolist())  # D((x − 80) / 10)
    assert HistogramWithCritic.title(torch.tensor([[90.0], [100.0]]), torch.tensor([[94.0], [96.0]])) == (
        "generated: mean 95.00, std 7.07   real: mean 95.00, std 1.41")


def test_the_sine_preview_shows_d_as_a_heat_map_rows_along_x2():
    data = Sine2D(num_samples=64, **SINE)
    limits = window(data, extent=1.5)
    assert [value for interval in limits for value in interval] == pytest.approx([-math.pi / 2, 5 * math.pi / 2, -1.5, 1.5])
    _, verdict = verdict_on_grid(known_gan(2), data, limits, points=3)
    model = torch.tensor([-1.5, 0.0, 1.5])  # both coordinates' grid in model space
    assert torch.allclose(verdict, torch.sigmoid(model[:, None] + model[None, :]), atol=1e-6)
    assert verdict[0, 2].item() == pytest.approx(0.5)  # lowest x2, highest x1: −1.5 + 1.5
    real, fake = torch.tensor([[0.0, 0.0], [1.0, 0.0]]), torch.tensor([[0.0, 0.5], [1.0, 0.1]])
    assert ScatterWithCritic.title(fake, real) == "mean distance of a generated point to the nearest real one: 0.300"


@pytest.mark.parametrize(("conditional", "count", "rows", "columns"), [(True, 100, 10, 10), (False, 100, 10, 10), (False, 20, 4, 5)])
def test_the_image_preview_is_one_row_per_class_or_a_square(idx_root, conditional, count, rows, columns):
    from ganforge.data import IDXDataModule

    data = IDXDataModule("MNIST", [str(k) for k in range(10)], root=str(idx_root), download=False)
    adam = partial(torch.optim.Adam, lr=1e-3)
    net = MLPGenerator(sample_shape=[1, 28, 28], latent_dim=4, hidden_dims=[8], num_classes=10 if conditional else 0)
    gan = GAN(net, CoordinateSum(), NonSaturating(), adam, adam)
    labels = balanced_labels(count, 10)
    picture = ImageGrid(count)(torch.zeros(count, 1, 28, 28, dtype=torch.uint8), labels, gan, data)
    assert picture.shape == (rows * 30 + 2, columns * 30 + 2, 3)  # 28-pixel tiles, 2 pixels apart


def test_the_sine_experiment_previews_every_third_epoch_and_the_last(compose_config, tmp_path, one_thread):
    train(compose_config(["experiment=toy_sine2d", "trainer.max_epochs=4", "data.num_samples=256"]))
    frames = sorted(path.name for path in (tmp_path / "samples").glob("epoch_*.png"))
    assert frames == ["epoch_002.png", "epoch_003.png"]
    assert np.asarray(Image.open(tmp_path / "samples" / "epoch_003.png")).shape == (400, 640, 3)  # 6.4 × 4 in at 100 dpi


def test_samples_of_a_kind_without_a_drawer_are_one_clear_error(compose_config, one_thread):
    cfg = compose_config(["data=gaussian1d", "model=toy", "data.sample_shape=[3]", "data.shift=[80,80,80]",
                          "data.scale=[10,10,10]", "trainer.fast_dev_run=true"])
    with pytest.raises(Exception) as raised:
        train(cfg)
    assert "no preview drawer for points3d samples (shape [3]); add callbacks.sample_preview.drawers.points3d" in str(
        user_error(raised.value))


@pytest.mark.parametrize(("override", "key"), [("drawers.image.size=0", "drawers.image.size"),
                                             ("every_n_epochs=0", "every_n_epochs")])
def test_impossible_preview_settings_are_config_errors(compose_config, override, key):
    cfg = compose_config([f"callbacks.sample_preview.{override}"])
    with pytest.raises(Exception) as raised:
        instantiate(cfg.callbacks.sample_preview)
    assert f"callbacks.sample_preview.{key} must be a positive integer, got 0" in str(user_error(raised.value))


def test_toy_data_configs_are_plain_and_their_experiments_set_the_run(compose_config):
    plain = compose_config(["data=sine2d", "model=toy"])
    default = compose_config([])
    assert plain.trainer.max_epochs == default.trainer.max_epochs and plain.torch_threads is None  # data only
    for experiment, epochs, every in (("toy_sine2d", 60, 3), ("toy_gaussian1d", 10, 1)):
        cfg = compose_config([f"experiment={experiment}"])
        assert (cfg.trainer.max_epochs, cfg.torch_threads, cfg.callbacks.sample_preview.every_n_epochs) == (epochs, 1, every)


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
    fit_quietly(quiet_trainer(cfg.trainer.max_epochs, accelerator="cpu"), model, datamodule=datamodule)
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
