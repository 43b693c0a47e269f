"""Resizing learned position / time embeddings when a model sees another resolution or clip length.

Both follow what the original forward passes do at inference: the patch part of a position table is
viewed as its 2-D grid and interpolated to the new grid, the prefix (cls) positions kept as they are;
a time table is interpolated along time. TimeSformer uses ``mode="nearest"`` for both; ViT-style ports
pass their own mode (e.g. ``"bicubic"``).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def resize_position_embeddings(
    position_embeddings: torch.Tensor,
    new_grid: tuple[int, int],
    old_grid: tuple[int, int] | None = None,
    num_prefix_tokens: int = 1,
    mode: str = "nearest",
) -> torch.Tensor:
    """``(1, prefix + old_h * old_w, dim)`` -> ``(1, prefix + new_h * new_w, dim)``.

    ``old_grid`` defaults to the square grid the table's length implies. The table is returned unchanged
    (the same tensor) when the grids already match.
    """
    prefix, patches = position_embeddings[:, :num_prefix_tokens], position_embeddings[:, num_prefix_tokens:]
    if old_grid is None:
        side = math.isqrt(patches.shape[1])
        if side * side != patches.shape[1]:
            raise ValueError(f"{patches.shape[1]} patch positions are not a square grid; pass old_grid")
        old_grid = (side, side)
    new_grid = (int(new_grid[0]), int(new_grid[1]))
    if tuple(old_grid) == new_grid:
        return position_embeddings
    dim = patches.shape[-1]
    grid = patches.transpose(1, 2).reshape(1, dim, *old_grid)
    resized = F.interpolate(grid, size=new_grid, mode=mode).flatten(2).transpose(1, 2)
    return torch.cat((prefix, resized), dim=1)


def resize_time_embeddings(time_embeddings: torch.Tensor, num_frames: int, mode: str = "nearest") -> torch.Tensor:
    """``(1, old_frames, dim)`` -> ``(1, num_frames, dim)`` by 1-D interpolation; unchanged when equal."""
    if time_embeddings.shape[1] == num_frames:
        return time_embeddings
    return F.interpolate(time_embeddings.transpose(1, 2), size=num_frames, mode=mode).transpose(1, 2)
