"""Metric numbers: torch-fidelity through the domain classifier and through InceptionV3, label accuracy, CAS,
and the in-training val/fid_domain (torchmetrics) against torch-fidelity."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import ROOT, data_overrides, path_overrides, run_entry
from ganforge.checkpoint import load_gan
from ganforge.domain_classifier import classifier_files, domain_classifier, train_domain_classifier, train_on_samples
from ganforge.evaluation.domain import DomainMetrics
from ganforge.evaluation.inception import WEIGHTS_NAME, InceptionMetrics, InceptionWeightsError
from ganforge.evaluation.suites import MetricInputs, extractor_name
from ganforge.metrics import SampleSet
from ganforge.metrics.accuracy import label_accuracy
from ganforge.metrics.fidelity import RGBImages
from ganforge.sampling import draw_evaluation_set
from trained_runs import synthetic_data

FIDELITY_KEYS = {"fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "f_score"}


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    """The synthetic bars' datamodule and config, and the domain classifier the project trains for them."""
    GlobalHydra.instance().clear()
    data_root = synthetic_data(tmp_path_factory.getbasetemp())
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=["experiment=classifier", "data=mnist", *data_overrides(data_root)])
    GlobalHydra.instance().clear()
    recipe = OmegaConf.to_container(cfg.model, resolve=True)
    data_config = OmegaConf.to_container(cfg.data, resolve=True)
    classifier_dir = tmp_path_factory.mktemp("classifiers")
    torch.manual_seed(0)
    train_domain_classifier(recipe, data_config, "mnist", classifier_dir, max_epochs=2)
    datamodule = instantiate(data_config)
    return {
        "recipe": recipe, "data_config": data_config, "datamodule": datamodule, "classifier_dir": classifier_dir,
        "classifier": domain_classifier(recipe, classifier_dir, "mnist", data_config, 2, torch.device("cpu")),
        "train": SampleSet(*datamodule.load("train")), "test": SampleSet(*datamodule.load("test"), name="bars-test-200"),
    }


def domain_suite(bars, cache_dir: Path, **options) -> DomainMetrics:
    return DomainMetrics(bars["recipe"], str(bars["classifier_dir"]), str(cache_dir), **options)


def inputs(bars, generated: SampleSet, real: SampleSet | None = None) -> MetricInputs:
    return MetricInputs(generated, real or bars["test"], bars["datamodule"], bars["data_config"], "mnist", torch.device("cpu"))


def with_noise(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed)) * sigma
    return (images.float() + noise).round().clamp(0, 255).to(torch.uint8)


def interleaved_classes(train: SampleSet, classes: int, per_class: int = 20) -> torch.Tensor:
    """`per_class` training images of each of the first `classes` classes, in turn (0, 1, …, 0, 1, …)."""
    picks = torch.stack([torch.nonzero(train.labels == k)[:per_class, 0] for k in range(classes)])
    return train.images[picks.t().flatten()]


def test_rgb_images_repeat_grayscale_exactly():
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    item = RGBImages(images)[2]
    assert item.dtype == torch.uint8 and item.shape == (3, 28, 28)
    assert all(torch.equal(channel, images[2, 0]) for channel in item)
    with pytest.raises(ValueError, match="uint8"):
        RGBImages(images.float())


def test_domain_fid_of_a_sample_set_against_itself_is_zero(bars, tmp_path):
    values = domain_suite(bars, tmp_path, floor=False)(inputs(bars, SampleSet(bars["test"].images))).values
    assert FIDELITY_KEYS <= set(values)
    assert values["fid"] == pytest.approx(0.0, abs=1e-6)
    assert values["precision"] == 1.0 and values["recall"] == 1.0


