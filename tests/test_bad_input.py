"""Bad input (issue 8): one `error:` line that says what to do, exit status 2, no traceback, and nothing already
written (checkpoints, logs, classifiers, the user's files) lost or overwritten."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import data_overrides, make_idx_dataset, make_image_folder, path_overrides, run_entry
from ganforge.domain_classifier import classifier_files
from ganforge.errors import ConfigError
from ganforge.nets import ACGANGenerator, DCGANGenerator, MLPGenerator, SNGANGenerator

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there: cuda settings are not bad input here")


def snapshot(folder: Path) -> dict[Path, bytes]:
    """Every file under `folder` with its bytes."""
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def assert_unchanged(before: dict[Path, bytes]) -> None:
    for path, content in before.items():
        assert path.is_file() and path.read_bytes() == content, f"{path} was changed or removed"


def error_line(result: subprocess.CompletedProcess, phrase: str, startup_lines: bool = False) -> str:
    """The one `error:` line of a refused command, checked to hold `phrase`; stderr holds nothing else unless
    `startup_lines` (Lightning's own lines when a Trainer was built before the refusal)."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and (startup_lines or len(lines) == 1), result.stderr[-3000:]
    assert phrase in errors[0], errors[0]
    return errors[0]


def mnist(data_root: Path) -> list[str]:
    return ["data=mnist", *data_overrides(data_root)]


@pytest.fixture(scope="module")
def idx(tmp_path_factory) -> Path:
    return make_idx_dataset(tmp_path_factory.mktemp("bars"), n_train=128, n_test=32)


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory, idx) -> Path:
    """last.ckpt of a two-epoch MLP GAN run (two batches an epoch)."""
    base = tmp_path_factory.mktemp("two-epochs")
    result = run_entry("train.py", "model=mlp_gan", *mnist(idx), *path_overrides(base), "trainer.max_epochs=2",
                       "trainer.limit_train_batches=2", "data.batch_size=32", f"hydra.run.dir={base / 'run'}")
    assert result.returncode == 0, result.stderr[-3000:]
    return base / "run" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def toy_ckpt(tmp_path_factory) -> Path:
    """last.ckpt of a short run of the 1-D toy GAN (points, not images)."""
    base = tmp_path_factory.mktemp("toy")
    result = run_entry("train.py", "experiment=toy_gaussian1d", *path_overrides(base), "trainer.max_epochs=1",
                       "trainer.limit_train_batches=2", f"hydra.run.dir={base / 'run'}")
    assert result.returncode == 0, result.stderr[-3000:]
    return base / "run" / "checkpoints" / "last.ckpt"


# ------------------------------------------------------------------------------------------------------
# Values that printed a traceback, or trained nothing without a word


@pytest.mark.parametrize(
    "override, phrase",
    [
        ("model.optimizer_g.lr=abc", "model.optimizer_g:"),
        ("data.subset=abc", "data.subset must be a positive number of samples or null, got 'abc'"),
        ("data.subset=100000", "data.subset=100000 is more than the 128 samples of the train split"),
        ("trainer.max_epochs=-2", "trainer.max_epochs must be a positive number of epochs"),
        ("trainer.max_epochs=0", "(0 would train nothing)"),
        ("model.generator.latent_dim=0", "model.generator.latent_dim must be at least 1"),
        pytest.param("trainer=gpu", "trainer=cpu runs on any machine", marks=NO_GPU),
    ],
)
def test_a_bad_training_setting_is_one_line_and_writes_no_checkpoint(tmp_path, idx, override, phrase):
    earlier = tmp_path / "logs" / "train" / "runs" / "earlier" / "checkpoints" / "last.ckpt"
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"an earlier run's checkpoint")
    before = snapshot(tmp_path)
    result = run_entry("train.py", "model=mlp_gan", *mnist(idx), *path_overrides(tmp_path), override,
                       "trainer.limit_train_batches=1", "data.batch_size=32")
    error_line(result, phrase)
    assert_unchanged(before)
    assert list(tmp_path.glob("logs/train/runs/*/checkpoints/*.ckpt")) == [earlier]


