"""generate.py: samples of a checkpoint's generator written out as PNG files and one .npz (points: the .npz only)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from ganforge.checkpoint import HOW_TO_FIND, load_gan
from ganforge.cli import check_writable_folder
from ganforge.data.base import balanced_labels
from ganforge.errors import CheckpointError, ConfigError, GanforgeError, one_line
from ganforge.models.base import GAN
from ganforge.sampling import draw_noise, render

log = logging.getLogger(__name__)

NPZ_NAME = "samples.npz"


def resolve_device(name: str) -> torch.device:
    """`auto` is the GPU when there is one, else the CPU; anything else is a torch device name this machine has."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"device={name!r} is not a device; use auto, cpu or cuda") from err
    try:
        torch.empty(0, device=device)  # torch names devices a machine may lack (cuda without a GPU)
    except (RuntimeError, AssertionError) as err:
        raise ConfigError(f"device={name} is not available on this machine ({one_line(err)}); use device=auto or "
                          f"device=cpu") from err
    return device


def check_sample_count(key: str, n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"{key} must be a positive number of samples, got {n!r}")


def load_generator(ckpt: str | None, device: torch.device) -> tuple[GAN, dict[str, Any]]:
    """The checkpoint's GAN on `device`, in eval mode, and its recorded config."""
    if not ckpt:
        raise CheckpointError(f"no checkpoint given: add ckpt=PATH; {HOW_TO_FIND}")
    gan, record = load_gan(ckpt)
    return gan.to(device), record


def data_config_here(recorded: dict[str, Any], local: Mapping[str, Any] | None) -> dict[str, Any]:
    """The checkpoint's data config with this machine's data locations, from `local` (the entry point's `data:`
    block: this machine's config and command line; null means not given).

    A checkpoint may come from another machine, and names places there. Places only read (a folder's `path`,
    `search_dirs`) are the checkpoint's unless given here. Places written to are never the checkpoint's: `root`
    (where a dataset is looked for first and downloaded to) and `cache_dir` (decoded pictures) come from here; the
    recorded root is still searched, after the others. Without a local root nothing is downloaded; without a local
    cache_dir, or when the checkpoint's run cached nothing, nothing is cached. Only keys the recorded config has
    are taken (other datasets have other settings).
    """
    given = {key: value for key, value in (local or {}).items() if value is not None and key in recorded}
    config = {**recorded, **given}
    if "cache_dir" in recorded and (recorded["cache_dir"] is None or "cache_dir" not in given):
        config["cache_dir"] = None  # a run that cached no copy of its pictures caches none here either
    if "root" in recorded and "root" not in given and "download" in recorded:
        config["download"] = False  # no local root: the recorded one is read, nothing is written there
    elif "root" in recorded and config["root"] != recorded["root"]:
        config["search_dirs"] = [*config.get("search_dirs", []), recorded["root"]]
    return config


def requested_labels(label: Any, n: int, gan: GAN, class_names: Sequence[str]) -> torch.Tensor | None:
    """The labels to draw: None for an unconditional model; every class equally (`all`) or one class by index or name."""
    if not gan.conditional:
        if label not in ("all", None):
            raise ConfigError(f"label={label}: this model is unconditional and draws no classes; leave label=all")
        return None
    if label in ("all", None):
        return balanced_labels(n, len(class_names))
    if isinstance(label, str) and label in class_names:
        index = list(class_names).index(label)
    elif isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(class_names):
        index = label
    else:
        raise ConfigError(
            f"label={label} is not a class of this dataset; use label=all, an index 0–{len(class_names) - 1}, "
            f"or a name: {', '.join(class_names)}"
        )
    return torch.full((n,), index, dtype=torch.long)


def folder_name(class_name: str) -> str:
    """A class name fit for a folder name ("T-shirt/top" → "T-shirt-top")."""
    return re.sub(r"[^\w\-]+", "-", class_name).strip("-") or "class"


def png_files(out: Path, n: int, labels: torch.Tensor | None, class_names: Sequence[str]) -> list[Path]:
    """Where each of `n` images goes: `out/00000.png`…, in one folder per class for labelled samples."""
    if labels is None:
        return [out / f"{index:05d}.png" for index in range(n)]
    return [out / folder_name(class_names[int(label)]) / f"{index:05d}.png" for index, label in enumerate(labels)]


def check_nothing_overwritten(files: Sequence[Path]) -> None:
    """A GanforgeError when any of `files` (or a folder they go into) is already there: a user's files are never
    overwritten, and nothing is written unless everything can be."""
    taken = sorted({path for path in files if path.exists() or path.is_symlink()}
                   | {path.parent for path in files if path.parent.exists() and not path.parent.is_dir()})
    if taken:
        raise GanforgeError(f"{taken[0]} already exists ({len(taken)} of the files to write do); nothing was written: "
                            f"choose another out=DIR or move them away")


def write_samples(out: Path, samples: torch.Tensor, labels: torch.Tensor | None, pngs: Sequence[Path]) -> Path:
    """Images as the PNG files `pngs` and `samples.npz` with `images` (and `labels`); points (no `pngs`) as
    `samples.npz` with `points` only."""
    for path, image in zip(pngs, samples):
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).squeeze(-1).numpy()).save(path)
    if not pngs:
        arrays = {"points": samples.float().numpy()}
    else:
        arrays = {"images": (samples[:, 0] if samples.shape[1] == 1 else samples).numpy()}  # N×H×W for grayscale
    if labels is not None:
        arrays["labels"] = labels.numpy()
    np.savez_compressed(out / NPZ_NAME, **arrays)
    return out / NPZ_NAME


def generate(cfg: DictConfig) -> Path:
    """Draw `cfg.n` samples of `cfg.label` from `cfg.ckpt` and write them to `cfg.out` (refusing to overwrite any
    file there); return the .npz path."""
    check_sample_count("n", cfg.n)
    out = Path(cfg.out)
    gan, record = load_generator(cfg.ckpt, resolve_device(cfg.device))
    datamodule = instantiate(data_config_here(record["data"], OmegaConf.to_container(cfg.data, resolve=True)))
    labels = requested_labels(cfg.label, cfg.n, gan, datamodule.class_names)
    pngs = png_files(out, cfg.n, labels, datamodule.class_names) if datamodule.holds_images else []
    check_writable_folder(out, "out")
    check_nothing_overwritten([*pngs, out / NPZ_NAME])
    samples = render(gan, datamodule.to_data_space, draw_noise(gan, cfg.n, cfg.seed), labels, cfg.batch_size)
    npz = write_samples(out, samples, labels, pngs)
    log.info("Wrote %d samples to %s (%s%s)", cfg.n, out, "PNG files and " if pngs else "", npz.name)
    return npz
