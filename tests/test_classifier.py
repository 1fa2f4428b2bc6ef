"""The domain classifier: its net, and training it with train.py model=classifier."""

from __future__ import annotations

import pytest
import torch

from conftest import data_overrides, path_overrides, run_entry
from ganforge.callbacks.export_classifier import classifier_file
from ganforge.checkpoint import load_gan, load_module
from ganforge.data import IDXDataModule
from ganforge.errors import CheckpointError
from ganforge.metrics.accuracy import label_accuracy
from ganforge.models.classifier import Classifier
from ganforge.nets.classifier import ConvClassifier
from trained_runs import synthetic_data


@pytest.mark.parametrize("image_shape", [(1, 28, 28), (3, 32, 32)])
def test_conv_classifier_gives_features_and_logits(image_shape):
    net = ConvClassifier(image_shape, num_classes=7, feature_dim=40).eval()
    images = torch.randn(5, *image_shape)
    features = net.embed(images)
    assert features.shape == (5, 40) and (features >= 0).all()  # ReLU features
    assert torch.allclose(net(images), net.head(features))
    assert net(images).shape == (5, 7)


@pytest.fixture(scope="module")
def exported_classifier(tmp_path_factory):
    """`python train.py model=classifier` on the synthetic bars: the run and the classifier file it exports."""
    base = tmp_path_factory.mktemp("classifier-run")
    data_root = synthetic_data(tmp_path_factory.getbasetemp())
    result = run_entry("train.py", "model=classifier", "data=mnist", *data_overrides(data_root), *path_overrides(base),
                       "trainer.max_epochs=2")
    assert result.returncode == 0, result.stderr[-3000:]
    return base, data_root


def test_train_py_exports_the_classifier_with_its_test_accuracy(exported_classifier):
    base, data_root = exported_classifier
    path = classifier_file(base / "data" / "classifiers", "mnist")
    classifier, record = load_module(path, Classifier)
    datamodule = IDXDataModule("MNIST", [str(k) for k in range(10)], root=str(data_root), download=False)
    images, labels = datamodule.load("test")
    measured = label_accuracy(classifier.net, images, labels, datamodule.to_model_space)
    assert classifier.test_accuracy.item() == pytest.approx(measured, abs=1e-9)
    assert measured > 0.9  # the bars are easy: a working classifier is nearly perfect after two epochs
    assert record["choices"]["data"] == "mnist" and record["data"]["root"] == str(data_root)


def test_classifier_run_draws_no_sample_previews(exported_classifier):
    base, _ = exported_classifier
    run = next((base / "logs" / "train" / "runs").iterdir())
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert not (run / "samples").exists()


def test_a_classifier_is_not_taken_for_a_gan(exported_classifier):
    base, _ = exported_classifier
    with pytest.raises(CheckpointError, match="holds a Classifier, not a GAN"):
        load_gan(classifier_file(base / "data" / "classifiers", "mnist"))
