"""ganforge's spectral norm against PyTorch's parametrization, in the step of the models that use it.

The bare loop of `bench_train.py` (the same maths as `train.py`'s path without Lightning, bf16 where chosen) three
times over the same data, the discriminator spectrally normalised three ways:
- ganforge: `ganforge.nets.spectral_norm` (a linear layer's output divided by σ, one σ per D and per G step);
- torch, cached: `torch.nn.utils.parametrizations.spectral_norm`, each step inside `parametrize.cached()`;
- torch: the same parametrization as it is usually run, the weight divided again in every forward pass (ganforge's
  spectral norm until 2026-12-07).
Rounds of `--batches` batches of each, interleaved so the machine's drift slows all alike; medians of ms a batch.

    python benchmarks/bench_spectral_norm.py [--models cgan,sngan_cgan] [--rounds 15] [--batches 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from bench_train import MODELS, ROOT, PlainLoop, compose_train_config, fashion_in_model_space, write_report
from ganforge.config import register_resolvers
from ganforge.runtime import keep_freed_memory

VARIANTS = ("ganforge", "torch, cached", "torch")


def loop_with(variant: str, model: str, images: torch.Tensor, labels: torch.Tensor, workdir: Path) -> PlainLoop:
    """The bare loop of `model`, its D spectrally normalised by `variant`, from the same initial weights."""
    torch.manual_seed(0)
    overrides = MODELS[model] if variant == "ganforge" else [*MODELS[model], "model.discriminator.spectral_norm=false"]
    cfg = compose_train_config(overrides, workdir)
    loop = PlainLoop(cfg, images, labels, tuned=True)
    if variant != "ganforge":
        for layer in list(loop.discriminator.modules()):
            if isinstance(layer, (nn.Linear, nn.Conv2d, nn.Embedding)):
                spectral_norm(layer)
        loop.opt_d = instantiate_like(loop.opt_d, loop.discriminator)
        loop.one_step = parametrize.cached if variant == "torch, cached" else nullcontext
    return loop


def instantiate_like(optimizer: torch.optim.Optimizer, net: nn.Module) -> torch.optim.Optimizer:
    """A fresh optimizer of `optimizer`'s class and settings over `net`'s parameters (new after the parametrization)."""
    settings = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
    return type(optimizer)(net.parameters(), **settings)


def measure(model: str, rounds: int, batches: int, workdir: Path) -> dict[str, float]:
    cfg = compose_train_config(MODELS[model], workdir)
    images, labels = fashion_in_model_space(cfg)
    keep_freed_memory(cfg.keep_freed_memory)
    loops = {variant: loop_with(variant, model, images, labels, workdir) for variant in VARIANTS}
    for loop in loops.values():  # warm-up
        for _ in range(3):
            loop.step()
    times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for _ in range(rounds):
        for variant, loop in loops.items():
            start = time.perf_counter()
            for _ in range(batches):
                loop.step()
            times[variant].append((time.perf_counter() - start) / batches * 1000)
    return {variant: statistics.median(values) for variant, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cgan,sngan_cgan")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    register_resolvers()
    report = {"rounds": args.rounds, "batches": args.batches, "ms_per_batch": {}}
    with tempfile.TemporaryDirectory() as workdir:
        for model in args.models.split(","):
            ms = report["ms_per_batch"][model] = measure(model, args.rounds, args.batches, Path(workdir))
            print(f"{model:10s} " + "  ".join(f"{variant} {value:.1f} ms" for variant, value in ms.items())
                  + f"  speed-up against torch: {ms['torch'] / ms['ganforge']:.2f}x, "
                  f"against torch cached: {ms['torch, cached'] / ms['ganforge']:.2f}x", flush=True)
    write_report(args.out, "spectral-norm", report)


if __name__ == "__main__":
    main()
