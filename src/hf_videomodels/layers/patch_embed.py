"""Image patches to tokens, applied to every frame of a clip independently (TimeSformer, ViT-style models)."""

from __future__ import annotations

import torch
from torch import nn


def pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``16`` -> ``(16, 16)``; a (height, width) pair is returned as a tuple."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"expected an int or two ints (height, width), got {value}")
    return value


class FramePatchEmbedding(nn.Module):
    """A strided ``Conv2d`` (``proj``) cutting each frame into non-overlapping patches.

    ``forward`` takes ``(batch, frames, channels, height, width)`` and returns tokens shaped
    ``(batch * frames, patches, dim)``, frame-major, patches row-major over the grid, plus the patch grid
    ``(grid_height, grid_width)``. Pixels beyond the last whole patch are dropped, as a strided conv does.
    """

    def __init__(self, patch_size: int | tuple[int, int], num_channels: int, dim: int):
        super().__init__()
        self.patch_size = pair(patch_size)
        self.proj = nn.Conv2d(num_channels, dim, kernel_size=self.patch_size, stride=self.patch_size)
        self.proj.init_role = "linear"  # (see modeling_utils.set_init_role) a linear projection of each patch, not a conv in a ReLU stack

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        patches = self.proj(pixel_values.flatten(0, 1))  # (batch * frames, dim, grid_h, grid_w)
        grid = (patches.shape[-2], patches.shape[-1])
        return patches.flatten(2).transpose(1, 2), grid
