"""evaluate.py, generate.py and the app on GANs trained on folders of pictures: a labelled folder measured in the
features of a classifier of its classes, an unlabelled one offline in the features of a CNN trained on its own
pictures' quarter turns, each number's feature space said in words, and checkpoints from another machine read
with this machine's data locations, writing nothing where the checkpoint points."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from conftest import make_image_folder, make_scenes, path_overrides, run_entry
from ganforge.app.loading import load_app_model
from ganforge.callbacks.record_config import CONFIG_KEY
from ganforge.checkpoint import load_module
from ganforge.data import ImageFolderDataModule
from ganforge.evaluation.label_free import LabelFreeMetrics
from ganforge.evaluation.suites import MetricInputs
from ganforge.generation import data_config_here
from ganforge.metrics import SampleSet
from ganforge.models.classifier import Classifier

SLIM = ["model.generator.channels=8", "model.discriminator.channels=8", "model.generator.max_channels=32",
        "model.discriminator.max_channels=32"]
# Small analyses and feature extractors, so an evaluation takes seconds.
QUICK_EVALUATION = ["analyses.tsne.per_set=40", "analyses.arithmetic.samples=100",
                    "analyses.neighbours.measured=40", "metrics.suites.domain.classifier_min_steps=300",
                    "metrics.suites.label_free.steps=150"]
ALICE_PICTURES = "/nonexistent/alice/pictures"  # where the pictures were on the machine that trained


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("folder-evaluation")
    make_scenes(base / "scenes", per_class=30)  # 4 classes: 108 training pictures, 12 test
    make_scenes(base / "flat", per_class=25, labelled=False, seed=1)  # 100 pictures, no classes
    return base


def trained(base: Path, name: str, *overrides: str) -> Path:
    """The last.ckpt of one short epoch of train.py on a folder."""
    run = base / name
    result = run_entry("train.py", "data=folder", "trainer.max_epochs=1", "data.batch_size=16",
                       "trainer.log_every_n_steps=1", "callbacks.sample_preview.drawers.image.size=16", *SLIM,
                       *path_overrides(run), *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    return next((run / "logs" / "train" / "runs").glob("*/checkpoints/last.ckpt"))


def moved_to_another_machine(ckpt: Path, alice_cache: Path) -> Path:
    """A copy of `ckpt` as it arrives from Alice's machine: its data config names her picture folder and cache."""
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    checkpoint[CONFIG_KEY]["data"] |= {"path": ALICE_PICTURES, "cache_dir": str(alice_cache)}
    alice_cache.mkdir(parents=True)  # a place that exists (and could be written to) on this machine too
    moved = ckpt.parent / "from_alice.ckpt"
    torch.save(checkpoint, moved)
    return moved


