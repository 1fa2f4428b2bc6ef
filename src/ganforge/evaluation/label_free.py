"""The label-free suite: FID, KID and precision/recall of unlabelled pictures (a `data=folder` without class
subfolders), offline, in the features of a CNN trained on the dataset's own training pictures for a task whose
answer the pictures carry themselves: which quarter turn (0°, 90°, 180°, 270°) each was given (RotNet: Gidaris et
al., 2018). Telling up from down takes knowing what is in a picture and how it is laid out, so the features have
real content, unlike those of a random net; how well the extractor does its task on held-out pictures is
reported beside the numbers, and decides whether the report calls them useful or weak."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset

from ganforge.callbacks.record_config import CONFIG_KEY
from ganforge.checkpoint import load_module
from ganforge.domain_classifier import DomainClassifier
from ganforge.evaluation.context import NotApplicable
from ganforge.evaluation.domain import measure_in_features, trust_note
from ganforge.evaluation.suites import MetricInputs, SuiteResult
from ganforge.metrics.accuracy import ToModelSpace, label_accuracy
from ganforge.metrics.base import content_key
from ganforge.models.classifier import Classifier
from ganforge.quiet_trainer import fit_quietly, quiet_trainer

log = logging.getLogger(__name__)

TURNS = 4  # quarter turns: 0°, 90°, 180° and 270° counter-clockwise; the extractor's classes
TASK = "tells which quarter turn (0°, 90°, 180° or 270°) a picture was given"


class QuarterTurns(Dataset):
    """Item i: uint8 image i // 4 turned by (i % 4) quarter turns, in model space, labelled with the turns."""

    def __init__(self, images: torch.Tensor, to_model_space: ToModelSpace) -> None:
        self.images, self.to_model_space = images, to_model_space

    def __len__(self) -> int:
        return TURNS * len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        turns = index % TURNS
        return self.to_model_space(torch.rot90(self.images[index // TURNS], turns, dims=(1, 2))), turns


def every_turn(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each uint8 image at all four quarter turns, and how far each was turned."""
    turned = torch.stack([torch.rot90(images, turns, dims=(2, 3)) for turns in range(TURNS)], dim=1)
    return turned.flatten(0, 1), torch.arange(TURNS).repeat(len(images))


def train_turn_classifier(
    recipe: dict[str, Any], train: torch.Tensor, test: torch.Tensor, to_model_space: ToModelSpace,
    record: dict[str, Any], path: Path, steps: int, batch_size: int, seed: int,
) -> None:
    """Train a classifier from `recipe` (seeded, `steps` batches) to tell the quarter turns of the `train` images
    apart, measure it on every turn of the `test` images, and save it to `path` (all or nothing) as a checkpoint
    `ganforge.checkpoint` reads, its config `record` beside the weights.

    The caller's random state is left as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier: Classifier = instantiate(recipe)
        loader = DataLoader(QuarterTurns(train, to_model_space), batch_size=batch_size, shuffle=True)
        fit_quietly(quiet_trainer(-1, max_steps=steps), classifier, train_dataloaders=loader)
    classifier.test_accuracy.fill_(label_accuracy(classifier.net, *every_turn(test), to_model_space))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save({"state_dict": classifier.state_dict(), CONFIG_KEY: record}, temporary)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


class LabelFreeMetrics:
    """FID, KID and precision/recall (no IS: the extractor's classes are turns, not kinds of picture) against the
    test split, in the features of a CNN trained from `extractor` (a model config) to tell the quarter turns of the
    dataset's training pictures apart; with `floor`, the FID of as many real training pictures.

    The extractor is trained for `steps` batches (seeded by `seed`, so the same pictures give the same extractor
    anywhere) on first use and kept in `classifier_dir`, named after the dataset and a digest of its training
    pictures. With `unlabelled_only` a labelled dataset is left to the domain suite. Below `min_skill` (the held-out
    turn accuracy's share of the way from chance, 0.25, to 1) the report calls the features weak.
    """

    def __init__(
        self,
        extractor: DictConfig | dict[str, Any],
        classifier_dir: str,
        cache_dir: str,
        steps: int = 1000,
        batch_size: int = 64,
        seed: int = 0,
        unlabelled_only: bool = True,
        min_skill: float = 0.5,
        metrics: Sequence[str] = ("fid", "kid", "prc"),
        floor: bool = True,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.recipe = OmegaConf.to_container(OmegaConf.create(extractor), resolve=True)
        self.classifier_dir, self.cache_dir = Path(classifier_dir), Path(cache_dir)
        self.steps, self.batch_size, self.seed = steps, batch_size, seed
        self.unlabelled_only, self.min_skill = unlabelled_only, min_skill
        self.metrics, self.floor, self.options = list(metrics), floor, dict(options or {})

    def extractor(self, inputs: MetricInputs, train: torch.Tensor) -> DomainClassifier:
        """The turn classifier of the `train` pictures: found in `classifier_dir`, or trained now."""
        datamodule = inputs.datamodule
        recipe = {"extractor": self.recipe, "steps": self.steps, "batch_size": self.batch_size, "seed": self.seed}
        path = self.classifier_dir / f"{inputs.dataset}-turns-{content_key(train, config=recipe)}.pt"
        if not path.is_file():
            log.info("Training the label-free feature extractor (quarter turns) of %s for %d steps; it is kept in %s",
                     inputs.dataset, self.steps, path)
            record = {"model": self.recipe, "data": inputs.data_config,
                      "choices": {"data": inputs.dataset, "model": "quarter_turns"}}
            train_turn_classifier(self.recipe, train, datamodule.load("test")[0], datamodule.to_model_space, record,
                                  path, self.steps, self.batch_size, self.seed)
        classifier, record = load_module(path, Classifier)
        return DomainClassifier(path, classifier.to(inputs.device), record["model"], datamodule.sample_shape[0],
                                datamodule.to_model_space)

    def __call__(self, inputs: MetricInputs) -> SuiteResult:
        shape = tuple(inputs.datamodule.sample_shape)
        if inputs.datamodule.class_names and self.unlabelled_only:
            raise NotApplicable("the dataset is labelled: the domain suite measures it in its classifier's features "
                                "(metrics.suites.label_free.unlabelled_only=false adds these too)")
        if len(shape) != 3 or shape[1] != shape[2]:
            raise NotApplicable(f"quarter turns need square pictures; data.sample_shape is {list(shape)}")
        train, _ = inputs.datamodule.load(inputs.datamodule.train_split)
        extractor = self.extractor(inputs, train)
        result = measure_in_features(extractor, f"ganforge-{inputs.dataset}-turns", inputs, self.metrics, self.floor,
                                     self.cache_dir, self.options)
        result.values["extractor_test_accuracy"] = extractor.test_accuracy
        result.details = {
            "feature_space": f"the {result.details['feature_dim']}-d hidden layer of a small CNN trained on the "
                             f"{len(train)} pictures of data={inputs.dataset}'s training split to tell which quarter "
                             f"turn (0°, 90°, 180° or 270°) a picture was given (self-supervised: no labels, no "
                             f"downloaded weights)",
            "trust": trust_note(TASK, extractor.test_accuracy, 1 / TURNS, self.min_skill,
                                "the pictures look much the same at every turn (textures, patterns, views from "
                                "above), or are too few; give Inception weights (metrics.inception_weights=PATH) or "
                                "sort the pictures into class folders",
                                " Features learnt to find which way is up weigh layout and shapes more than fine "
                                "texture: samples can lose detail these numbers hardly notice."),
            **result.details,
        }
        return result
