"""The visual analyses of an evaluation: each draws figures (and a few numbers) about one checkpoint.

An analysis is a callable taking an `AnalysisContext` and returning `ReportFigure`s; one that does not
apply (e.g. a per-class grid of an unconditional model) raises `NotApplicable` with the reason.
Which analyses run, and their sizes, is chosen in `conf/evaluate.yaml`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.manifold import TSNE
from sklearn.metrics import confusion_matrix
from sklearn.neighbors import NearestNeighbors
from torch import nn
from torch_fidelity.noise import batch_slerp_any

from ganforge.data import GANDataModule
from ganforge.generation import draw_noise, render
from ganforge.metrics.base import SampleSet
from ganforge.models.base import GAN
from ganforge.nets.common import Critique, evaluating
from ganforge.viz.figures import confusion_figure, curves_figure, labelled_grid, save_figure, scatter_figure
from ganforge.viz.images import image_grid, save_png


class NotApplicable(Exception):
    """The analysis does not apply to this model or run; the message says why."""


@dataclass
class ReportFigure:
    name: str
    title: str
    caption: str
    path: Path
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnalysisContext:
    """Everything an analysis may look at: the model, its evaluated samples, the real splits, where to write."""

    gan: GAN
    datamodule: GANDataModule
    generated: SampleSet
    real: SampleSet  # the test split
    train: SampleSet  # the training split
    checkpoint: Path
    output_dir: Path
    seed: int
    batch_size: int

    @property
    def class_names(self) -> list[str]:
        return list(self.datamodule.class_names)

    def random_generator(self, stream: int) -> torch.Generator:
        """A generator seeded from the evaluation seed; each analysis draws from its own `stream`."""
        return torch.Generator().manual_seed(self.seed * 1000 + stream)

    def noise(self, n: int, stream: int) -> torch.Tensor:
        return draw_noise(self.gan, n, self.seed * 1000 + stream)

    def render(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return render(self.gan, self.datamodule.to_data_space, z, labels, self.batch_size)

    def labels_for(self, n: int) -> torch.Tensor | None:
        """Labels for `n` new samples, every class in turn; None for an unconditional model."""
        return torch.arange(n) % len(self.class_names) if self.gan.conditional else None

    def row_names(self, labels: torch.Tensor | None, n: int) -> list[str]:
        return [self.class_names[int(k)] for k in labels] if labels is not None else [""] * n

    @torch.no_grad()
    def critique(self, images: torch.Tensor, labels: torch.Tensor | None) -> Critique:
        """The discriminator's outputs (eval mode) on uint8 images, in batches."""
        device, parts = self.gan.device, []
        with evaluating(self.gan.discriminator) as discriminator:
            for start in range(0, len(images), self.batch_size):
                batch = self.datamodule.to_model_space(images[start : start + self.batch_size].to(device))
                batch_labels = None if labels is None else labels[start : start + self.batch_size].to(device)
                parts.append(Critique(*(None if t is None else t.cpu() for t in discriminator(batch, batch_labels))))
        return Critique(*(None if values[0] is None else torch.cat(values) for values in zip(*parts)))

    def figure_path(self, name: str) -> Path:
        return self.output_dir / f"{name}.png"


class SampleGrid:
    """A random selection of the evaluated samples."""

    def __init__(self, count: int = 100) -> None:
        self.count = count

    def __call__(self, context: AnalysisContext) -> list[ReportFigure]:
        images = context.generated.images
        pick = torch.randperm(len(images), generator=context.random_generator(1))[: self.count]
        path = save_png(image_grid(images[pick], nrow=math.ceil(math.sqrt(len(pick)))), context.figure_path("samples"))
        return [ReportFigure("samples", "Samples", f"{len(pick)} of the {len(images)} evaluated samples, picked at random.", path)]


class ClassGrid:
    """One row per class of the evaluated samples of a conditional model."""

    def __init__(self, per_class: int = 10) -> None:
        self.per_class = per_class

    def __call__(self, context: AnalysisContext) -> list[ReportFigure]:
        labels = context.generated.labels
        if labels is None:
            raise NotApplicable("the model is unconditional")
        classes = range(len(context.class_names))
        per_class = min([self.per_class, *(int((labels == k).sum()) for k in classes)])
        rows = torch.cat([context.generated.images[labels == k][:per_class] for k in classes])
        figure = labelled_grid(rows, per_class, row_labels=context.class_names)
        path = save_figure(figure, context.figure_path("classes"))
        caption = f"The first {per_class} evaluated samples asked for each class, one row per class."
        return [ReportFigure("classes", "Samples per class", caption, path)]


