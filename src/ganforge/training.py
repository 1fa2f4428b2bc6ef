"""One training run from a composed config: build the objects, fit, report the optimised metric."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.utilities.exceptions import MisconfigurationException, SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict

from ganforge.callbacks import RecordConfig
from ganforge.checkpoint import read_checkpoint, recorded_config
from ganforge.errors import ConfigError, one_line
from ganforge.resume import LAST_CHECKPOINT, mark_run
from ganforge.runtime import keep_freed_memory
from ganforge.sweeps import Requeue, check_optimized_metric

log = logging.getLogger(__name__)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config as `a/b/c: value` pairs, the form TensorBoard's hyper-parameter tab shows."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}/")
        else:
            flat[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat


def epochs_trained(checkpoint: dict[str, Any]) -> int | None:
    """The epochs a Lightning checkpoint has gone through (a checkpoint saved mid-epoch does not count that one);
    None when it does not say."""
    try:
        done = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
    except (KeyError, TypeError):
        return None
    return done if isinstance(done, int) else None


def check_epochs_left(checkpoint: dict[str, Any], max_epochs: int, path: str) -> None:
    """A ConfigError when resuming `checkpoint` with `max_epochs` would train nothing (Lightning stops at once)."""
    done = epochs_trained(checkpoint)
    if done is not None and max_epochs != -1 and max_epochs <= done:
        raise ConfigError(f"{path} has already trained {done} epoch(s), so trainer.max_epochs={max_epochs} leaves "
                          f"nothing to train; set trainer.max_epochs above {done} to go on")


def adopt_checkpoint_settings(cfg: DictConfig, choices: dict[str, str]) -> None:
    """A resumed run continues the checkpoint's own model and data, whatever the command line chose."""
    checkpoint = read_checkpoint(cfg.ckpt_path)
    check_epochs_left(checkpoint, cfg.trainer.max_epochs, cfg.ckpt_path)
    record = recorded_config(checkpoint)
    with open_dict(cfg):
        cfg.model, cfg.data = record["model"], record["data"]
    for group in ("model", "data"):
        choices[group] = record["choices"].get(group)
    log.info("Resuming %s (model=%s, data=%s)", cfg.ckpt_path, choices["model"], choices["data"])


def apply_run_settings(cfg: DictConfig) -> None:
    """Check and apply what the run itself (not a model or dataset) is told: threads, memory, seed."""
    max_epochs = cfg.trainer.get("max_epochs")
    if not isinstance(max_epochs, int) or isinstance(max_epochs, bool) or (max_epochs < 1 and max_epochs != -1):
        raise ConfigError(f"trainer.max_epochs must be a positive number of epochs (or -1: until trainer.max_steps), "
                          f"got {max_epochs!r} (0 would train nothing)")
    if cfg.trainer.get("gradient_clip_val"):
        raise ConfigError("trainer.gradient_clip_val does not apply to manual optimization; set model.gradient_clip_val")
    threads = cfg.get("torch_threads")
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"torch_threads must be a positive number of CPU threads or null, got {threads}")
        torch.set_num_threads(threads)
    keep = cfg.get("keep_freed_memory", True)
    if not isinstance(keep, bool):
        raise ConfigError(f"keep_freed_memory must be true or false, got {keep!r}")
    keep_freed_memory(keep)
    if torch.cuda.is_available():  # TF32 matrix products on GPUs that have them (Ampere on): fp32 weights, faster maths
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    L.seed_everything(cfg.seed, workers=True, verbose=False)


def build_trainer(config: DictConfig, callbacks: list[L.Callback], loggers: list[Any]) -> L.Trainer:
    """The configured Trainer; settings this machine cannot run (e.g. trainer=gpu without a GPU) are a ConfigError."""
    if config.get("enable_progress_bar") is False:  # Lightning refuses the configured bar beside this switch: drop it
        callbacks = [callback for callback in callbacks if not isinstance(callback, ProgressBar)]
    try:
        return instantiate(config, callbacks=callbacks, logger=loggers)
    except InstantiationException as err:
        if not isinstance(err.__cause__, MisconfigurationException):
            raise
        raise ConfigError(f"the trainer settings cannot run here: {one_line(err.__cause__)} (trainer=cpu runs on any "
                          f"machine; trainer=gpu needs a CUDA GPU)") from err


def continue_own_run(cfg: DictConfig) -> None:
    """With `resume=auto`, a run directory that already holds a last checkpoint is continued from it."""
    resume = cfg.get("resume")
    if resume not in (None, "auto"):
        raise ConfigError(f"resume must be auto or null, got {resume!r} (to continue a given checkpoint: ckpt_path=PATH)")
    last = Path(cfg.paths.output_dir) / LAST_CHECKPOINT
    if resume == "auto" and not cfg.ckpt_path and last.is_file():
        cfg.ckpt_path = str(last)


def train(cfg: DictConfig) -> float | None:
    """Fit the configured module; return `cfg.optimized_metric` when a sweep asks for one."""
    choices = dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}
    continue_own_run(cfg)
    apply_run_settings(cfg)
    if cfg.ckpt_path:
        adopt_checkpoint_settings(cfg, choices)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    datamodule.setup("fit")  # a missing dataset fails here, before the trainer writes anything
    model: L.LightningModule = instantiate(cfg.model)

    resolved = OmegaConf.to_container(cfg, resolve=True)
    callbacks = [instantiate(c) for c in cfg.get("callbacks", {}).values()]
    check_optimized_metric(cfg.get("optimized_metric"), callbacks)
    callbacks.append(RecordConfig(resolved["model"], resolved["data"], choices))
    loggers = [instantiate(c) for c in cfg.get("logger", {}).values()]
    trainer = build_trainer(cfg.trainer, callbacks, loggers)
    mark_run(Path(cfg.paths.output_dir), cfg)
    for logger in loggers:
        logger.log_hyperparams(flatten(resolved))

    requeue = Requeue()
    try:
        with requeue:
            trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
    except SIGTERMException as stop:
        requeue.submit()
        # Lightning exits with status 0 on SIGTERM; a cluster must not record the run as finished.
        raise SystemExit(128 + signal.SIGTERM) from stop

    metric = cfg.get("optimized_metric")
    if metric and metric in trainer.callback_metrics:
        return trainer.callback_metrics[metric].item()
    return None
