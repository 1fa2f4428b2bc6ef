"""OmegaConf resolvers the configs use; registered once by every entry point (and the tests)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from omegaconf import OmegaConf

from ganforge.data.folder import class_folders
from ganforge.errors import ConfigError


def best_precision() -> str:
    """bf16 mixed precision where the GPU supports it, otherwise full fp32 (the CPU gains nothing from bf16)."""
    return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"


def labelled_classes(class_names: Sequence[str]) -> int:
    """The number of classes a conditional model draws from; an error for an unlabelled dataset."""
    if not class_names:
        raise ConfigError("this model is conditional and needs a labelled dataset: choose data=fashion, data=mnist or data=folder")
    return len(class_names)


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("ganforge.precision", best_precision, replace=True)
    OmegaConf.register_new_resolver("ganforge.cuda", torch.cuda.is_available, replace=True)
    OmegaConf.register_new_resolver("ganforge.num_classes", labelled_classes, replace=True)
    OmegaConf.register_new_resolver("ganforge.class_folders", class_folders, replace=True)
