"""Matplotlib figures for reports: labelled image grids, confusion matrices, scatters and curves.

Figures are built without pyplot (no global state) and rendered straight to PNG files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from ganforge.viz.images import image_grid

PADDING = 2  # pixels between the tiles of an image grid


def save_figure(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path


def labelled_grid(
    images: torch.Tensor, columns: int, row_labels: Sequence[str] = (), column_labels: Sequence[str] = (), title: str = ""
) -> Figure:
    """uint8 images N×C×H×W tiled `columns` per row, with a label left of each row and above each column."""
    picture = image_grid(images, nrow=columns, padding=PADDING)
    tile_height, tile_width = images.shape[2] + PADDING, images.shape[3] + PADDING
    scale = 0.9 / 28  # inches per pixel: a 28-pixel tile is 0.9 inch
    figure = Figure(figsize=(picture.shape[1] * scale + 1.5, picture.shape[0] * scale + 0.6))
    axes = figure.add_subplot()
    axes.imshow(picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes.set_yticks([tile_height * (i + 0.5) for i in range(len(row_labels))], list(row_labels))
    axes.set_xticks([tile_width * (i + 0.5) for i in range(len(column_labels))], list(column_labels))
    axes.xaxis.tick_top()
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    if title:
        axes.set_title(title, pad=18 if column_labels else 6)
    return figure


def confusion_figure(matrix: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """A confusion matrix (rows: true class, columns: predicted), counts written in the cells."""
    size = 1.5 + 0.55 * len(class_names)
    figure = Figure(figsize=(size + 1.5, size))
    axes = figure.add_subplot()
    shown = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(shown, ax=axes, fraction=0.046)
    ticks = range(len(class_names))
    axes.set_xticks(ticks, class_names, rotation=45, ha="right")
    axes.set_yticks(ticks, class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    threshold = matrix.max() / 2
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center", fontsize=7,
                  color="white" if count > threshold else "black")
    axes.set_title(title)
    return figure


def scatter_figure(points: Mapping[str, np.ndarray], title: str) -> Figure:
    """2-D point sets, one colour each."""
    figure = Figure(figsize=(6.5, 6))
    axes = figure.add_subplot()
    for name, xy in points.items():
        axes.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.6, label=name)
    axes.legend(markerscale=3)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title)
    return figure


def curves_figure(panels: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], smoothing: int = 25) -> Figure:
    """One panel per group of series (steps, values), each drawn raw (faint) and as a moving average."""
    figure = Figure(figsize=(7, 3.2 * len(panels)))
    for index, (title, series) in enumerate(panels.items()):
        axes = figure.add_subplot(len(panels), 1, index + 1)
        for name, (steps, values) in series.items():
            window = max(1, min(smoothing, len(values) // 5))
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            marker = "o" if len(values) < 30 else None  # a short run's few points stay visible
            line, = axes.plot(steps, values, alpha=0.25, linewidth=0.8, marker=marker, markersize=3)
            axes.plot(steps[window - 1 :], smooth, color=line.get_color(), label=name)
        axes.set_title(title)
        axes.set_xlabel("step")
        axes.legend(fontsize=8)
    figure.tight_layout()
    return figure
