"""The training run's curves, read back from its TensorBoard events."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ganforge.evaluation.context import AnalysisContext, NotApplicable, ReportFigure
from ganforge.viz.figures import curves_figure, save_figure


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
