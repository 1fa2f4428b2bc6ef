"""Does bf16 autocast train like fp32? The same nets, optimizer settings and data (Fashion-MNIST), a short run in
each precision from several seeds: the mean losses of the last steps in bf16 must lie within the spread that the
seeds alone cause in fp32. This is the check behind `trainer.precision=bf16-mixed` being the CPU default where the
CPU computes in bf16 natively (see `ganforge.config.best_precision`).

    python benchmarks/bench_precision.py [--models sngan_cgan,dcgan] [--steps 150] [--seeds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import torch
from omegaconf import open_dict

from bench_train import MODELS, ROOT, PlainLoop, compose_train_config, fashion_in_model_space, write_report
from ganforge.config import best_precision, register_resolvers


def final_losses(model: str, precision: str, seed: int, steps: int, workdir: Path) -> tuple[float, float]:
    """Mean D and G losses over the last third of `steps` batches of the plain loop in `precision`."""
    cfg = compose_train_config(MODELS[model], workdir)
    with open_dict(cfg):
        cfg.trainer.precision = precision
    torch.manual_seed(seed)
    loop = PlainLoop(cfg, *fashion_in_model_space(cfg), tuned=True)
    d_losses, g_losses = [], []
    for step in range(steps):
        loss_d, loss_g = loop.step()
        if step >= steps - steps // 3:
            d_losses.append(float(loss_d))
            if loss_g is not None:
                g_losses.append(float(loss_g))
    return statistics.mean(d_losses), statistics.mean(g_losses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="sngan_cgan,dcgan")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    register_resolvers()
    report = {"cpu_default": best_precision(), "steps": args.steps, "seeds": args.seeds, "models": {}}
    with tempfile.TemporaryDirectory() as workdir:
        for model in args.models.split(","):
            runs = {precision: [final_losses(model, precision, seed, args.steps, Path(workdir)) for seed in range(args.seeds)]
                    for precision in ("32-true", "bf16-mixed")}
            entry = {}
            for player, index in (("loss_d", 0), ("loss_g", 1)):
                fp32 = [run[index] for run in runs["32-true"]]
                bf16 = [run[index] for run in runs["bf16-mixed"]]
                spread = max(statistics.stdev(fp32), 1e-6)
                gap = abs(statistics.mean(bf16) - statistics.mean(fp32))
                entry[player] = {"fp32": fp32, "bf16": bf16, "gap": gap, "fp32_seed_std": spread,
                                 "within_noise": gap <= 2 * spread}
                print(f"{model:6s} {player}: fp32 {statistics.mean(fp32):.3f} ± {spread:.3f}  bf16 "
                      f"{statistics.mean(bf16):.3f} ± {statistics.stdev(bf16):.3f}  gap {gap:.3f} "
                      f"({'within' if gap <= 2 * spread else 'OUTSIDE'} 2 seed std)", flush=True)
            report["models"][model] = entry
    write_report(args.out, "precision", report)


if __name__ == "__main__":
    main()
