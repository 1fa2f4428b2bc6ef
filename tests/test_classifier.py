"""The domain classifier: its net, and training it with train.py experiment=classifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import data_overrides, make_idx_dataset, path_overrides, run_entry, write_idx
from ganforge.checkpoint import load_gan, load_module
from ganforge.domain_classifier import classifier_files
from ganforge.errors import CheckpointError
from ganforge.models.classifier import Classifier
from ganforge.nets.classifier import ConvClassifier


@pytest.mark.parametrize(("image_shape", "channels"), [((1, 28, 28), (16, 32)), ((3, 32, 32), (8, 16, 32)), ((1, 27, 25), (4, 8))])
def test_conv_classifier_sizes_follow_the_image_shape_and_the_config(image_shape, channels):
    net = ConvClassifier(image_shape, num_classes=7, channels=channels, feature_dim=40).eval()
    images = torch.randn(5, *image_shape)
    assert net.embed(images).shape == (5, 40)  # stride-2 convs: odd sides round up, the flattened size fits
    assert net(images).shape == (5, 7)


@pytest.fixture(scope="module")
def exported_classifier(tmp_path_factory):
    """`python train.py experiment=classifier` on synthetic bars whose second half of test labels names the next
    class: a classifier that reads the bars scores 0.5 on that test split."""
    base = tmp_path_factory.mktemp("classifier-run")
    data_root = make_idx_dataset(base / "bars", n_train=1000, n_test=200)
    labels = np.arange(200) % 10
    labels[100:] = (labels[100:] + 1) % 10
    write_idx(data_root / "t10k-labels-idx1-ubyte", labels, compress=True)
    result = run_entry("train.py", "experiment=classifier", "data=mnist", *data_overrides(data_root),
                       *path_overrides(base), "trainer.max_epochs=2")
    assert result.returncode == 0, result.stderr[-3000:]
    return base, data_root


def test_train_py_exports_the_classifier_with_its_test_accuracy(exported_classifier):
    base, data_root = exported_classifier
    classifier, record = load_module(classifier_files(base / "data" / "classifiers", "mnist")[0], Classifier)
    # Right on the correctly labelled half, wrong on the other: 0.5, less what it misreads of the bars (a few %).
    assert classifier.test_accuracy.item() == pytest.approx(0.5, abs=0.05)
    assert record["choices"]["data"] == "mnist" and record["data"]["root"] == str(data_root)


def test_classifier_run_draws_no_sample_previews(exported_classifier):
    base, _ = exported_classifier
    run = next((base / "logs" / "train" / "runs").iterdir())
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert not (run / "samples").exists()


def test_a_classifier_is_not_taken_for_a_gan(exported_classifier):
    base, _ = exported_classifier
    with pytest.raises(CheckpointError, match="holds a Classifier, not a GAN"):
        load_gan(classifier_files(base / "data" / "classifiers", "mnist")[0])
