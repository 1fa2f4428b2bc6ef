"""Speed of a 10 000-sample domain evaluation with cached real statistics (budget: 60 s on 2 CPU cores).

    python benchmarks/bench_evaluate.py [--ckpt PATH] [--n-samples 10000]

Runs evaluate.py's evaluation (metrics=domain, no figures) twice: the first run caches the test split's
statistics (and trains the domain classifier if the project has none yet), the second is timed. Without
--ckpt a short cgan run (one epoch on 2048 Fashion-MNIST images) provides the checkpoint; the cost of the
metrics does not depend on how well it is trained. The reference, timed in the same process, is the
domain classifier's bare forward pass over as many test images, so the ratio holds on a busy machine
where absolute times do not.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import open_dict

from ganforge.checkpoint import load_module
from ganforge.config import register_resolvers
from ganforge.evaluation import evaluate
from ganforge.models.classifier import Classifier

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60.0


def short_cgan_run(log_dir: Path) -> Path:
    """A real checkpoint, quickly: train.py model=cgan for one epoch on 2048 images."""
    command = [sys.executable, str(ROOT / "train.py"), "model=cgan", "data.subset=2048", "trainer.max_epochs=1",
               f"paths.log_dir={log_dir}", "callbacks.sample_preview.gif=false"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return next(log_dir.glob("train/runs/*/checkpoints/last.ckpt"))


def timed_evaluation(ckpt: Path, n_samples: int, output_dir: str) -> tuple[float, dict]:
    overrides = [f"ckpt={ckpt}", "metrics=domain", "analyses=none", f"n_samples={n_samples}", "tensorboard=false"]
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("evaluate", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
        cfg.paths.output_dir = output_dir
    evaluate(cfg.copy())  # warm-up: the classifier and the real statistics are cached from here on
    started = time.perf_counter()
    summary = evaluate(cfg.copy())
    return time.perf_counter() - started, summary


def classifier_forward_seconds(path: Path, n: int) -> tuple[float, int]:
    classifier, record = load_module(path, Classifier)
    datamodule = instantiate(record["data"])
    images, _ = datamodule.load("test")
    images = images[:n]
    started = time.perf_counter()
    with torch.no_grad():
        for batch in images.split(500):
            classifier.net(datamodule.to_model_space(batch))
    return time.perf_counter() - started, len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, default=None, help="checkpoint to evaluate (default: a short cgan run)")
    parser.add_argument("--n-samples", type=int, default=10_000)
    args = parser.parse_args()
    os.environ["PROJECT_ROOT"] = str(ROOT)
    register_resolvers()
    with tempfile.TemporaryDirectory() as scratch:
        ckpt = args.ckpt or short_cgan_run(Path(scratch) / "logs")
        seconds, summary = timed_evaluation(ckpt, args.n_samples, scratch)
    # the classifier the evaluation measured in (recorded in metrics.json)
    reference, count = classifier_forward_seconds(Path(summary["measured_with"]["domain"]["classifier"]), args.n_samples)

    verdict = "OK" if seconds < BUDGET_SECONDS else "OVER BUDGET"
    print(f"checkpoint: {ckpt if args.ckpt else 'short cgan run'} ({summary['model']} on {summary['data']})")
    print(f"domain evaluation of {args.n_samples} samples, cached real statistics: {seconds:.1f} s "
          f"(budget {BUDGET_SECONDS:.0f} s: {verdict})")
    print("  " + ", ".join(f"{name} {value:.1f} s" for name, value in summary["seconds"].items()))
    print(f"reference: the classifier's forward pass over {count} test images: {reference:.2f} s")
    print(f"ratio evaluation / reference: {seconds / reference:.1f}")


if __name__ == "__main__":
    main()
