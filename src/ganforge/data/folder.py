"""Your own pictures: a folder decoded once into one uint8 tensor, cached by the folder's content."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ganforge.data.images import ImageDataModule
from ganforge.data.pictures import DEFAULT_MAX_PIXELS, TOO_LARGE, UNREADABLE, decode_picture, pixel_limit
from ganforge.errors import ConfigError, DataError, one_line

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Part of every cache key: raise it whenever decoding changes, so caches of the old decoding are not reused.
DECODING_VERSION = 1


def _visible(relative: Path) -> bool:
    """Hidden files and folders (".thumbnails", macOS's "._IMG_1.jpg" companions) are not pictures of the set."""
    return not any(part.startswith(".") for part in relative.parts)


def image_files(folder: Path) -> list[Path]:
    """Every picture under `folder` (by suffix, any depth, hidden ones left out), in a fixed order."""
    return sorted(
        path for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and _visible(path.relative_to(folder)) and path.is_file()
    )


def class_folders(path: str | Path) -> list[str]:
    """The first-level subfolders of `path` holding pictures: the classes of a labelled image folder."""
    root = Path(path)
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and _visible(Path(d.name)) and image_files(d))


@dataclass(frozen=True)
class FolderContent:
    """The pictures of a folder with their labels, and a key naming exactly these files as they are now."""

    root: Path
    files: tuple[Path, ...]
    labels: tuple[int, ...]

    @classmethod
    def scan(cls, root: Path, class_names: Sequence[str]) -> FolderContent:
        """The pictures under `root`, labelled by their class subfolder when there are `class_names`."""
        if not root.is_dir():
            raise DataError(f"image folder {root} does not exist; set data.path to a folder of images")
        files = image_files(root)
        if not class_names:
            return cls(root, tuple(files), (0,) * len(files))
        label_of = {name: label for label, name in enumerate(class_names)}
        labelled = [(file, label_of.get(file.relative_to(root).parts[0])) for file in files]
        labelled = [(file, label) for file, label in labelled if label is not None and file.parent != root]
        if len(labelled) < len(files):
            log.warning("%d pictures under %s are not in one of its class folders (%s) and are left out",
                        len(files) - len(labelled), root, ", ".join(class_names))
        return cls(root, tuple(f for f, _ in labelled), tuple(label for _, label in labelled))

    def key(self, settings: dict) -> str:
        """A digest of every file's relative path, size, modification time and label, and of `settings`."""
        header = {"version": DECODING_VERSION, "settings": settings}
        digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
        for file, label in zip(self.files, self.labels):
            stat, name = file.stat(), file.relative_to(self.root).as_posix()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{label}\n".encode())
        return digest.hexdigest()