@pytest.mark.parametrize("generator", [MLPGenerator, DCGANGenerator, ACGANGenerator, SNGANGenerator])
def test_every_generator_refuses_a_latent_dim_below_one(generator):
    with pytest.raises(ConfigError, match="latent_dim must be at least 1"):
        generator(latent_dim=0)


@pytest.mark.parametrize("max_epochs", [1, 2])
def test_resuming_with_no_epochs_left_is_one_line_and_keeps_the_checkpoint(two_epochs, tmp_path, max_epochs):
    before = snapshot(two_epochs.parent)
    result = run_entry("train.py", f"ckpt_path={two_epochs}", f"trainer.max_epochs={max_epochs}",
                       *path_overrides(tmp_path))
    error_line(result, f"has already trained 2 epoch(s), so trainer.max_epochs={max_epochs} leaves nothing to train")
    assert_unchanged(before)


@pytest.mark.parametrize("script", ["train.py", "generate.py", "evaluate.py"])
def test_a_log_dir_that_is_a_file_is_one_line(tmp_path, script):
    log_file = tmp_path / "logs"
    log_file.write_text("a file of the user's, not a folder")
    reads = [] if script == "train.py" else ["ckpt=any.ckpt"]
    result = run_entry(script, f"paths.log_dir={log_file}", f"paths.data_dir={tmp_path / 'data'}", *reads)
    error_line(result, "set paths.log_dir to a folder you can write")
    assert log_file.read_text() == "a file of the user's, not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_log_dir_is_one_line(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    logs.chmod(0o555)
    try:
        result = run_entry("generate.py", f"paths.log_dir={logs}", "ckpt=any.ckpt")
    finally:
        logs.chmod(0o755)
    error_line(result, "set paths.log_dir to a folder you can write")
    assert not any(logs.iterdir())


# ------------------------------------------------------------------------------------------------------
# generate.py and evaluate.py: the user's files, devices, broken and foreign checkpoints


def test_generate_overwrites_none_of_the_users_files(two_epochs, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "00001.png").write_bytes(b"the user's own picture")
    (out / "notes.txt").write_text("kept")
    before = snapshot(out)
    result = run_entry("generate.py", f"ckpt={two_epochs}", "n=4", f"out={out}", *path_overrides(tmp_path))
    error_line(result, f"{out / '00001.png'} already exists")
    assert snapshot(out) == before  # byte-identical, and nothing new (no samples.npz, no other PNG)


def test_generate_into_a_file_is_one_line(two_epochs, tmp_path):
    target = tmp_path / "samples"
    target.write_text("a file, not a folder")
    result = run_entry("generate.py", f"ckpt={two_epochs}", "n=4", f"out={target}", *path_overrides(tmp_path))
    error_line(result, "is a file, not a folder; set out to a folder you can write")
    assert target.read_text() == "a file, not a folder"


@NO_GPU
@pytest.mark.parametrize("script", ["generate.py", "evaluate.py"])
def test_device_cuda_without_a_gpu_is_one_line(two_epochs, tmp_path, script):
    result = run_entry(script, f"ckpt={two_epochs}", "device=cuda", *path_overrides(tmp_path))
    error_line(result, "device=cuda is not available on this machine")
    assert not list(tmp_path.glob("logs/*/runs/*/*.npz")) and not list(tmp_path.glob("logs/*/runs/*/metrics.json"))


def test_a_checkpoint_with_nan_weights_is_refused_by_every_entry_point(two_epochs, tmp_path):
    checkpoint = torch.load(two_epochs, weights_only=True)
    name = next(name for name, tensor in checkpoint["state_dict"].items() if tensor.is_floating_point())
    checkpoint["state_dict"][name][0] = float("nan")
    broken = tmp_path / "diverged.ckpt"
    torch.save(checkpoint, broken)
    commands = {"generate.py": [f"ckpt={broken}", f"out={tmp_path / 'out'}"],
                "evaluate.py": [f"ckpt={broken}", "metrics=domain", "n_samples=10"],
                "train.py": [f"ckpt_path={broken}", "trainer.max_epochs=3"]}
    for script, args in commands.items():
        result = run_entry(script, *args, *path_overrides(tmp_path))
        error_line(result, f"refusing {broken}: 1 of its weights hold NaN or infinite values (first: {name})")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("logs/eval/runs/*/metrics.json"))


