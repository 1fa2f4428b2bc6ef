"""Write samples of a checkpoint: python generate.py ckpt=PATH [n=100] [label=all|<index>|<name>] [out=DIR]."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from ganforge.cli import prepare_entry, reporting_user_errors
from ganforge.generation import generate

ROOT = Path(__file__).resolve().parent


@hydra.main(version_base="1.3", config_path="conf", config_name="generate")
@reporting_user_errors
def main(cfg: DictConfig) -> None:
    print(generate(cfg))


if __name__ == "__main__":
    prepare_entry(ROOT, "generate.py")
    main()
