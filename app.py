"""The evaluation app in the browser: python app.py ckpt=PATH [port=7860] [host=127.0.0.1] [key=value …]."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from ganforge.app.server import serve
from ganforge.cli import prepare_entry, reporting_user_errors

ROOT = Path(__file__).resolve().parent


@hydra.main(version_base="1.3", config_path="conf", config_name="app")
@reporting_user_errors
def main(cfg: DictConfig) -> None:
    serve(cfg)


if __name__ == "__main__":
    prepare_entry(ROOT, "app.py")
    main()
