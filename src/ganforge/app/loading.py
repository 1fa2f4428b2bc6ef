"""What the app serves: a checkpoint loaded through the safe path, its data, D's verdicts, and past evaluations."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ganforge.checkpoint import load_module
from ganforge.data import GANDataModule
from ganforge.domain_classifier import classifier_files
from ganforge.errors import ConfigError
from ganforge.evaluation.pipeline import dataset_name
from ganforge.generation import data_config_here, load_generator
from ganforge.sampling import render
from ganforge.models.base import GAN
from ganforge.models.classifier import Classifier
from ganforge.nets.common import evaluating


@dataclass(frozen=True)
class Judgement:
    """What the models say about one image: D's score and verdict, and its predicted class."""

    d_score: float
    d_says_real: bool
    predicted: int | None
    predictor: str


@dataclass
class AppModel:
    """A GAN checkpoint ready to sample and judge images, with its dataset."""

    path: Path
    gan: GAN
    record: dict[str, Any]
    datamodule: GANDataModule
    dataset: str
    classifier: nn.Module | None = None  # the dataset's domain classifier (model-space images → logits)
    classifier_note: str = ""  # why there is none
    _test: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    @property
    def class_names(self) -> list[str]:
        return list(self.datamodule.class_names)

    @property
    def weights(self) -> str:
        """Which generator weights sample: "ema" (an exponential moving average) or "live"."""
        return getattr(self.gan, "sampling_weights", "live")

    def describe(self) -> str:
        """One Markdown line saying what is loaded."""
        kind = "conditional" if self.gan.conditional else "unconditional"
        model = self.record["choices"].get("model") or type(self.gan).__name__
        return (f"`{self.path}` · model **{model}** ({kind}) · data **{self.dataset}** · "
                f"sampling weights: **{self.weights}**")

    def test_split(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The dataset's test images (uint8) and labels, loaded once."""
        if self._test is None:
            self._test = self.datamodule.load("test")
        return self._test

    def render(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Generated uint8 images of latent vectors `z` (and `labels` for a conditional model)."""
        return render(self.gan, self.datamodule.to_data_space, z, labels if self.gan.conditional else None)

    @torch.no_grad()
    def judge(self, image: torch.Tensor, label: int | None) -> Judgement:
        """D's probability "real" (GAN.score), its verdict (logit > 0, as `train/acc_real` counts) and the class
        predicted by D's class head, else by the domain classifier. `label` is used by a conditional D only."""
        x = self.datamodule.to_model_space(image[None].to(self.gan.device))
        labels = torch.tensor([label], device=self.gan.device) if self.gan.conditional else None
        with evaluating(self.gan.discriminator) as discriminator:
            critique = discriminator(x, labels)
        d_score = float(self.gan.score(x, labels).item())
        if critique.class_logits is not None:
            predicted, predictor = int(critique.class_logits.argmax(1).item()), "D's class head"
        elif self.classifier is not None:
            with evaluating(self.classifier) as classifier:
                predicted, predictor = int(classifier(x).argmax(1).item()), "domain classifier"
        else:
            predicted, predictor = None, self.classifier_note
        return Judgement(d_score, bool(critique.logits.item() > 0), predicted, predictor)


def domain_classifier(
    classifier_dir: str | Path, dataset: str, data_config: dict[str, Any]
) -> tuple[nn.Module | None, str]:
    """The newest domain classifier of the dataset's images and classes (trained by `python train.py
    experiment=classifier`), or None and why not. It only names classes on screen: one trained on other
    pictures of the same kind will do, unlike for an evaluation."""
    found = classifier_files(classifier_dir, dataset)
    if not found:
        return None, f"no class head in D and no domain classifier yet: python train.py experiment=classifier data={dataset}"
    for path in found:
        classifier, record = load_module(path, Classifier)
        if all(record["data"].get(key) == data_config.get(key) for key in ("sample_shape", "class_names")):
            return classifier.net, ""
    return None, f"the domain classifiers of {dataset} in {classifier_dir} were trained on other data"


def load_app_model(
    ckpt: str | Path | None, device: torch.device, data_overrides: DictConfig | None = None,
    classifier_dir: str | Path | None = None,
) -> AppModel:
    """The checkpoint's GAN (loaded through `ganforge.checkpoint.load_gan`) and its dataset; with `classifier_dir`,
    also the dataset's domain classifier for class predictions. `data_overrides` (app.yaml's `data:` block) gives
    this machine's data locations (see `data_config_here`)."""
    gan, record = load_generator(None if ckpt is None else str(ckpt), device)
    dataset = dataset_name(record, str(ckpt))
    data_config = data_config_here(record["data"], None if data_overrides is None else
                                   OmegaConf.to_container(data_overrides, resolve=True))
    datamodule: GANDataModule = instantiate(data_config)
    if not datamodule.holds_images:
        raise ConfigError(f"the app shows images, but {ckpt} generates points (data={dataset}); "
                          f"look at its run's samples/ previews instead")
    model = AppModel(Path(ckpt).resolve(), gan, record, datamodule, dataset)
    if not model.class_names:
        model.classifier_note = "the dataset is unlabelled"
    elif classifier_dir is None:
        model.classifier_note = "no domain classifier loaded"
    else:
        model.classifier, model.classifier_note = domain_classifier(classifier_dir, dataset, data_config)
        if model.classifier is not None:
            model.classifier.to(device)
    return model


def find_evaluation(ckpt: str | Path, eval_dir: str | Path) -> dict[str, Any] | None:
    """The newest metrics.json under `eval_dir` (as evaluate.py writes them) that measured `ckpt`, or None."""
    wanted = str(Path(ckpt).resolve())
    found = []
    for path in Path(eval_dir).rglob("metrics.json"):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict) and summary.get("checkpoint") == wanted:
            found.append((path.stat().st_mtime, str(path), summary))
    if not found:
        return None
    _, where, summary = max(found)
    return {**summary, "path": where}


def metrics_markdown(summary: dict[str, Any] | None) -> str:
    """An evaluation's figures as a Markdown table (or a line saying how to make one)."""
    if summary is None:
        return "No evaluation of this checkpoint yet: `python evaluate.py ckpt=…` writes one."
    rows = [f"| {suite}/{name} | {value:.4f} |" for suite, values in summary.get("metrics", {}).items()
            for name, value in values.items() if isinstance(value, (int, float))]
    return "\n".join([f"From `{summary['path']}`", "", "| metric | value |", "| --- | ---: |", *rows])


def list_checkpoints(train_dir: str | Path) -> list[str]:
    """The .ckpt files of the training runs under `train_dir`, newest first."""
    found = sorted(Path(train_dir).rglob("*.ckpt"), key=lambda path: path.stat().st_mtime, reverse=True)
    return [str(path) for path in found]


class ModelCache:
    """The last few checkpoints loaded for comparison, shared by every session."""

    def __init__(self, device: torch.device, data_overrides: DictConfig | None, size: int) -> None:
        self.device, self.data_overrides, self.size = device, data_overrides, size
        self.models: OrderedDict[Path, AppModel] = OrderedDict()
        self.lock = threading.Lock()

    def add(self, model: AppModel) -> None:
        with self.lock:
            self.models[model.path] = model
            self.models.move_to_end(model.path)
            while len(self.models) > self.size:
                self.models.popitem(last=False)

    def get(self, ckpt: str | Path) -> AppModel:
        """The loaded checkpoint; a GanforgeError says what is wrong with a bad path or file."""
        key = Path(ckpt).resolve() if ckpt else None
        with self.lock:
            if key in self.models:
                self.models.move_to_end(key)
                return self.models[key]
        model = load_app_model(ckpt or None, self.device, self.data_overrides)
        self.add(model)
        return model
