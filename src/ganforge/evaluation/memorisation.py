"""A memorisation check: how close samples lie to the training set, beside unseen test images."""

from __future__ import annotations

import math

import torch

from ganforge.evaluation.context import AnalysisContext, ReportFigure
from ganforge.viz.figures import labelled_grid, save_figure


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