def test_precision_and_recall_fit_a_test_split_smaller_than_their_neighbourhood(bars, tmp_path):
    real = SampleSet(bars["test"].images[:3], name="bars-test-3")  # a small folder's test split: 3 pictures
    suite = domain_suite(bars, tmp_path, metrics=["prc"], floor=False, label_accuracy=False, cas_epochs=0)
    values = suite(inputs(bars, SampleSet(real.images), real)).values  # k = 3 neighbours need 4 images: k shrinks
    assert values["precision"] == 1.0 and values["recall"] == 1.0


def inception_score_by_hand(logits: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) over the whole set (Salimans et al., 2016)."""
    p = torch.softmax(logits.double(), 1)
    return (p * (p.log() - p.mean(0, keepdim=True).log())).sum(1).mean().exp().item()


def test_domain_inception_score_grows_with_the_classes_a_set_covers(bars, tmp_path):
    suite = domain_suite(bars, tmp_path, metrics=["isc"], floor=False, label_accuracy=False, cas_epochs=0,
                         options={"isc_splits": 1})  # one split: p(y) of the whole set
    scores = {k: suite(inputs(bars, SampleSet(interleaved_classes(bars["train"], k)))).values["is_mean"]
              for k in (1, 2, 5, 10)}
    assert scores[1] == pytest.approx(1.0, abs=1e-3)  # one class: p(y|x) = p(y), nothing to gain
    assert scores[1] < scores[2] < scores[5] < scores[10], scores
    classifier, datamodule = bars["classifier"], bars["datamodule"]
    with torch.no_grad():
        logits = classifier.classifier.net(datamodule.to_model_space(interleaved_classes(bars["train"], 10)))
    assert scores[10] == pytest.approx(inception_score_by_hand(logits), rel=1e-6)  # IS is read off the logits


def test_domain_fid_rises_monotonically_with_noise(bars, tmp_path):
    suite = domain_suite(bars, tmp_path, metrics=["fid"], floor=False, label_accuracy=False, cas_epochs=0)
    train = bars["train"].images[:500]
    fids = [suite(inputs(bars, SampleSet(with_noise(train, sigma)))).values["fid"] for sigma in (0, 10, 20, 40, 80)]
    assert all(a < b for a, b in zip(fids, fids[1:])), fids
    assert fids[0] > 0  # real training images vs the test split: the floor


def test_label_accuracy_counts_the_samples_classified_as_asked(bars, tmp_path):
    test = bars["test"]
    half = len(test.labels) // 2
    asked = torch.cat([test.labels[:half], (test.labels[half:] + 1) % 10])  # the second half asks for the next class
    values = domain_suite(bars, tmp_path, floor=False, cas_epochs=0)(inputs(bars, SampleSet(test.images, asked))).values
    # Right on the first half and wrong on the second as far as the classifier is right: 0.5 within its error rate.
    assert abs(values["label_accuracy"] - 0.5) <= 1 - values["classifier_test_accuracy"] + 1e-9
    assert values["classifier_test_accuracy"] > 0.9


def test_cas_is_high_for_real_labels_and_chance_for_shuffled_ones(bars):
    train, test = bars["train"], bars["test"]
    to_model_space, recipe = bars["datamodule"].to_model_space, bars["recipe"]
    shuffled = train.labels[torch.randperm(len(train.labels), generator=torch.Generator().manual_seed(1))]

    def cas(samples: SampleSet) -> float:
        net = train_on_samples(recipe, samples, to_model_space, max_epochs=2, batch_size=50, seed=0)
        return label_accuracy(net, test.images, test.labels, to_model_space)

    assert cas(train) > 0.9
    assert cas(SampleSet(train.images, shuffled)) < 0.3


def test_real_statistics_are_computed_once_and_named_by_dataset_split_and_count(bars, tmp_path):
    suite = domain_suite(bars, tmp_path, metrics=["fid"], floor=False, label_accuracy=False, cas_epochs=0)
    generated = SampleSet(with_noise(bars["train"].images[:200], 20))
    first = suite(inputs(bars, generated)).values["fid"]
    cached = sorted(tmp_path.glob("bars-test-200-ganforge-mnist-*"))
    assert any("stat-fid" in path.name for path in cached) and any("features" in path.name for path in cached)
    written = {path: path.stat().st_mtime_ns for path in cached}
    # Other images under the cached name: the statistics come from the cache, so the FID is the first one.
    noisy_test = with_noise(bars["test"].images, 60)
    again = suite(inputs(bars, generated, SampleSet(noisy_test, name="bars-test-200"))).values["fid"]
    assert {path: path.stat().st_mtime_ns for path in cached} == written
    assert again == first
    afresh = suite(inputs(bars, generated, SampleSet(noisy_test, name="bars-noisy-test-200"))).values["fid"]
    assert afresh != first  # under a name of their own the same images are measured


def test_extractor_names_follow_the_weights(tmp_path):
    files = {name: tmp_path / f"{name}.pt" for name in "abc"}
    torch.save({"w": torch.ones(3)}, files["a"])
    shutil.copy(files["a"], files["b"])
    torch.save({"w": torch.zeros(3)}, files["c"])
    names = {key: extractor_name("family", path) for key, path in files.items()}
    assert names["a"] == names["b"] != names["c"]
    assert names["a"].startswith("family-")


def test_inception_metrics_run_the_real_torch_fidelity_code_offline(bars, inception_weights, tmp_path):
    suite = InceptionMetrics(str(tmp_path), weights=str(inception_weights), options={"batch_size": 8, "isc_splits": 2})
    real = SampleSet(bars["test"].images[:8], name="bars-test-8")
    different = suite(inputs(bars, SampleSet(with_noise(bars["train"].images[:8], 60)), real))
    assert set(different.values) == FIDELITY_KEYS
    assert all(math.isfinite(value) for value in different.values.values()), different.values
    assert different.values["fid"] > 0
    assert different.details["feature_extractor"].startswith("inception-v3-compat-")
    assert any(tmp_path.glob("bars-test-8-inception-v3-compat-*-stat-fid-2048.pt"))
    same = suite(inputs(bars, SampleSet(real.images), real))
    assert abs(same.values["fid"]) < 1e-3 * different.values["fid"], (same.values, different.values)
    assert 0 < 1e-3 * different.values["fid"]


def test_a_missing_weights_file_is_one_clear_error(tmp_path):
    with pytest.raises(InceptionWeightsError, match="metrics.inception_weights=.*no such file.*metrics=domain"):
        InceptionMetrics(str(tmp_path), weights=str(tmp_path / "nowhere.pth"))


def test_weights_neither_cached_nor_downloadable_name_the_file_and_the_option(tmp_path, monkeypatch):
    def offline(url, dst, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(InceptionWeightsError) as error:
        InceptionMetrics(str(tmp_path))
    message = str(error.value)
    assert "\n" not in message
    assert WEIGHTS_NAME in message and str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "metrics.inception_weights=PATH" in message and "metrics=domain" in message
    assert InceptionMetrics(str(tmp_path), required=False).weights is None  # the default set skips them


def test_a_weights_file_of_something_else_is_refused(tmp_path):
    torch.save({"layer.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(InceptionWeightsError, match="not torch-fidelity's InceptionV3"):
        InceptionMetrics(str(tmp_path), weights=str(tmp_path / "other.pth"))


def torch_fidelity_fid_of_the_callback_samples(checkpoint: Path, classifier_dir: Path, recipe: dict, cache_dir: Path,
                                               n_samples: int) -> float:
    """torch-fidelity's FID of the samples DomainFID draws from `checkpoint` (same seed, count and classifier)."""
    gan, record = load_gan(checkpoint)
    datamodule = instantiate(record["data"])
    generated = draw_evaluation_set(gan, datamodule, n_samples, seed=0)
    suite = DomainMetrics(recipe, str(classifier_dir), str(cache_dir), metrics=["fid"], floor=False,
                          label_accuracy=False, cas_epochs=0)
    test = SampleSet(*datamodule.load("test"), name="mnist-test-200")
    return suite(MetricInputs(generated, test, datamodule, record["data"], "mnist", torch.device("cpu"))).values["fid"]


