"""`resume=auto`: a command run again (a requeued cluster job, a restarted laptop) continues its own latest run.

A run is "the same" when its model, data, seed and trainer settings are, apart from how long it trains
(`trainer.max_epochs`, `max_steps`, `max_time`): so the same command with more epochs continues too.
Each run directory holds the fingerprint of those settings; the run directory of a resumed command is
the latest one with the same fingerprint and a `last.ckpt`, so checkpoints, events and pictures go on
in one place.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

FINGERPRINT_FILE = "fingerprint"
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
# Trainer keys that say how long a run goes on or where it writes, not what it is.
NOT_IDENTITY_KEYS = ("max_epochs", "max_steps", "max_time", "min_epochs", "default_root_dir")


def run_fingerprint(cfg: DictConfig) -> str:
    """A digest of what makes a run this run: model, data, seed and trainer settings except its length."""
    trainer = {key: value for key, value in OmegaConf.to_container(cfg.trainer, resolve=True).items()
               if key not in NOT_IDENTITY_KEYS}
    identity: dict[str, Any] = {
        "task": cfg.get("task_name"),
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "data": OmegaConf.to_container(cfg.data, resolve=True),
        "seed": cfg.get("seed"),
        "trainer": trainer,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def latest_resumable_run(runs: Path, fingerprint: str) -> Path | None:
    """The newest run directory under `runs` with this fingerprint and a last checkpoint, if any."""
    if not runs.is_dir():
        return None
    matching = [run for run in runs.iterdir()
                if (run / LAST_CHECKPOINT).is_file() and (run / FINGERPRINT_FILE).is_file()
                and (run / FINGERPRINT_FILE).read_text().strip() == fingerprint]
    return max(matching, key=lambda run: (run / LAST_CHECKPOINT).stat().st_mtime, default=None)


def run_directory(runs: str, new_name: str, *, _root_: DictConfig) -> str:
    """Hydra's run directory: a new `runs/<new_name>`, or with `resume=auto` the latest run of the same config."""
    if _root_.get("resume") == "auto":
        found = latest_resumable_run(Path(runs), run_fingerprint(_root_))
        if found is not None:
            return str(found)
    return str(Path(runs) / new_name)


def mark_run(output_dir: Path, cfg: DictConfig) -> None:
    """Record the run's fingerprint in its directory, where `resume=auto` looks for it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / FINGERPRINT_FILE).write_text(run_fingerprint(cfg) + "\n")
