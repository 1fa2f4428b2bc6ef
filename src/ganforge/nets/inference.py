"""Running a net over many inputs: in eval mode, without gradients, a batch at a time, results on the CPU."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ganforge.nets.common import evaluating


def _to_cpu(output: Any) -> Any:
    if isinstance(output, tuple):  # e.g. a Critique: its fields, some possibly None
        return type(output)(*(None if part is None else part.cpu() for part in output))
    return output.cpu()


def _concatenate(outputs: list[Any]) -> Any:
    first = outputs[0]
    if isinstance(first, tuple):
        return type(first)(*(None if parts[0] is None else torch.cat(parts) for parts in zip(*outputs)))
    return torch.cat(outputs)


@torch.no_grad()
def in_batches(
    module: nn.Module, forward: Callable[..., Any], inputs: Sequence[torch.Tensor | None], batch_size: int
) -> Any:
    """`forward(*batch)` for consecutive batches of `inputs` (aligned tensors; None passes through as None),
    with `module` in eval mode and each batch on its device; the outputs (a tensor, or a tuple of tensors such
    as a Critique) concatenated on the CPU."""
    device = next(module.parameters()).device
    count = len(next(tensor for tensor in inputs if tensor is not None))
    outputs = []
    with evaluating(module):
        for start in range(0, count, batch_size):
            batch = [None if tensor is None else tensor[start : start + batch_size].to(device) for tensor in inputs]
            outputs.append(_to_cpu(forward(*batch)))
    return _concatenate(outputs)
