"""DDP from the inside, for tests/test_ddp.py: a callback with which each rank writes what it trained on and
the state it ended with, and (run as a script under torchrun) several variants trained one after the other in
one pair of processes, which spares a process start per variant.

    python -m torch.distributed.run --standalone --nproc-per-node=2 tests/ddp_probe.py OUT '{"gan": [overrides], …}' [override …]
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import lightning as L
import torch

ROOT = Path(__file__).resolve().parents[1]


class RankProbe(L.Callback):
    """Records on each rank a digest of every training sample with its epoch, each batch's losses (as the module
    returns them), and the module's whole state dict at the end: `dirpath/rank<global rank>.pt`."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)
        self.samples: list[tuple[int, str]] = []
        self.losses: list[dict[str, float]] = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        samples, _ = batch
        self.samples += [(trainer.current_epoch, hashlib.sha1(s.float().cpu().numpy().tobytes()).hexdigest())
                         for s in samples]

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        self.losses.append({name: float(value) for name, value in outputs.items()})

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.dirpath.mkdir(parents=True, exist_ok=True)
        state = {name: value.detach().cpu().clone() for name, value in pl_module.state_dict().items()}
        torch.save({"samples": self.samples, "losses": self.losses, "state": state},
                   self.dirpath / f"rank{trainer.global_rank}.pt")


def train_variants(out: Path, variants: dict[str, list[str]], common: list[str]) -> None:
    """Each model with its overrides and the common ones, trained with trainer=ddp (in the processes torchrun
    started) into `out/<model>`."""
    from hydra import compose, initialize_config_dir

    from ganforge.config import register_resolvers
    from ganforge.training import train

    os.environ["PROJECT_ROOT"] = str(ROOT)
    register_resolvers()
    for model, overrides in variants.items():
        with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
            cfg = compose("train", overrides=[
                "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", f"model={model}",
                f"paths.output_dir={out / model}", f"paths.log_dir={out}", f"paths.data_dir={out / 'data'}",
                "+callbacks.rank_probe._target_=ddp_probe.RankProbe", f"+callbacks.rank_probe.dirpath={out / model}",
                *common, *overrides])
        train(cfg)


if __name__ == "__main__":
    train_variants(Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3:])