def test_a_toy_checkpoint_gives_points_to_generate_and_is_refused_by_evaluate(toy_ckpt, tmp_path):
    result = run_entry("generate.py", f"ckpt={toy_ckpt}", "n=5", f"out={tmp_path / 'points'}", *path_overrides(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(path.name for path in (tmp_path / "points").iterdir()) == ["samples.npz"]
    with np.load(tmp_path / "points" / "samples.npz") as samples:
        assert set(samples) == {"points"} and samples["points"].shape == (5, 1)
        assert samples["points"].dtype == np.float32 and 50 < samples["points"].mean() < 110  # centimetres
    result = run_entry("evaluate.py", f"ckpt={toy_ckpt}", "n_samples=10", *path_overrides(tmp_path))
    error_line(result, "evaluate.py measures images, and")
    assert not list(tmp_path.glob("logs/eval/runs/*/metrics.json"))


# ------------------------------------------------------------------------------------------------------
# What an evaluation depends on: the domain classifier


def test_a_classifier_run_never_overwrites_the_classifier_evaluations_use(tmp_path, idx):
    command = ["experiment=classifier", *mnist(idx), *path_overrides(tmp_path), "trainer.max_epochs=1",
               "trainer.limit_train_batches=2"]
    assert run_entry("train.py", *command).returncode == 0
    (first,) = classifier_files(tmp_path / "data" / "classifiers", "mnist")
    before = snapshot(first.parent)
    error_line(run_entry("train.py", *command), f"{first} is a domain classifier of this same data and recipe",
               startup_lines=True)
    assert snapshot(first.parent) == before
    # Other data (here a subset) is another classifier, kept beside the first under a key of its own.
    other = run_entry("train.py", *command, "data.subset=64", "data.batch_size=32")
    assert other.returncode == 0, other.stderr[-3000:]
    assert_unchanged(before)
    assert len(classifier_files(tmp_path / "data" / "classifiers", "mnist")) == 2


# ------------------------------------------------------------------------------------------------------
# Folders of pictures: broken files are skipped by name, an empty test split is one line


def header_bomb(path: Path, side: int = 30_000) -> None:
    """A PNG of a few bytes whose header claims side×side pixels: PIL's decompression-bomb check refuses it."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", side, side)  # IHDR's width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # and its checksum
    path.write_bytes(bytes(data))


def test_a_folder_with_broken_pictures_trains_and_an_empty_test_split_is_one_line(tmp_path):
    pictures = make_image_folder(tmp_path / "pictures")
    header_bomb(pictures / "cats" / "bomb.png")
    (pictures / "dogs" / "broken.png").write_bytes(b"not a picture")
    before = snapshot(pictures)
    run = tmp_path / "run"
    result = run_entry("train.py", "data=folder", f"data.path={pictures}", "data.sample_shape=[3,32,32]", "model=dcgan",
                       "data.test_fraction=0", "data.batch_size=8", "trainer.max_epochs=1",
                       "trainer.limit_train_batches=1", *path_overrides(tmp_path), f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]
    logged = result.stdout + result.stderr  # Hydra's log lines go to stdout
    assert f"skipping {pictures / 'cats' / 'bomb.png'}: more than data.max_image_pixels" in logged
    assert f"skipping {pictures / 'dogs' / 'broken.png'}: not a readable picture" in logged
    result = run_entry("evaluate.py", f"ckpt={run / 'checkpoints' / 'last.ckpt'}", "metrics=domain", "n_samples=10",
                       *path_overrides(tmp_path))
    error_line(result, "split of")
    assert "is empty (data.test_fraction=0" in result.stderr
    assert_unchanged(before)
