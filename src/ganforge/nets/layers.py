"""Layers of the nets: conditional batch norm, the projection head, minibatch standard deviation, a faster
dropout."""

from __future__ import annotations

import math

import torch
from torch import nn

# Dropout's keep test compares 16-bit random integers with this many steps: p is kept to within 1/65536.
_MASK_STEPS = 2**16


class Dropout(nn.Dropout):
    """nn.Dropout whose mask on the CPU comes from 16-bit random integers, four to each 64-bit draw.

    PyTorch's CPU dropout draws one random number per element, which made it 14% of a DCGAN step at batch 256;
    this draws a quarter as many and keeps the same distribution (each element dropped with probability p,
    rounded to 1/65536, the survivors scaled by 1/(1-p)). On a GPU, PyTorch's own fused kernel is used.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p in (0.0, 1.0) or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        words = torch.empty((x.numel() + 3) // 4, dtype=torch.int64).random_(-(2**63), None)  # all 64 bits random
        threshold = round(self.p * _MASK_STEPS) - _MASK_STEPS // 2
        keep = words.view(torch.int16)[: x.numel()].view_as(x) >= threshold
        return x * keep * (1.0 / (1.0 - self.p))



class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are learned per class (de Vries et al., 2017; Miyato & Koyama, 2018).

    Without classes it is plain batch norm with one learned scale and shift.
    """

    def __init__(self, channels: int, num_classes: int = 0) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=not num_classes)
        self.scale = self.shift = None
        if num_classes:
            self.scale = nn.Embedding(num_classes, channels)
            self.shift = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.scale.weight)
            nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm(x)
        if self.scale is None:
            return x
        return x * self.scale(labels)[:, :, None, None] + self.shift(labels)[:, :, None, None]


class ProjectionHead(nn.Module):
    """D's verdict on features h: ψ(h) + ⟨embed(y), h⟩ (the projection discriminator, Miyato & Koyama, 2018).

    The inner product asks "does h look like class y?" directly; without classes only ψ(h) remains.
    """

    def __init__(self, features: int, num_classes: int = 0) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.embedding = nn.Embedding(num_classes, features) if num_classes else None

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.linear(features).squeeze(1)
        if self.embedding is not None:
            logits = logits + (self.embedding(labels) * features).sum(1)
        return logits


class MinibatchStd(nn.Module):
    """Features (B, F) → (B, F + 1): each sample also carries how much its group of samples differs.

    The extra feature is the standard deviation over a group of `group_size` samples, averaged over the features
    (Karras et al., 2018). A batch of near-copies — a collapsed generator — shows a small one, so D can tell it
    from a batch of real images and G is pushed to spread out. Groups are consecutive samples; a batch whose size
    is not a multiple of `group_size` uses the largest common divisor.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        group = math.gcd(len(features), self.group_size)
        grouped = features.float().reshape(-1, group, features.shape[1])
        spread = grouped.var(dim=1, unbiased=False).add(1e-8).sqrt().mean(dim=1)  # one value per group
        extra = spread.repeat_interleave(group).to(features.dtype)[:, None]
        return torch.cat([features, extra], dim=1)