@contextmanager
def blended_label_embeddings(generator: nn.Module, weights: torch.Tensor) -> Iterator[None]:
    """Inside, every label embedding of `generator` returns `weights @ table`: per sample a mixture of classes.

    `weights` is N×classes (rows of one-hot vectors give the usual embeddings).
    """
    def mix(module: nn.Embedding, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
        return weights.to(module.weight) @ module.weight

    handles = [m.register_forward_hook(mix) for m in generator.modules() if isinstance(m, nn.Embedding)]
    if not handles:
        raise NotApplicable("the generator has no label embedding to blend classes in")
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def interpolation_weights(pairs: int, steps: int) -> torch.Tensor:
    """t from 0 to 1 in `steps`, once per pair: a (pairs·steps)×1 column."""
    return torch.linspace(0, 1, steps).repeat(pairs)[:, None]


def step_names(steps: int) -> list[str]:
    return ["0"] + [""] * (steps - 2) + ["1"]


class Interpolation:
    """Spherical interpolation between random latent pairs (for a conditional model, one class per row)."""

    def __init__(self, pairs: int = 8, steps: int = 10) -> None:
        self.pairs, self.steps = pairs, steps

    def __call__(self, context: AnalysisContext) -> list[ReportFigure]:
        starts, ends = context.noise(2 * self.pairs, stream=2).repeat_interleave(self.steps, dim=0).chunk(2)
        z = batch_slerp_any(starts, ends, interpolation_weights(self.pairs, self.steps))
        labels = context.labels_for(self.pairs)
        images = context.render(z, None if labels is None else labels.repeat_interleave(self.steps))
        figure = labelled_grid(images, self.steps, context.row_names(labels, self.pairs), step_names(self.steps))
        path = save_figure(figure, context.figure_path("interpolation"))
        caption = "Each row walks from one random z to another along the great circle (slerp), t = 0 … 1."
        return [ReportFigure("interpolation", "Latent interpolation", caption, path)]


class ClassInterpolation:
    """A conditional model's classes blended in its label embedding, z held fixed per row."""

    def __init__(self, pairs: int = 10, steps: int = 10) -> None:
        self.pairs, self.steps = pairs, steps

    def __call__(self, context: AnalysisContext) -> list[ReportFigure]:
        if not context.gan.conditional:
            raise NotApplicable("the model is unconditional")
        classes = len(context.class_names)
        first = torch.arange(self.pairs) % classes
        second = (first + 1) % classes
        t = interpolation_weights(self.pairs, self.steps)
        start, end = (nn.functional.one_hot(k.repeat_interleave(self.steps), classes).float() for k in (first, second))
        weights = (1 - t) * start + t * end
        z = context.noise(self.pairs, stream=3).repeat_interleave(self.steps, dim=0)
        with blended_label_embeddings(context.gan.generator, weights):
            images = render(context.gan, context.datamodule.to_data_space, z, first.repeat_interleave(self.steps), len(z))
        names = context.class_names
        row_names = [f"{names[a]} → {names[b]}" for a, b in zip(first.tolist(), second.tolist())]
        figure = labelled_grid(images, self.steps, row_names, step_names(self.steps))
        path = save_figure(figure, context.figure_path("class_interpolation"))
        caption = "Each row keeps one z and blends the label embedding from one class to the next: (1−t)·e_a + t·e_b."
        return [ReportFigure("class_interpolation", "Interpolation between classes", caption, path)]


class LatentArithmetic:
    """Vector arithmetic in z: adding α·v, v = mean z of the inkiest quarter of samples − mean z of the lightest quarter."""

    def __init__(self, samples: int = 2000, rows: int = 8, steps: int = 9, span: float = 2.0) -> None:
        self.samples, self.rows, self.steps, self.span = samples, rows, steps, span

    def __call__(self, context: AnalysisContext) -> list[ReportFigure]:
        z = context.noise(self.samples, stream=4)
        ink = context.render(z, context.labels_for(self.samples)).float().mean(dim=(1, 2, 3))
        order, quarter = ink.argsort(), max(1, self.samples // 4)
        direction = z[order[-quarter:]].mean(0) - z[order[:quarter]].mean(0)
        alphas = torch.linspace(-self.span, self.span, self.steps)
        moved = (context.noise(self.rows, stream=5)[:, None, :] + alphas[None, :, None] * direction).flatten(0, 1)
        labels = context.labels_for(self.rows)
        images = context.render(moved, None if labels is None else labels.repeat_interleave(self.steps))
        mean_ink = images.float().mean(dim=(1, 2, 3)).view(self.rows, self.steps).mean(0) / 255
        figure = labelled_grid(images, self.steps, context.row_names(labels, self.rows), [f"{a:+.1f}" for a in alphas.tolist()])
        path = save_figure(figure, context.figure_path("arithmetic"))
        caption = (
            f"z + α·v for {self.rows} random z, where v is the mean z of the 25% inkiest minus the 25% lightest of "
            f"{self.samples} samples. The mean ink per column goes from {mean_ink[0]:.3f} (α = {-self.span:+.1f}) "
            f"to {mean_ink[-1]:.3f} (α = {self.span:+.1f})."
        )
        numbers = {"alpha": [round(a, 4) for a in alphas.tolist()], "mean_ink": [round(v, 4) for v in mean_ink.tolist()]}
        return [ReportFigure("arithmetic", "Latent vector arithmetic", caption, path, numbers)]


def nearest_training_images(queries: torch.Tensor, train: torch.Tensor, k: int, chunk: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """RMS pixel distance (0–1) from each uint8 query to its `k` nearest training images, and their indices."""
    flat_train = train.flatten(1).float() / 255
    distances, indices = [], []
    for part in queries.flatten(1).float().div(255).split(chunk):
        nearest = torch.cdist(part, flat_train).topk(k, dim=1, largest=False)
        distances.append(nearest.values / math.sqrt(flat_train.shape[1]))
        indices.append(nearest.indices)
    return torch.cat(distances), torch.cat(indices)


class NearestNeighbours:
    """A memorisation check: generated samples beside their nearest training images (pixel distance).

    Also compares the median distance to the training set of `measured` samples with that of as many
    unseen test images: samples much closer than test images point to copies of the training set.
    """

    def __init__(self, samples: int = 8, k: int = 5, measured: int = 500) -> None:
        self.samples, self.k, self.measured = samples, k, measured

    def __call__(self, context: AnalysisContext) -> list[ReportFigure]:
        generated, real, train = context.generated.images, context.real.images, context.train.images
        pick = torch.randperm(len(generated), generator=context.random_generator(6))[: max(self.measured, self.samples)]
        distances, indices = nearest_training_images(generated[pick], train, self.k)
        test_pick = torch.randperm(len(real), generator=context.random_generator(7))[: len(pick)]
        test_distances, _ = nearest_training_images(real[test_pick], train, 1)
        shown = [torch.cat([generated[pick[i]][None], train[indices[i]]]) for i in range(self.samples)]
        figure = labelled_grid(
            torch.cat(shown), self.k + 1, [f"d={d:.3f}" for d in distances[: self.samples, 0].tolist()],
            ["sample"] + [f"#{i + 1}" for i in range(self.k)],
        )
        path = save_figure(figure, context.figure_path("neighbours"))
        numbers = {
            "median_distance_generated": round(distances[:, 0].median().item(), 4),
            "median_distance_test": round(test_distances[:, 0].median().item(), 4),
        }
        numbers["ratio"] = round(numbers["median_distance_generated"] / numbers["median_distance_test"], 4)
        caption = (
            f"Left: a sample; right: its {self.k} nearest training images (d: RMS pixel distance, 0–1). Median distance "
            f"to the training set: {numbers['median_distance_generated']:.3f} for {len(pick)} samples, "
            f"{numbers['median_distance_test']:.3f} for as many unseen test images (a ratio far below 1 means copying)."
        )
        return [ReportFigure("neighbours", "Nearest training neighbours", caption, path, numbers)]


class AuxiliaryConfusion:
    """The confusion matrix of the discriminator's classifier head (AC-GAN) on the real test split."""

    def __call__(self, context: AnalysisContext) -> list[ReportFigure]:
        real = context.real
        if context.critique(real.images[:2], real.labels[:2]).class_logits is None:
            raise NotApplicable("the discriminator has no classifier head")
        predicted = context.critique(real.images, real.labels).class_logits.argmax(1)
        matrix = confusion_matrix(real.labels.numpy(), predicted.numpy(), labels=range(len(context.class_names)))
        accuracy = float(np.trace(matrix) / matrix.sum())
        figure = confusion_figure(matrix, context.class_names, f"D's classifier on the test split: accuracy {accuracy:.3f}")
        path = save_figure(figure, context.figure_path("confusion"))
        caption = f"Rows: true class of {len(real.images)} real test images; columns: the class D's auxiliary head predicts."
        return [ReportFigure("confusion", "Confusion matrix of D's classifier", caption, path, {"accuracy": round(accuracy, 4)})]


class DiscriminatorTSNE:
    """t-SNE of the discriminator's last hidden features for real test images and generated samples.

    The number beside it: how often a point's nearest neighbour in D's feature space is of its own kind
    (real or generated) — about 0.5 when D's features cannot tell them apart, 1.0 when they separate fully.
    """

    def __init__(self, per_set: int = 500, perplexity: float = 30.0) -> None:
        self.per_set, self.perplexity = per_set, perplexity

    def __call__(self, context: AnalysisContext) -> list[ReportFigure]:
        sets = {"real (test)": context.real, "generated": context.generated}
        features = []
        for stream, subset in enumerate(sets.values(), start=8):
            pick = torch.randperm(len(subset.images), generator=context.random_generator(stream))[: self.per_set]
            labels = None if subset.labels is None else subset.labels[pick]
            features.append(context.critique(subset.images[pick], labels).features.flatten(1).numpy())
        stacked = np.concatenate(features)
        origin = np.repeat(np.arange(len(features)), [len(f) for f in features])
        _, neighbour = NearestNeighbors(n_neighbors=2).fit(stacked).kneighbors(stacked)
        agreement = float((origin[neighbour[:, 1]] == origin).mean())
        perplexity = min(self.perplexity, (len(stacked) - 1) / 3)
        embedded = TSNE(2, perplexity=perplexity, init="pca", random_state=context.seed).fit_transform(stacked)
        points = {name: embedded[origin == i] for i, name in enumerate(sets)}
        figure = scatter_figure(points, f"t-SNE of D's features (same-kind nearest neighbour: {agreement:.2f})")
        path = save_figure(figure, context.figure_path("tsne"))
        caption = (
            f"{len(features[0])} real test images and {len(features[1])} samples through D's last hidden layer. "
            f"A point's nearest neighbour in that space is of its own kind {agreement:.0%} of the time (50%: D cannot tell)."
        )
        return [ReportFigure("tsne", "t-SNE of discriminator features", caption, path, {"same_kind_neighbour": round(agreement, 4)})]


def read_scalars(run_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar series in the TensorBoard event files under `run_dir`: tag → (steps, values), by step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(run_dir.rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            series.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
    return {tag: tuple(np.array(column) for column in zip(*sorted(points))) for tag, points in series.items()}


class LossCurves:
    """The training run's curves, read back from its TensorBoard events (the folder above the checkpoint's).

    `panels` maps a panel title to the tag prefix of its series; epoch aggregates (`…_epoch`) are left out.
    """

    def __init__(self, panels: Mapping[str, str] | None = None, smoothing: int = 25) -> None:
        self.panels = dict(panels or {"Losses": "train/loss_", "D(x) and D(G(z))": "train/d_"})
        self.smoothing = smoothing

    def __call__(self, context: AnalysisContext) -> list[ReportFigure]:
        run_dir = context.checkpoint.resolve().parent.parent
        scalars = read_scalars(run_dir)
        panels = {
            title: {tag: scalars[tag] for tag in sorted(scalars) if tag.startswith(prefix) and not tag.endswith("_epoch")}
            for title, prefix in self.panels.items()
        }
        panels = {title: series for title, series in panels.items() if series}
        if not panels:
            raise NotApplicable(f"no TensorBoard scalars matching {sorted(self.panels.values())} under {run_dir}")
        path = save_figure(curves_figure(panels, self.smoothing), context.figure_path("losses"))
        caption = f"Read back from the TensorBoard events of {run_dir}; faint: as logged, solid: moving average."
        return [ReportFigure("losses", "Training curves", caption, path)]
