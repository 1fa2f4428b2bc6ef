"""Speed of a 10 000-sample domain evaluation with cached real statistics (budget: 60 s on 2 CPU cores).

    python benchmarks/bench_evaluate.py [--ckpt PATH] [--n-samples 10000]

Runs `evaluate.py`'s evaluation (metrics=domain, no figures) twice on the checkpoint (default: the newest
logs/train/runs/*/checkpoints/last.ckpt): the first run trains/loads the domain classifier and caches the
test split's statistics, the second is timed. The reference, timed in the same process, is the
classifier's bare forward pass over the 10 000 test images, so the ratio says how much the evaluation
costs beyond looking at the images once, whatever the machine's speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60.0


def newest_checkpoint() -> Path:
    found = sorted((ROOT / "logs" / "train" / "runs").glob("*/checkpoints/last.ckpt"))
    if not found:
        sys.exit("error: no checkpoint under logs/train/runs; train one (make train) or pass --ckpt PATH")
    return found[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, default=None)
    parser.add_argument("--n-samples", type=int, default=10_000)
    args = parser.parse_args()
    os.environ["PROJECT_ROOT"] = str(ROOT)

    from ganforge.checkpoint import load_module
    from ganforge.config import register_resolvers
    from ganforge.evaluation import evaluate
    from ganforge.models.classifier import Classifier
    from ganforge.callbacks.export_classifier import classifier_file

    register_resolvers()
    ckpt = args.ckpt or newest_checkpoint()
    overrides = [f"ckpt={ckpt}", "metrics=domain", "analyses=none", f"n_samples={args.n_samples}", "tensorboard=false"]
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")), tempfile.TemporaryDirectory() as out:
        cfg = compose("evaluate", overrides=overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            cfg.paths.output_dir = out
        evaluate(cfg.copy())  # warm-up: classifier and real statistics now cached
        started = time.perf_counter()
        summary = evaluate(cfg.copy())
        seconds = time.perf_counter() - started

    classifier, record = load_module(classifier_file(cfg.metrics.suites.domain.classifier_dir, summary["data"]), Classifier)
    from hydra.utils import instantiate

    datamodule = instantiate(record["data"])
    images, _ = datamodule.load("test")
    started = time.perf_counter()
    with torch.no_grad():
        for batch in images[: args.n_samples].split(500):
            classifier.net(datamodule.to_model_space(batch))
    reference = time.perf_counter() - started

    print(f"checkpoint: {ckpt} ({summary['model']}, conditional={summary['conditional']})")
    print(f"domain evaluation of {args.n_samples} samples, cached real statistics: {seconds:.1f} s "
          f"(budget {BUDGET_SECONDS:.0f} s: {'OK' if seconds < BUDGET_SECONDS else 'OVER'})")
    print("  " + ", ".join(f"{name} {value:.1f} s" for name, value in summary["seconds"].items()))
    print(f"reference: classifier forward over {min(args.n_samples, len(images))} test images: {reference:.2f} s")
    print(f"ratio evaluation / reference: {seconds / reference:.0f}x")


if __name__ == "__main__":
    main()
