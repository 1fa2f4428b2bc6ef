"""Reading ganforge checkpoints safely, and rebuilding what they were trained with."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, TypeVar
from zipfile import BadZipFile

import torch
from hydra.utils import instantiate

from ganforge.callbacks.record_config import CONFIG_KEY
from ganforge.errors import CheckpointError, one_line
from ganforge.models.base import GAN

M = TypeVar("M", bound=torch.nn.Module)

HOW_TO_FIND = "pass the .ckpt of a training run, e.g. logs/train/runs/<time>/checkpoints/last.ckpt"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, loaded without executing pickled code (`weights_only=True`)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}; {HOW_TO_FIND}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, BadZipFile, ValueError) as err:
        raise CheckpointError(f"cannot read checkpoint {path} ({one_line(err)}); it is corrupt or not a checkpoint") from err
    if not isinstance(checkpoint, dict) or CONFIG_KEY not in checkpoint or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a ganforge checkpoint (it records no ganforge config); {HOW_TO_FIND}")
    return checkpoint


def recorded_config(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The `model` and `data` configs (and Hydra choices) the checkpoint's run was composed from."""
    return checkpoint[CONFIG_KEY]


def load_module(path: str | Path, kind: type[M]) -> tuple[M, dict[str, Any]]:
    """The module of a checkpoint, weights loaded, in eval mode on the CPU; and its recorded config.

    `kind` is what the caller can use (a GAN, a classifier); a checkpoint of anything else is an error.
    """
    checkpoint = read_checkpoint(path)
    record = recorded_config(checkpoint)
    model = instantiate(record["model"])
    if not isinstance(model, kind):
        raise CheckpointError(f"{path} holds a {type(model).__name__}, not a {kind.__name__}; {HOW_TO_FIND}")
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(f"{path}: its weights do not fit its recorded model config ({one_line(err)})") from err
    return model.eval(), record


def load_gan(path: str | Path) -> tuple[GAN, dict[str, Any]]:
    """The GAN of a checkpoint, weights loaded, in eval mode on the CPU; and its recorded config."""
    return load_module(path, GAN)
