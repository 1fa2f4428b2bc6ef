"""The domain classifier as a LightningModule: cross-entropy on the real training split."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.models.base import OptimizerFactory


class Classifier(L.LightningModule):
    """Trains `net` (logits from model-space images) with cross-entropy.

    `test_accuracy` is a buffer, so the accuracy measured on the test split after training
    travels with the weights (NaN until measured).
    """

    def __init__(self, net: nn.Module, optimizer: OptimizerFactory) -> None:
        super().__init__()
        self.net, self.optimizer = net, optimizer
        self.register_buffer("test_accuracy", torch.tensor(float("nan")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch
        logits = self.net(images)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(1) == labels).float().mean()
        self.log_dict({"train/loss": loss, "train/acc": accuracy}, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.net.parameters())
