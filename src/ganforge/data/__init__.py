"""LightningDataModules: image datasets held as uint8 tensors, and toy distributions."""

from ganforge.data.base import GANDataModule
from ganforge.data.cifar import CIFAR10DataModule
from ganforge.data.folder import ImageFolderDataModule
from ganforge.data.images import IDXDataModule, ImageDataModule
from ganforge.data.toy import Gaussian1D, Sine2D, ToyDataModule

__all__ = [
    "CIFAR10DataModule",
    "GANDataModule",
    "Gaussian1D",
    "IDXDataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "Sine2D",
    "ToyDataModule",
]
