"""One evaluation of a checkpoint: samples, metrics against the test split, visual analyses, a report."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from PIL import Image

from ganforge.data import GANDataModule
from ganforge.errors import CheckpointError, ConfigError
from ganforge.evaluation.context import AnalysisContext, NotApplicable, ReportFigure
from ganforge.evaluation.report import write_report
from ganforge.evaluation.suites import MetricInputs, MetricSuite, split_set
from ganforge.generation import check_sample_count, data_config_here, load_generator, resolve_device
from ganforge.metrics import SampleSet
from ganforge.metrics.base import content_key
from ganforge.sampling import draw_evaluation_set

log = logging.getLogger(__name__)


def dataset_name(record: dict[str, Any], ckpt: str) -> str:
    """The data config the checkpoint was trained with (e.g. "fashion"): names its classifier and cached statistics."""
    name = record["choices"].get("data")
    if not name:
        raise CheckpointError(f"{ckpt} records no dataset name (its run was not composed by train.py); retrain it with train.py")
    return name


def fixed_subset(split: SampleSet, n: int | None, name_prefix: str) -> SampleSet:
    """`n` images of a real split (all for None), one fixed random draw named `<prefix>-<count>-<content key>` for
    torch-fidelity's cache of its statistics: changed data never meets the statistics of the old."""
    count = len(split.images) if n is None else min(n, len(split.images))
    pick = torch.randperm(len(split.images), generator=torch.Generator().manual_seed(0))[:count]
    images, labels = split.images[pick], split.labels[pick]
    return SampleSet(images, labels, f"{name_prefix}-{count}-{content_key(images, labels)}")


@contextmanager
def timed(seconds: dict[str, float], key: str) -> Iterator[None]:
    """Adds the wall time of the block to `seconds[key]`, reported in metrics.json."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[key] = time.perf_counter() - started


def where_applicable(
    parts: Mapping[str, Callable[[Any], Any]], given: Any, seconds: dict[str, float], kind: str
) -> tuple[dict[str, Any], list[str]]:
    """What each part (a metric suite, an analysis) makes of `given`, timed as `<kind>/<name>`; a note (`<name>
    <kind>: why`) for each that does not apply to this model or dataset, and nothing for one that returns None."""
    results, notes = {}, []
    for name, part in parts.items():
        with timed(seconds, f"{kind}/{name}"):
            try:
                result = part(given)
            except NotApplicable as reason:
                notes.append(f"{name} {kind}: {reason}")
                continue
        if result is not None:
            results[name] = result
    return results, notes


def write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n")


def log_to_tensorboard(directory: Path, metrics: Mapping[str, Mapping[str, float]], figures: list[ReportFigure]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(directory)) as writer:
        for suite, values in metrics.items():
            for name, value in values.items():
                writer.add_scalar(f"eval/{suite}/{name}", value, 0)
        for figure in figures:
            writer.add_image(f"eval/{figure.name}", np.asarray(Image.open(figure.path).convert("RGB")), 0, dataformats="HWC")


def metrics_table(summary: Mapping[str, Any]) -> str:
    """The metrics as a short aligned table, one `suite/metric value` per line."""
    rows = [(f"{suite}/{name}", value) for suite, values in summary["metrics"].items() for name, value in values.items()]
    width = max((len(name) for name, _ in rows), default=10) + 2
    spaces = [f"{suite}: {details['feature_space']}" for suite, details in summary.get("measured_with", {}).items()
              if "feature_space" in details]
    return "\n".join([f"{'metric':<{width}}{'value':>12}"] + [f"{name:<{width}}{value:>12.4f}" for name, value in rows]
                     + (["", "Measured in the features of", *spaces] if spaces else []))


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Measure `cfg.ckpt` with `cfg.metrics` and draw `cfg.analyses`; write metrics.json, figures and report.html
    into the run directory and return what metrics.json holds."""
    check_sample_count("n_samples", cfg.n_samples)
    if cfg.n_real is not None:
        check_sample_count("n_real", cfg.n_real)
    device = resolve_device(cfg.device)
    gan, record = load_generator(cfg.ckpt, device)
    dataset = dataset_name(record, cfg.ckpt)
    data_config = data_config_here(record["data"], OmegaConf.to_container(cfg.data, resolve=True))
    datamodule: GANDataModule = instantiate(data_config)
    if not datamodule.holds_images:
        raise ConfigError(f"evaluate.py measures images, and {cfg.ckpt} generates points (data={dataset}, samples of "
                          f"shape {list(datamodule.sample_shape)}); its run's samples/ previews show how it fits, and "
                          f"python generate.py ckpt=… writes its points to a .npz")
    with open_dict(cfg):
        cfg.data = data_config  # the metric configs' ${data.…} now resolve against the checkpoint's dataset
    # Build every suite and analysis first: missing Inception weights fail here, before any work.
    suites: dict[str, MetricSuite] = {
        name: instantiate(suite) for name, suite in OmegaConf.to_container(cfg.metrics.suites, resolve=True).items()
    }
    analyses = {name: instantiate(analysis) for name, analysis in cfg.analyses.items() if analysis is not None}
    seconds: dict[str, float] = {}
    with timed(seconds, "loading"):
        test = fixed_subset(split_set(datamodule, "test", dataset), cfg.n_real, f"{dataset}-test")
        train = split_set(datamodule, datamodule.train_split, dataset)
    with timed(seconds, "sampling"):
        generated = draw_evaluation_set(gan, datamodule, cfg.n_samples, cfg.seed, cfg.batch_size)

    inputs = MetricInputs(generated, test, datamodule, data_config, dataset, device, cfg.seed,
                          reference=fixed_subset(train, cfg.n_samples, f"{dataset}-{datamodule.train_split}"))
    results, notes = where_applicable(suites, inputs, seconds, "metrics")
    out = Path(cfg.paths.output_dir)
    summary: dict[str, Any] = {
        "checkpoint": str(Path(cfg.ckpt).resolve()),
        "model": record["choices"].get("model"),
        "data": dataset,
        "conditional": gan.conditional,
        "sampling_weights": gan.sampling_weights,  # "ema": the moving average of G's weights was measured
        "n_samples": cfg.n_samples,
        "seed": cfg.seed,
        "device": str(device),
        "real_split": test.name,
        "metrics": {name: result.values for name, result in results.items()},
        "measured_with": {name: result.details for name, result in results.items()},
        "seconds": seconds,
    }
    write_json(out / "metrics.json", summary)  # before the figures: no number is lost if one fails

    context = AnalysisContext(gan, datamodule, generated, test, train, Path(cfg.ckpt), out, cfg.seed, cfg.batch_size)
    drawn, analysis_notes = where_applicable(analyses, context, seconds, "analysis")
    figures = [figure for figures_of_one in drawn.values() for figure in figures_of_one]
    notes += analysis_notes
    summary["analyses"] = {figure.name: figure.numbers for figure in figures if figure.numbers}
    summary["figures"] = [figure.path.name for figure in figures]
    summary["not_applicable"] = notes
    write_json(out / "metrics.json", summary)
    facts = {key: summary[key] for key in ("checkpoint", "model", "data", "conditional", "sampling_weights", "n_samples",
                                           "seed", "real_split")}
    write_report(out / "report.html", f"Evaluation of {summary['model']} on {dataset}", facts, summary["metrics"], figures,
                 notes, summary["measured_with"])
    if cfg.tensorboard:
        log_to_tensorboard(out / "tensorboard", summary["metrics"], figures)
    log.info("Wrote %s, %d figures and %s", out / "metrics.json", len(figures), out / "report.html")
    return summary
