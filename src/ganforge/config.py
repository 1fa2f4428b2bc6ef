"""OmegaConf resolvers the configs use; registered once by every entry point (and the tests)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from omegaconf import ListConfig, OmegaConf

from ganforge.data.folder import class_folders
from ganforge.errors import ConfigError
from ganforge.resume import run_directory


def best_precision() -> str:
    """bf16 mixed precision where the device computes in bf16 natively (recent GPUs; CPUs with AVX-512 BF16 or
    AMX), otherwise full fp32: emulated bf16 on an older CPU is slower than fp32."""
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return "bf16-mixed" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "32-true"


def labelled_classes(class_names: Sequence[str]) -> int:
    """The number of classes a conditional model draws from; an error for an unlabelled dataset."""
    if not class_names:
        raise ConfigError("this model is conditional and needs a labelled dataset: choose data=fashion, data=mnist, "
                          "data=cifar10, or data=folder with one subfolder per class")
    return len(class_names)


def class_count(class_names: Sequence[str]) -> int:
    """The number of classes of a dataset, 0 when it is unlabelled (for what works either way, e.g. the evaluation)."""
    return len(class_names)


def class_folder_names(path: str) -> ListConfig:
    """The class folders of an image folder, as a config list: a plain list in a config that is copied and resolved
    again (e.g. `data_config: ${data}` of a callback) is refused by OmegaConf."""
    return ListConfig(class_folders(path))


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("ganforge.precision", best_precision, replace=True)
    OmegaConf.register_new_resolver("ganforge.cuda", torch.cuda.is_available, replace=True)
    OmegaConf.register_new_resolver("ganforge.num_classes", labelled_classes, replace=True)
    OmegaConf.register_new_resolver("ganforge.class_count", class_count, replace=True)
    OmegaConf.register_new_resolver("ganforge.class_folders", class_folder_names, replace=True)
    OmegaConf.register_new_resolver("ganforge.run_dir", run_directory, replace=True)
