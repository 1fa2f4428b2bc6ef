"""Shared fixtures: synthetic IDX datasets, config composition, and the project's paths."""

from __future__ import annotations

import gzip
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from ganforge.config import register_resolvers

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist-t10k"
FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")

os.environ["PROJECT_ROOT"] = str(ROOT)
register_resolvers()

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs a worker per core: each computes on one thread, and so do the entry points it starts,
    # since workers on all threads each stall one another (oversubscription).
    import torch

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def write_idx(path: Path, array: np.ndarray, compress: bool) -> Path:
    """An IDX file (uint8) as MNIST ships it."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path = path.with_name(path.name + ".gz") if compress else path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def make_idx_dataset(folder: Path, n_train: int = 256, n_test: int = 64, compress: bool = True, seed: int = 0) -> Path:
    """Synthetic 28×28 digits: class k is a bright horizontal bar at row 2k+4 over faint noise."""
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, size=(n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 * label + 4 : 2 * label + 7, 4:24] = 230
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, compress)
    return folder


def data_overrides(data_root: Path) -> list[str]:
    """Command-line overrides that point an IDX dataset config at `data_root` and nowhere else."""
    return [f"data.root={data_root}", "data.search_dirs=[]", "data.download=false"]


def path_overrides(base: Path) -> list[str]:
    """Logs and data caches (classifiers, torch-fidelity statistics) under `base`, never in the project."""
    return [f"paths.log_dir={base / 'logs'}", f"paths.data_dir={base / 'data'}"]


@pytest.fixture(scope="session")
def idx_root(tmp_path_factory) -> Path:
    """A folder of synthetic gzip-compressed IDX files in MNIST's layout."""
    return make_idx_dataset(tmp_path_factory.mktemp("idx"))


def make_image_folder(folder: Path, classes: Sequence[str] = ("cats", "dogs"), per_class: int = 12) -> Path:
    """PNG pictures of varied sizes, one subfolder per class (class k is mostly colour k)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            size = (int(rng.integers(40, 90)), int(rng.integers(40, 90)))
            pixels = rng.integers(0, 60, size=(size[1], size[0], 3)).astype(np.uint8)
            pixels[..., k % 3] += 180
            Image.fromarray(pixels).save(folder / name / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("pictures"))


def load_script(name: str) -> ModuleType:
    """A module of scripts/ (not a package), e.g. make_scenes; it may import its neighbours as the scripts do."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.append(str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_scenes = load_script("make_scenes").make_scenes  # outdoor scenes of four classes, with an up and a down


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory) -> Path:
    """A weights file of torch-fidelity's own InceptionV3 architecture, randomly initialised (no download)."""
    import torch
    from torch import nn
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from ganforge.evaluation.inception import WEIGHTS_NAME

    class RandomInception(FeatureExtractorInceptionV3):
        """torch-fidelity's InceptionV3 that keeps its random initialisation instead of loading weights."""

        def load_state_dict(self, state_dict, strict=True, assign=False):
            return None

    folder = tmp_path_factory.mktemp("inception")
    torch.save({}, folder / "nothing.pt")
    torch.manual_seed(0)
    model = RandomInception("inception", ["2048"], feature_extractor_weights_path=str(folder / "nothing.pt"))
    for layer in model.modules():  # variance-preserving, so 90 random layers still tell images apart
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    torch.save(model.state_dict(), folder / WEIGHTS_NAME)
    return folder / WEIGHTS_NAME


def make_cifar_binary(root: Path, per_file: int = 20) -> Path:
    """CIFAR-10's binary version in miniature: record i has label i % 10, red = 20·label, green 100, blue 200."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = np.arange(per_file) % 10
        planes = np.stack([np.broadcast_to(value, (per_file, 1024)) for value in (20 * labels[:, None], 100, 200)], 1)
        records = np.concatenate([labels[:, None], planes.reshape(per_file, 3072)], axis=1).astype(np.uint8)
        (folder / name).write_bytes(records.tobytes())
    return root


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory) -> Path:
    return make_cifar_binary(tmp_path_factory.mktemp("cifar"), per_file=60)  # 300 training pictures, 60 test


@pytest.fixture
def compose_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose `conf/train.yaml` (or another entry config) as Hydra would, writing into `tmp_path`."""

    def _compose(overrides: Sequence[str] = (), config_name: str = "train") -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
            cfg = compose(config_name=config_name, return_hydra_config=True, overrides=list(overrides))
        HydraConfig().set_config(cfg)
        with open_dict(cfg):
            del cfg.hydra  # a job's config does not hold Hydra's own; HydraConfig.get() serves it
            cfg.paths.output_dir = str(tmp_path)
            cfg.paths.log_dir = str(tmp_path / "logs")
            cfg.paths.data_dir = str(tmp_path / "data")
        return cfg

    yield _compose
    GlobalHydra.instance().clear()


def run_entry(script: str, *args: str, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run an entry point (train.py, evaluate.py, …) as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def start_entry(script: str, *args: str, base: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start an entry point in the background as a user would; its stderr goes to `base/stderr.txt` (a full pipe
    would block it)."""
    stderr = open(base / "stderr.txt", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, str(ROOT / script), *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=stderr, text=True)


def wait_for(path_glob: str, base: Path, process: subprocess.Popen, timeout: float = 120) -> Path:
    """The first file matching `path_glob` under `base` once it exists; fails if `process` ends first (showing the
    end of `base/stderr.txt`, where the started process writes its errors)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, (base / "stderr.txt").read_text()[-2000:]
        found = sorted(base.glob(path_glob))
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"nothing matched {path_glob} under {base} within {timeout} s")
