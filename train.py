"""Train a GAN: python train.py [model=gan|dcgan|cgan|…] [data=fashion|mnist|…] [key=value …] [-m for sweeps]."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from ganforge.cli import prepare_entry, reporting_user_errors
from ganforge.training import train

ROOT = Path(__file__).resolve().parent


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@reporting_user_errors
def main(cfg: DictConfig) -> float | None:
    return train(cfg)


if __name__ == "__main__":
    prepare_entry(ROOT, "train.py")
    main()
