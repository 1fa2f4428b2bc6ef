"""Tiny training runs shared by the evaluation tests: made once per test session, by train.py as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import data_overrides, make_idx_dataset, path_overrides, run_entry
from ganforge.domain_classifier import classifier_files


def synthetic_data(base: Path) -> Path:
    """Synthetic bar digits, large enough for a classifier to learn in an epoch (1000 train, 200 test)."""
    folder = base / "bars"
    if not folder.exists():
        make_idx_dataset(folder, n_train=1000, n_test=200)
    return folder


def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory, model: str) -> Path:
    """The last.ckpt of `python train.py model=<model> data=mnist` on the synthetic bars (one short epoch)."""
    base = tmp_path_factory.getbasetemp()
    run = base / f"run-{model}"
    found = sorted(run.glob("logs/train/runs/*/checkpoints/last.ckpt"))
    if found:
        return found[0]
    result = run_entry(
        "train.py", f"model={model}", "data=mnist", *data_overrides(synthetic_data(base)), *path_overrides(run),
        "trainer.max_epochs=1", "data.batch_size=50", "callbacks.sample_preview.drawers.image.size=20",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return sorted(run.glob("logs/train/runs/*/checkpoints/last.ckpt"))[0]


def trained_classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The classifier folder of `python train.py experiment=classifier data=mnist` on the synthetic bars (one epoch):
    it holds mnist-<key>.pt, the domain classifier of the datasets the checkpoints above were trained on."""
    base = tmp_path_factory.getbasetemp() / "run-classifier"
    folder = base / "data" / "classifiers"
    if folder.is_dir() and classifier_files(folder, "mnist"):
        return folder
    result = run_entry("train.py", "experiment=classifier", "data=mnist", *data_overrides(synthetic_data(base.parent)),
                       *path_overrides(base), "trainer.max_epochs=1")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


# Fixtures of the test modules that need these checkpoints (imported there by name).
@pytest.fixture(scope="module")
def cgan_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_checkpoint(tmp_path_factory, "cgan")


@pytest.fixture(scope="module")
def gan_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_checkpoint(tmp_path_factory, "gan")
