"""Evaluate a checkpoint: python evaluate.py ckpt=PATH [metrics=default|all|domain|inception] [n_samples=…] [key=value …]."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from ganforge.cli import prepare_entry, reporting_user_errors
from ganforge.evaluation import evaluate, metrics_table

ROOT = Path(__file__).resolve().parent


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
@reporting_user_errors
def main(cfg: DictConfig) -> None:
    print(metrics_table(evaluate(cfg)))


if __name__ == "__main__":
    prepare_entry(ROOT, "evaluate.py")
    main()