def test_domain_fid_callback_agrees_with_torch_fidelity(compose_config, tmp_path_factory, tmp_path):
    from ganforge.training import train

    data_root = synthetic_data(tmp_path_factory.getbasetemp())
    cfg = compose_config(["model=gan", "data=mnist", *data_overrides(data_root), "callbacks=domain_fid",
                          "optimized_metric=val/fid_domain", "trainer.max_epochs=1", "data.batch_size=50",
                          "callbacks.domain_fid.n_samples=200", "callbacks.domain_fid.every_n_epochs=5"])
    fid = train(cfg)  # logged after the last epoch although 1 is no multiple of 5
    recipe = OmegaConf.to_container(cfg.callbacks.domain_fid.classifier, resolve=True)
    expected = torch_fidelity_fid_of_the_callback_samples(tmp_path / "checkpoints" / "last.ckpt",
                                                          tmp_path / "data" / "classifiers", recipe, tmp_path / "cache", 200)
    # Both turn the same float32 features into float64 means and (n−1)-normalised covariances; they differ only in
    # the matrix square root (eigenvalues of Σ1·Σ2 vs scipy's sqrtm, on covariances of rank < 200 here) and in
    # torchmetrics returning float32 (relative step 6e-8). Measured: 2e-8; 1e-5 allows for the square roots only.
    assert fid == pytest.approx(expected, rel=1e-5)
    assert expected > 1.0  # a one-epoch GAN is far from the data: the agreement is about a real distance


