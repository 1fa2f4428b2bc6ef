"""Reading ganforge checkpoints safely, and rebuilding what they were trained with.

A checkpoint is untrusted input: people download them. It is loaded as tensors and plain containers only
(`weights_only=True`), and the configs recorded in it are checked before anything is built from them:
every `_target_` must name one of the project's own classes or a torch optimizer it uses (an allow-list of
exact names, compared before anything is imported), and nothing may be interpolated or called otherwise.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterable, Mapping
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

# The torch optimizers a recorded config may name; they are the only targets built as partials.
TRUSTED_OPTIMIZERS: tuple[type, ...] = (torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, torch.optim.SGD)
# The Hydra keys a recorded config may use: `_partial_` only on an optimizer, nothing else.
ALLOWED_SPECIAL_KEYS = {"_target_", "_partial_"}
RECORD_SECTIONS = ("model", "data", "choices")
# How torch's weights-only unpickler names a global it refused to load (e.g. posix.system).
PICKLED_CALL = re.compile(r"unsupported GLOBAL (\S+)")
# Packages whose exported classes (their `__all__`) may be built from a checkpoint's config.
TRUSTED_PACKAGES = ("ganforge.nets", "ganforge.losses", "ganforge.augment", "ganforge.models", "ganforge.data")


def dotted_names(cls: type, *aliases: str) -> set[str]:
    """The `_target_` strings that name `cls`: its defining module's path and each re-exporting package's."""
    return {f"{cls.__module__}.{cls.__qualname__}", *(f"{alias}.{cls.__name__}" for alias in aliases)}


def trusted_targets() -> frozenset[str]:
    """Every `_target_` a recorded config may name: the classes the project's packages export, and the optimizers."""
    import importlib

    names: set[str] = set()
    for package_name in TRUSTED_PACKAGES:
        package = importlib.import_module(package_name)
        for export in getattr(package, "__all__", ()):
            member = getattr(package, export)
            if isinstance(member, type):
                names |= dotted_names(member, package_name)
    return frozenset(names | optimizer_targets())


def optimizer_targets() -> frozenset[str]:
    """The `_target_` strings of the trusted optimizers, the only targets built as partials."""
    return frozenset(name for optimizer in TRUSTED_OPTIMIZERS for name in dotted_names(optimizer, "torch.optim"))


def untrusted_parts(config: Any, allowed: frozenset[str], where: str = "") -> Iterable[str]:
    """What in a recorded config could run code it should not, each as `<key path>: <reason>`."""
    if isinstance(config, Mapping):
        target = config.get("_target_")
        if target is not None and (not isinstance(target, str) or target not in allowed):
            yield f"{where}._target_: {target!r} is not one of ganforge's classes"
        if config.get("_partial_") and target not in optimizer_targets():
            yield f"{where}._partial_: only optimizers are built as partials"
        for key, value in config.items():
            if not isinstance(key, str):
                yield f"{where}: key {key!r} is not a string"
            elif key.startswith("_") and key.endswith("_") and key not in ALLOWED_SPECIAL_KEYS:
                yield f"{where}.{key}: Hydra's {key} is not allowed in a checkpoint"
            else:
                yield from untrusted_parts(value, allowed, f"{where}.{key}")
    elif isinstance(config, (list, tuple)):
        for index, value in enumerate(config):
            yield from untrusted_parts(value, allowed, f"{where}[{index}]")
    elif isinstance(config, str):
        if "${" in config:  # an interpolation would be resolved (and could call a resolver) when built
            yield f"{where}: {config!r} is an interpolation"
    elif config is not None and not isinstance(config, (bool, int, float)):
        yield f"{where}: a {type(config).__name__} is not a config value"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, loaded without executing pickled code (`weights_only=True`), its record checked."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}; {HOW_TO_FIND}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, BadZipFile, ValueError, OSError) as err:
        code = PICKLED_CALL.search(str(err))
        if code:
            raise CheckpointError(f"refusing {path}: it holds pickled code ({code[1]}) that would run when loaded; "
                                  f"use checkpoints made by ganforge's train.py only") from err
        raise CheckpointError(f"cannot read checkpoint {path}; it is corrupt or not a checkpoint") from err
    if not isinstance(checkpoint, dict) or CONFIG_KEY not in checkpoint or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a ganforge checkpoint (it records no ganforge config); {HOW_TO_FIND}")
    check_record(checkpoint[CONFIG_KEY], path)
    check_weights(checkpoint["state_dict"], path)
    return checkpoint


def check_weights(state_dict: Any, path: Path) -> None:
    """A CheckpointError unless `state_dict` maps names to tensors whose floating-point values are all finite: NaN or
    infinite weights draw black images that would still be measured, and resume into nothing but NaNs."""
    if not isinstance(state_dict, Mapping) or not all(isinstance(t, torch.Tensor) for t in state_dict.values()):
        raise CheckpointError(f"{path} is not a ganforge checkpoint (its state_dict is not a set of tensors); {HOW_TO_FIND}")
    broken = [name for name, tensor in state_dict.items()
              if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise CheckpointError(f"refusing {path}: {len(broken)} of its weights hold NaN or infinite values (first: "
                              f"{broken[0]}), so its training diverged; use an earlier checkpoint of the run or train "
                              f"again (e.g. with lower learning rates)")


def check_record(record: Any, path: Path) -> None:
    """A CheckpointError unless `record` is a well-formed config record naming only trusted classes."""
    if not isinstance(record, dict) or not all(isinstance(record.get(key), dict) for key in RECORD_SECTIONS):
        raise CheckpointError(f"{path} has a malformed ganforge record (it needs {', '.join(RECORD_SECTIONS)}); "
                              f"retrain it with train.py; {HOW_TO_FIND}")
    problems = list(untrusted_parts({key: record[key] for key in RECORD_SECTIONS}, trusted_targets()))
    if problems:
        raise CheckpointError(f"refusing {path}: its recorded config could run code ({problems[0]}"
                              f"{f' and {len(problems) - 1} more' if len(problems) > 1 else ''}); use checkpoints "
                              f"made by ganforge's train.py only")


def recorded_config(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The `model` and `data` configs (and Hydra choices) the checkpoint's run was composed from (checked on reading)."""
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
