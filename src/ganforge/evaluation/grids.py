"""Figures of samples: grids, interpolations in z and between classes, and vector arithmetic in z."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch_fidelity.noise import batch_slerp_any

from ganforge.evaluation.context import AnalysisContext, NotApplicable, ReportFigure
from ganforge.viz.figures import labelled_grid, save_figure
from ganforge.viz.images import image_grid, save_png


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
        with blended_label_embeddings(context.gan.sampling_generator, weights):
            images = context.render(z, first.repeat_interleave(self.steps), batch_size=len(z))  # one pass: one blend
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
