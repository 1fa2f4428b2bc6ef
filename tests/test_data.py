"""The IDX and CIFAR-10 readers and their datamodules: where files are found, what batches look like."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from conftest import FASHION_DEBIAN, SHARED_MNIST, make_cifar_binary, make_idx_dataset, write_idx
from ganforge.data import CIFAR10DataModule, IDXDataModule
from ganforge.data.base import balanced_labels
from ganforge.data.idx import read_idx
from ganforge.errors import ConfigError, DataError

DIGITS = [str(d) for d in range(10)]


def datamodule(root: Path, **options) -> IDXDataModule:
    options = {"batch_size": 32, "download": False, **options}
    return IDXDataModule("MNIST", DIGITS, root=str(root), **options)


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips_gzip_and_raw(tmp_path, compress):
    array = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8).numpy()
    path = write_idx(tmp_path / "train-images-idx3-ubyte", array, compress)
    assert torch.equal(read_idx(path), torch.from_numpy(array))


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", torch.zeros(4, 28, 28, dtype=torch.uint8).numpy(), False)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(DataError, match="bad magic number"):
        read_idx(path)
    broken_gzip = tmp_path / "train-labels-idx1-ubyte.gz"
    broken_gzip.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 50)[:20])
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(broken_gzip)


@pytest.mark.parametrize("compress", [True, False])
def test_batches_are_float_in_unit_range_with_labels(tmp_path, compress):
    dm = datamodule(make_idx_dataset(tmp_path, n_train=100, compress=compress))
    dm.setup("fit")
    images, labels = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.shape == (32, 1, 28, 28) and images.dtype == torch.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.min() < -0.5 < 0.5 < images.max()
    assert labels.dtype == torch.int64 and labels.shape == (32,)
    assert len(dm.train_dataloader()) == 100 // 32  # incomplete last batch dropped


def test_split_held_as_one_uint8_tensor_and_round_trips(tmp_path):
    dm = datamodule(make_idx_dataset(tmp_path, n_train=50))
    dm.setup("fit")
    images, labels = dm.train_set.tensors
    assert images.dtype == torch.uint8 and images.shape == (50, 1, 28, 28)
    assert torch.equal(dm.to_data_space(dm.to_model_space(images)), images)
    assert labels.tolist()[:10] == list(range(10))


def test_files_found_in_torchvision_layout_and_search_dirs(tmp_path):
    make_idx_dataset(tmp_path / "root" / "MNIST" / "raw")
    assert len(datamodule(tmp_path / "root").load("test")[0]) == 64
    make_idx_dataset(tmp_path / "system", n_test=32)
    assert len(datamodule(tmp_path / "empty", search_dirs=[str(tmp_path / "system")]).load("test")[0]) == 32


def test_root_may_hold_just_one_split(tmp_path):
    make_idx_dataset(tmp_path, n_train=40, n_test=20)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / name).unlink()
    dm = datamodule(tmp_path, train_split="test", batch_size=8)
    dm.setup("fit")
    assert len(dm.train_set) == 20
    with pytest.raises(DataError, match="train split not found"):
        dm.load("train")


def test_missing_dataset_names_every_way_to_provide_it(tmp_path):
    dm = IDXDataModule("FashionMNIST", DIGITS, root=str(tmp_path), search_dirs=[str(tmp_path / "debian")], download=False)
    with pytest.raises(DataError) as err:
        dm.setup("fit")
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path) in message and "debian" in message and "download" in message


def test_subset_larger_than_the_dataset_is_a_config_error(tmp_path):
    dm = datamodule(make_idx_dataset(tmp_path, n_train=100), subset=5000)
    with pytest.raises(ConfigError, match="data.subset=5000 is more than the 100 samples of the train split"):
        dm.setup("fit")


def test_subset_is_a_fixed_random_sample(tmp_path):
    root = make_idx_dataset(tmp_path, n_train=200)
    first, second = datamodule(root, subset=64), datamodule(root, subset=64)
    first.setup("fit"), second.setup("fit")
    assert len(first.train_set) == 64
    assert torch.equal(first.train_set.tensors[1], second.train_set.tensors[1])
    assert len(set(first.train_set.tensors[1].tolist())) == 10


@pytest.mark.parametrize(
    "options, message",
    [({"batch_size": 0}, "batch_size"), ({"subset": 0}, "subset"), ({"num_workers": -1}, "num_workers"),
     ({"subset": "abc"}, "data.subset must be a positive number"), ({"batch_size": "abc"}, "batch_size")],
)
def test_impossible_loader_settings_are_config_errors(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        datamodule(tmp_path, **options)


def test_batch_larger_than_dataset_is_a_config_error(tmp_path):
    dm = datamodule(make_idx_dataset(tmp_path, n_train=20), batch_size=64)
    with pytest.raises(ConfigError, match="larger than the 20 training samples"):
        dm.setup("fit")


def test_wrong_image_shape_is_reported(tmp_path):
    with pytest.raises(ConfigError, match=r"sample_shape=\[1, 28, 28\]"):
        datamodule(make_idx_dataset(tmp_path), sample_shape=[1, 32, 32]).load("test")


def test_balanced_labels_give_one_row_per_class():  # e.g. the preview batch of a conditional model
    assert balanced_labels(100, 10).view(10, 10).tolist() == [[c] * 10 for c in range(10)]
    assert balanced_labels(7, 3).tolist() == [0, 0, 0, 1, 1, 2, 2]


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/datasets/mnist-t10k is not next to this clone")
def test_real_mnist_test_split(tmp_path):
    shutil.copytree(SHARED_MNIST, tmp_path / "mnist")
    dm = datamodule(tmp_path / "mnist", train_split="test", batch_size=128)
    dm.setup("fit")
    images, labels = dm.train_set.tensors
    assert images.shape == (10_000, 1, 28, 28)
    assert torch.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert 30 < images.float().mean() < 36  # MNIST's mean intensity is 33.3


@pytest.mark.skipif(not FASHION_DEBIAN.is_dir(), reason="dataset-fashion-mnist (Debian) is not installed")
def test_fashion_found_in_debian_location(tmp_path):
    dm = IDXDataModule("FashionMNIST", DIGITS, root=str(tmp_path), search_dirs=[str(FASHION_DEBIAN)], download=False)
    images, labels = dm.load("test")
    assert images.shape == (10_000, 1, 28, 28) and torch.bincount(labels).tolist() == [1000] * 10


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar(root: Path, **options) -> CIFAR10DataModule:
    return CIFAR10DataModule(CIFAR_CLASSES, root=str(root), **{"download": False, "batch_size": 16, **options})


def test_cifar_binary_batches_read_channel_planes_in_order(cifar_root):
    train_images, train_labels = cifar(cifar_root).load("train")
    test_images, test_labels = cifar(cifar_root).load("test")
    assert train_images.shape == (300, 3, 32, 32) and test_images.shape == (60, 3, 32, 32)
    assert train_images.dtype == torch.uint8 and train_labels.dtype == torch.int64
    assert train_labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert torch.equal(train_images[:, 0], (20 * train_labels).to(torch.uint8).view(-1, 1, 1).expand(-1, 32, 32))
    assert (train_images[:, 1] == 100).all() and (train_images[:, 2] == 200).all()


def test_cifar_through_the_config_and_the_batch_pipeline(compose_config, cifar_root):
    cfg = compose_config(["data=cifar10", f"data.root={cifar_root}", "data.download=false", "data.batch_size=16"])
    dm = instantiate(cfg.data)
    dm.setup("fit")
    assert dm.class_names[3] == "cat" and dm.num_classes == 10
    images, labels = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.shape == (16, 3, 32, 32) and images.dtype == torch.float32
    blue = images[:, 2]
    assert torch.allclose(blue, torch.full_like(blue, 200 / 127.5 - 1))


def test_cifar_found_in_search_dirs(tmp_path, cifar_root):
    assert len(cifar(tmp_path / "empty", search_dirs=[str(cifar_root)]).load("test")[0]) == 60


def test_missing_cifar_is_one_line_saying_how_to_provide_it(tmp_path):
    with pytest.raises(DataError) as err:
        cifar(tmp_path).setup("fit")
    message = str(err.value)
    assert "\n" not in message and "not found" in message
    assert str(tmp_path) in message and "cifar-10-python.tar.gz" in message and "data.download=true" in message


def test_failed_cifar_download_is_one_line(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("a file where the data folder should be")
    expected = "train split not found and the download failed: .*connect to the internet"
    with pytest.raises(DataError, match=expected) as err:
        cifar(not_a_folder, download=True).load("train")
    assert "\n" not in str(err.value)


def test_broken_cifar_files_are_reported(tmp_path):
    root = make_cifar_binary(tmp_path / "binary", per_file=3)
    batch = root / "cifar-10-batches-bin" / "test_batch.bin"
    batch.write_bytes(batch.read_bytes()[:-5])
    with pytest.raises(DataError, match="test_batch.bin is truncated"):
        cifar(root).load("test")
    (tmp_path / "python" / "cifar-10-batches-py").mkdir(parents=True)
    with pytest.raises(DataError, match="cifar-10-batches-py is incomplete or corrupt"):
        cifar(tmp_path / "python").load("train")
    with pytest.raises(ConfigError, match=r"sample_shape=\[3, 32, 32\]"):
        cifar(make_cifar_binary(tmp_path / "ok", per_file=2), sample_shape=[3, 64, 64]).load("test")