def test_a_classifier_trained_on_first_use_leaves_the_run_as_it_would_be(compose_config, tmp_path_factory, tmp_path):
    from ganforge.training import train

    data_root = synthetic_data(tmp_path_factory.getbasetemp())
    logged = []
    for run in ("trains-the-classifier", "finds-it"):
        cfg = compose_config(["model=gan", "data=mnist", *data_overrides(data_root), "callbacks=domain_fid", "logger=csv",
                              "trainer.log_every_n_steps=1", "trainer.max_epochs=1", "data.batch_size=50",
                              "callbacks.domain_fid.n_samples=100"])
        cfg.paths.output_dir = str(tmp_path / run)
        train(cfg)
        with open(tmp_path / run / "csv" / "metrics.csv") as f:
            logged.append([(row["train/loss_d"], row["train/loss_g"], row["val/fid_domain"]) for row in csv.DictReader(f)])
    assert len(classifier_files(tmp_path / "data" / "classifiers", "mnist")) == 1
    assert logged[0] == logged[1] and any(fid for _, _, fid in logged[0])


def test_domain_fid_under_ddp_is_the_number_of_one_process(tmp_path, tmp_path_factory, compose_config):
    data_root = synthetic_data(tmp_path_factory.getbasetemp())
    result = run_entry("train.py", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "model=gan", "data=mnist",
                       *data_overrides(data_root), "callbacks=domain_fid", "callbacks.domain_fid.n_samples=200",
                       "trainer.max_epochs=1", "data.batch_size=50", "logger=csv", *path_overrides(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    with open(run / "csv" / "metrics.csv") as f:
        logged = [float(row["val/fid_domain"]) for row in csv.DictReader(f) if row["val/fid_domain"]]
    # Each rank measured half the samples and half the test split (the classifier trained on first use by rank 0);
    # the statistics summed across ranks are those of the whole sets.
    recipe = OmegaConf.to_container(compose_config(["callbacks=domain_fid", "data=mnist"]).callbacks.domain_fid.classifier,
                                    resolve=True)
    expected = torch_fidelity_fid_of_the_callback_samples(run / "checkpoints" / "last.ckpt", tmp_path / "data" / "classifiers",
                                                          recipe, tmp_path / "cache", 200)
    assert logged == [pytest.approx(expected, rel=1e-5)]