def evaluation(ckpt: Path, out: Path, *overrides: str) -> dict:
    """evaluate.py's output, metrics.json and report.html."""
    result = run_entry("evaluate.py", f"ckpt={ckpt}", *QUICK_EVALUATION, *path_overrides(out), *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    run = next((out / "logs" / "eval" / "runs").iterdir())
    return {"run": run, "stdout": result.stdout, "stderr": result.stderr, "data_dir": out / "data",
            "summary": json.loads((run / "metrics.json").read_text()), "report": (run / "report.html").read_text()}


@pytest.fixture(scope="module")
def labelled(base):
    """A conditional GAN of the labelled scenes (RGB, 32 px), trained on Alice's machine and evaluated here."""
    ckpt = moved_to_another_machine(trained(base, "sngan_cgan", "model=sngan_cgan", f"data.path={base / 'scenes'}",
                                            "data.sample_shape=[3,32,32]"), base / "alice-cache")
    return {"ckpt": ckpt, "alice_cache": base / "alice-cache",
            **evaluation(ckpt, base / "eval-labelled", "metrics=domain", "n_samples=100",
                         f"data.path={base / 'scenes'}")}


@pytest.fixture(scope="module")
def unlabelled(base, inception_weights):
    """An unconditional GAN of the unlabelled scenes (RGB, 64 px), evaluated offline, Inception weights given."""
    ckpt = trained(base, "gan", "model=gan", f"data.path={base / 'flat'}", "data.sample_shape=[3,64,64]")
    return evaluation(ckpt, base / "eval-unlabelled", "n_samples=36", "metrics=all",  # Inception is slow on a CPU
                      f"metrics.inception_weights={inception_weights}", "metrics.suites.inception.options.isc_splits=2")


def colour(png: Path) -> bool:
    """Whether a picture has pixels that are not grey."""
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return bool((pixels[..., 0] != pixels[..., 1]).any() or (pixels[..., 1] != pixels[..., 2]).any())


def test_a_labelled_folder_is_measured_in_the_features_of_a_classifier_of_its_classes(labelled):
    summary, report = labelled["summary"], labelled["report"]
    assert summary["conditional"] is True and set(summary["metrics"]) == {"domain"}
    domain = summary["metrics"]["domain"]
    assert {"fid", "is_mean", "kid_mean", "precision", "recall", "fid_floor", "label_accuracy", "cas"} <= set(domain)
    measured = summary["measured_with"]["domain"]
    classifier, _ = load_module(measured["classifier"], Classifier)  # trained on first use, on the folder's classes
    assert domain["classifier_test_accuracy"] == classifier.test_accuracy.item() > 0.9  # colours and shapes: easy
    assert classifier.net.num_classes == 4 and classifier.net.image_shape == (3, 32, 32)
    assert "tell the 4 classes of data=folder apart" in measured["feature_space"]
    assert measured["trust"].startswith("Useful: on held-out images the CNN tells the 4 classes apart with accuracy")
    assert any(note.startswith("label_free metrics: the dataset is labelled") for note in summary["not_applicable"])
    for said in ("Feature space", measured["feature_space"], "How far to trust these numbers", measured["trust"]):
        assert escape(said) in report
    assert {"samples.png", "classes.png", "class_interpolation.png"} <= set(summary["figures"])
    assert colour(labelled["run"] / "samples.png") and colour(labelled["run"] / "classes.png")


def test_an_unlabelled_folder_is_measured_offline_and_never_called_conditional(unlabelled):
    summary, report = unlabelled["summary"], unlabelled["report"]
    assert summary["conditional"] is False and set(summary["metrics"]) == {"label_free", "inception"}
    values = summary["metrics"]["label_free"]
    assert set(values) == {"fid", "kid_mean", "kid_std", "precision", "recall", "f_score", "fid_floor",
                           "extractor_test_accuracy"}
    assert values["fid"] > values["fid_floor"] > 0  # one slim epoch is further from the test split than real pictures
    assert values["extractor_test_accuracy"] > 0.9  # sky above, ground below: every picture has an up
    measured = summary["measured_with"]["label_free"]
    assert "on the 90 pictures of data=folder's training split to tell which quarter turn" in measured["feature_space"]
    assert measured["trust"].startswith("Useful:")
    assert Path(measured["classifier"]).parent == unlabelled["data_dir"] / "classifiers"
    assert summary["not_applicable"][0].startswith("domain metrics: the dataset is unlabelled")
    assert "conditional and needs a labelled dataset" not in unlabelled["stderr"]
    assert escape(measured["feature_space"]) in report and escape(measured["trust"]) in report
    assert "Measured in the features of\nlabel_free: the 128-d hidden layer" in unlabelled["stdout"]
    inception = summary["measured_with"]["inception"]  # weights given: Inception's features as well
    assert inception["feature_space"].startswith("the 2048-d pool features of InceptionV3")
    assert summary["metrics"]["inception"]["fid"] > 0 and escape(inception["feature_space"]) in report
    assert colour(unlabelled["run"] / "samples.png")
    assert Image.open(unlabelled["run"] / "samples.png").size == (6 * 66 + 2,) * 2  # 36 samples of 64 px


def label_free_inputs(folder: Path, cache_dir: Path, generated: SampleSet | None = None) -> MetricInputs:
    datamodule = ImageFolderDataModule(str(folder), sample_shape=[3, 32, 32], cache_dir=str(cache_dir))
    test = SampleSet(*datamodule.load("test"), name="test")
    return MetricInputs(generated or SampleSet(test.images), test, datamodule, {}, "folder", torch.device("cpu"))


def test_quarter_turn_features_are_called_weak_on_pictures_without_an_up(tmp_path):
    noise = make_image_folder(tmp_path / "noise", per_class=40)  # coloured noise: the same at every turn
    suite = LabelFreeMetrics({"_target_": "ganforge.models.classifier.Classifier",
                              "net": {"_target_": "ganforge.nets.classifier.ConvClassifier", "image_shape": [3, 32, 32],
                                      "num_classes": 4, "channels": [16, 32, 64]},
                              "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3}},
                             str(tmp_path / "classifiers"), str(tmp_path / "fidelity"), steps=150, floor=False)
    inputs = label_free_inputs(noise, tmp_path / "cache")  # unlabelled: no class names given
    result = suite(inputs)
    assert result.values["fid"] == pytest.approx(0.0, abs=1e-6)  # the test split against itself, in any features
    assert result.values["extractor_test_accuracy"] < 0.5  # 8 test pictures at 4 turns: chance is 0.25
    assert result.details["trust"].startswith("WEAK: on held-out images the CNN tells which quarter turn")
    assert "metrics.inception_weights=PATH" in result.details["trust"]
    (extractor,) = (tmp_path / "classifiers").iterdir()
    assert extractor.name.startswith("folder-turns-")
    again = suite(inputs)  # found, not trained again
    assert list((tmp_path / "classifiers").iterdir()) == [extractor] and again.values == result.values


def test_data_locations_of_a_checkpoint_come_from_this_machine():
    here = {"root": "/here/data", "search_dirs": None, "path": None, "cache_dir": "/here/data/cache/folders"}
    folder = {"_target_": "ganforge.data.ImageFolderDataModule", "path": "/alice/pics", "cache_dir": "/alice/cache",
              "sample_shape": [3, 64, 64]}
    assert data_config_here(folder, here) == {**folder, "cache_dir": "/here/data/cache/folders"}
    assert data_config_here(folder, {**here, "path": "/here/pics"})["path"] == "/here/pics"
    assert data_config_here({**folder, "cache_dir": None}, here)["cache_dir"] is None  # it cached nothing: nor here
    assert data_config_here(folder, None) == {**folder, "cache_dir": None}  # no place here: nothing written
    idx = {"_target_": "ganforge.data.IDXDataModule", "root": "/alice/data", "search_dirs": ["/usr/share/x"],
           "download": True}
    assert data_config_here(idx, here) == {**idx, "root": "/here/data", "search_dirs": ["/usr/share/x", "/alice/data"]}
    assert data_config_here(idx, {**here, "search_dirs": ["/mnt"]})["search_dirs"] == ["/mnt", "/alice/data"]
    assert data_config_here(idx, None) == {**idx, "download": False}  # read where it was, download nowhere


def test_a_published_dataset_is_read_here_and_nothing_is_written_where_the_checkpoint_points(idx_root, tmp_path):
    alice_root = tmp_path / "alice-data"
    alice_root.mkdir()
    recorded = {"_target_": "ganforge.data.IDXDataModule", "torchvision_name": "MNIST",
                "class_names": list("0123456789"), "root": str(alice_root), "search_dirs": [], "download": True}
    images, _ = instantiate(data_config_here(recorded, {"root": str(idx_root)})).load("test")
    assert len(images) == 64 and not any(alice_root.iterdir())


def test_a_checkpoint_from_another_machine_reads_the_pictures_here_and_caches_only_here(labelled, base, compose_config):
    alice_cache = labelled["alice_cache"]
    assert not any(alice_cache.iterdir())
    assert len(list((labelled["data_dir"] / "cache" / "folders").glob("scenes-*.pt"))) == 1

    missing = run_entry("evaluate.py", f"ckpt={labelled['ckpt']}", "metrics=domain", *path_overrides(base / "no-path"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"error: image folder {ALICE_PICTURES} does not exist; "
                                                   f"set data.path to a folder of images"]
    assert not list((base / "no-path").rglob("metrics.json"))

    out = base / "generated"
    generated = run_entry("generate.py", f"ckpt={labelled['ckpt']}", "n=8", f"out={out}", *path_overrides(base / "gen"))
    assert generated.returncode == 0, generated.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["balloon", "boat", "house", "tree"]

    cfg = compose_config([f"ckpt={labelled['ckpt']}", f"data.path={base / 'scenes'}"], config_name="app")
    model = load_app_model(cfg.ckpt, torch.device("cpu"), cfg.data)
    assert model.class_names == ["balloon", "boat", "house", "tree"] and len(model.test_split()[0]) == 12
    assert model.datamodule.cache_dir == Path(cfg.paths.data_dir) / "cache" / "folders"
    assert not any(alice_cache.iterdir())