@dataclass
class DecodedFolder:
    """A folder's readable pictures as one N×C×H×W uint8 tensor, their labels, and the files that were skipped."""

    images: torch.Tensor
    labels: torch.Tensor
    skipped: list[str]

    def save(self, path: Path) -> None:
        """Written to a temporary file beside `path`, then renamed: a crash never leaves half a cache."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        try:
            torch.save({"images": self.images, "labels": self.labels, "skipped": self.skipped}, temporary)
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, shape: Sequence[int]) -> DecodedFolder | None:
        """The cache at `path` (tensors only, never pickled code), or None when it is missing or not a valid cache."""
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            decoded = cls(saved["images"], saved["labels"], [str(name) for name in saved["skipped"]])
        except FileNotFoundError:
            return None
        except Exception as err:  # noqa: BLE001 - whatever is wrong with a cache, it is rebuilt
            log.warning("ignoring the unreadable image cache %s (%s); decoding the folder again", path, one_line(err))
            return None
        valid = (
            isinstance(decoded.images, torch.Tensor) and decoded.images.dtype == torch.uint8
            and tuple(decoded.images.shape[1:]) == tuple(shape)
            and isinstance(decoded.labels, torch.Tensor) and decoded.labels.dtype == torch.long
            and decoded.labels.shape == (len(decoded.images),)
        )
        if not valid:
            log.warning("ignoring the malformed image cache %s; decoding the folder again", path)
            return None
        return decoded


def decode_folder(
    content: FolderContent, shape: Sequence[int], background: Sequence[int], max_pixels: int | None
) -> DecodedFolder:
    """Every picture of `content` decoded to `shape`, each unreadable one skipped with a warning.

    A progress bar shows on a terminal.
    """
    images = torch.empty((len(content.files), *shape), dtype=torch.uint8)
    kept: list[int] = []
    skipped: list[str] = []
    progress = tqdm(content.files, desc=f"decoding {content.root}", unit="image", disable=None, leave=False)
    with pixel_limit(max_pixels):
        for index, file in enumerate(progress):
            try:
                images[len(kept)] = decode_picture(file, shape, background)
            except TOO_LARGE:
                reason = f"more than data.max_image_pixels={max_pixels} pixels (a decompression-bomb guard)"
            except UNREADABLE as err:
                reason = f"not a readable picture ({one_line(err)})"
            else:
                kept.append(index)
                continue
            log.warning("skipping %s: %s", file, reason)
            skipped.append(f"{file.relative_to(content.root).as_posix()}: {reason}")
    labels = torch.tensor([content.labels[i] for i in kept], dtype=torch.long)
    return DecodedFolder(images[: len(kept)].clone(), labels, skipped)


class ImageFolderDataModule(ImageDataModule):
    """Your own pictures: every image under `path`, centre-cropped and resized to `sample_shape`.

    With one subfolder per class the images are labelled (conditional models can use them). A fixed
    random `test_fraction` of them (at least one image when it is above 0) is the test split.

    Decoding happens once: the decoded tensor is cached in `cache_dir` (never inside `path`), under a
    key of every file's relative path, size and modification time and of the decoding settings, so a
    changed folder or setting is decoded afresh. `cache_dir` None decodes every time. Files that are
    not readable pictures, or larger than `max_image_pixels` (a decompression-bomb guard; None: no
    limit), are skipped with a warning each; transparent pictures are flattened onto `background`.
    """

    def __init__(
        self,
        path: str,
        class_names: Sequence[str] = (),
        sample_shape: Sequence[int] = (3, 64, 64),
        test_fraction: float = 0.1,
        cache_dir: str | None = None,
        max_image_pixels: int | None = DEFAULT_MAX_PIXELS,
        background: Sequence[int] = (255, 255, 255),
        **loader_options,
    ) -> None:
        super().__init__(sample_shape=sample_shape, **loader_options)
        if not 0.0 <= test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must be in [0, 1), got {test_fraction}")
        if len(self.sample_shape) != 3 or self.sample_shape[0] not in (1, 3) or min(self.sample_shape) < 1:
            raise ConfigError(f"data.sample_shape must be [1 or 3, height, width], got {list(self.sample_shape)}")
        if max_image_pixels is not None and max_image_pixels < 1:
            raise ConfigError(f"data.max_image_pixels must be a positive pixel count or null, got {max_image_pixels}")
        if len(background) != 3 or not all(0 <= value <= 255 for value in background):
            raise ConfigError(f"data.background must be an RGB colour [r, g, b] of 0-255, got {list(background)}")
        self.path, self.test_fraction = Path(path), test_fraction
        self.cache_dir = Path(cache_dir) if cache_dir else None
        if self.cache_dir and self.cache_dir.resolve().is_relative_to(self.path.resolve()):
            raise ConfigError(f"data.cache_dir={self.cache_dir} is inside data.path={self.path}: a cache never "
                              f"writes among the pictures; keep the default ${{paths.data_dir}}/cache/folders")
        self.max_image_pixels, self.background = max_image_pixels, tuple(int(v) for v in background)
        self.class_names = tuple(class_names)
        self.num_classes = len(self.class_names)
        self._splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def cache_file(self, content: FolderContent) -> Path | None:
        """Where the decoded `content` is cached: named after the folder and the key of its content and settings."""
        if self.cache_dir is None:
            return None
        settings = {"sample_shape": list(self.sample_shape), "class_names": list(self.class_names),
                    "background": list(self.background), "max_image_pixels": self.max_image_pixels}
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", self.path.resolve().name)[:40] or "folder"
        return self.cache_dir / f"{name}-{content.key(settings)[:24]}.pt"

    def read(self) -> DecodedFolder:
        """The folder's pictures: from the cache when the files and settings are unchanged, else decoded and cached."""
        content = FolderContent.scan(self.path, self.class_names)
        if not content.files:
            raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {self.path}; "
                            f"set data.path to a folder of images")
        cache = self.cache_file(content)
        decoded = DecodedFolder.load(cache, self.sample_shape) if cache else None
        if decoded is not None:
            log.info("read %d pictures of %s from its cache %s", len(decoded.images), self.path, cache)
            if decoded.skipped:
                log.warning("%d files under %s were skipped when it was decoded (first: %s); delete %s to retry",
                            len(decoded.skipped), self.path, decoded.skipped[0], cache)
            return decoded
        decoded = decode_folder(content, self.sample_shape, self.background, self.max_image_pixels)
        if decoded.skipped:
            log.warning("skipped %d of the %d files under %s (see the warnings above)",
                        len(decoded.skipped), len(content.files), self.path)
        if not len(decoded.images):
            raise DataError(f"none of the {len(content.files)} image files under {self.path} could be read; "
                            f"set data.path to a folder of PNG, JPEG, WebP or BMP pictures")
        if cache:
            try:
                decoded.save(cache)
            except OSError as err:  # a read-only data folder costs speed on the next run, nothing else
                log.warning("could not cache the decoded pictures in %s (%s); they are decoded again next time",
                            cache.parent, one_line(err))
        return decoded

    def load(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_split(split)
        if not self._splits:
            decoded = self.read()
            count = len(decoded.images)
            order = torch.randperm(count, generator=torch.Generator().manual_seed(0))
            # Any positive fraction holds out at least one picture, and at least one stays for training.
            n_test = min(math.ceil(count * self.test_fraction), count - 1)
            self._splits = {"test": (decoded.images[order[:n_test]], decoded.labels[order[:n_test]]),
                            "train": (decoded.images[order[n_test:]], decoded.labels[order[n_test:]])}
        images, labels = self._splits[split]
        if not len(images):
            raise DataError(f"the {split} split of {self.path} is empty (data.test_fraction={self.test_fraction} of "
                            f"{sum(len(i) for i, _ in self._splits.values())} readable pictures); set "
                            f"data.test_fraction above 0, or add pictures, to hold some out for evaluation")
        return images, labels
