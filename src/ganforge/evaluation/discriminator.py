"""What the discriminator sees: its auxiliary classifier's confusion matrix, and t-SNE of its features."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.manifold import TSNE
from sklearn.metrics import confusion_matrix
from sklearn.neighbors import NearestNeighbors

from ganforge.evaluation.context import AnalysisContext, NotApplicable, ReportFigure
from ganforge.viz.figures import confusion_figure, save_figure, scatter_figure


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
