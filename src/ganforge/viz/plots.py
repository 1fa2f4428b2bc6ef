"""Plots of points and of D's verdict as H×W×3 uint8 pictures for previews (matplotlib's Agg canvas, no pyplot state)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

REAL_COLOR, FAKE_COLOR, CRITIC_COLOR = "tab:blue", "tab:orange", "tab:green"


def _new_figure(size: tuple[float, float] = (6.4, 4.0)) -> Figure:
    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _to_picture(figure: Figure) -> np.ndarray:
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def histogram_with_critic(
    real: np.ndarray,
    fake: np.ndarray,
    grid: np.ndarray,
    verdict: np.ndarray,
    limits: Sequence[float],
    verdict_limits: Sequence[float] | None = None,
    title: str = "",
    bins: int = 60,
) -> np.ndarray:
    """Densities of real and generated 1-D samples, and D's verdict along `grid` on a second axis.

    `verdict_limits` fixes that axis (e.g. [0, 1] for probabilities) so frames of a GIF compare.
    """
    figure = _new_figure()
    axes = figure.add_subplot()
    edges = np.linspace(*limits, bins + 1)
    axes.hist(real, bins=edges, density=True, alpha=0.5, color=REAL_COLOR, label="real")
    axes.hist(fake, bins=edges, density=True, alpha=0.5, color=FAKE_COLOR, label="generated")
    axes.set(xlim=limits, xlabel="x", ylabel="density", title=title)
    critic_axes = axes.twinx()
    critic_axes.plot(grid, verdict, color=CRITIC_COLOR, label="D(x)")
    critic_axes.set_ylabel("D(x)", color=CRITIC_COLOR)
    if verdict_limits is not None:
        critic_axes.set_ylim(*verdict_limits)
    handles = axes.get_legend_handles_labels()[0] + critic_axes.get_legend_handles_labels()[0]
    axes.legend(handles=handles, loc="upper left")
    return _to_picture(figure)


def scatter_with_critic(
    real: np.ndarray,
    fake: np.ndarray,
    verdict: np.ndarray,
    limits: Sequence[Sequence[float]],
    verdict_limits: Sequence[float] | None = None,
    title: str = "",
) -> np.ndarray:
    """Real and generated 2-D points (N×2 each) over a heat map of D's verdict on a regular grid over `limits`
    (`verdict` rows: the second coordinate, from low to high).

    `verdict_limits` fixes the colour scale (e.g. [0, 1] for probabilities) so frames of a GIF compare.
    """
    figure = _new_figure()
    axes = figure.add_subplot()
    (x_low, x_high), (y_low, y_high) = limits
    color_low, color_high = verdict_limits if verdict_limits is not None else (None, None)
    heat = axes.imshow(verdict, extent=(x_low, x_high, y_low, y_high), origin="lower", aspect="auto",
                       cmap="Greens", alpha=0.6, vmin=color_low, vmax=color_high)
    figure.colorbar(heat, ax=axes, label="D(x)")
    axes.scatter(real[:, 0], real[:, 1], s=2, color=REAL_COLOR, label="real")
    axes.scatter(fake[:, 0], fake[:, 1], s=4, color=FAKE_COLOR, label="generated")
    axes.set(xlim=(x_low, x_high), ylim=(y_low, y_high), xlabel="x1", ylabel="x2", title=title)
    axes.legend(loc="upper right")
    return _to_picture(figure)
