"""Batches per second: ganforge's in-memory uint8 loader against torchvision's per-sample PIL pipeline.

Both read the same Fashion-MNIST training split and deliver float batches in [-1, 1]; the ratio is
measured in one process, so it holds on a busy machine where absolute times do not.
"""

from __future__ import annotations

import gzip
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

from ganforge.data import IDXDataModule

FASHION = Path("/usr/share/datasets/fashion-mnist")
BATCH, BATCHES = 128, 200


def batches_per_second(loader, to_model_space) -> float:
    iterator = iter(loader)
    next(iterator)  # warm-up
    start = time.perf_counter()
    for _ in range(BATCHES):
        images, _labels = next(iterator)
        to_model_space(images)
    return BATCHES / (time.perf_counter() - start)


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        raw = Path(root) / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for file in FASHION.glob("*.gz"):  # torchvision reads the uncompressed files
            (raw / file.stem).write_bytes(gzip.decompress(file.read_bytes()))
        datamodule = IDXDataModule("FashionMNIST", [str(i) for i in range(10)], root=root, download=False, batch_size=BATCH)
        datamodule.setup("fit")
        ours = batches_per_second(datamodule.train_dataloader(), datamodule.to_model_space)

        pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
        reference_set = torchvision.datasets.FashionMNIST(root, train=True, transform=pipeline, download=False)
        reference = batches_per_second(DataLoader(reference_set, batch_size=BATCH, shuffle=True), torch.as_tensor)
    print(f"torchvision FashionMNIST + PIL transforms: {reference:8.1f} batches/s of {BATCH}")
    print(f"ganforge IDXDataModule (one uint8 tensor): {ours:8.1f} batches/s of {BATCH}")
    print(f"speed-up: {ours / reference:.1f}x")


if __name__ == "__main__":
    main()
