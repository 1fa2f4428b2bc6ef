"""LightningDataModules: image datasets held as uint8 tensors, and toy distributions."""

from ganforge.data.base import GANDataModule
from ganforge.data.images import IDXDataModule, ImageDataModule, ImageFolderDataModule

__all__ = ["GANDataModule", "IDXDataModule", "ImageDataModule", "ImageFolderDataModule"]
