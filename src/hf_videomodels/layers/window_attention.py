"""Shifted-window attention (Swin, Liu et al. 2021; Video Swin, Liu et al. 2022) for any number of window
axes: 2 for images over (height, width), 3 for clips over (time, height, width). Swin and Video Swin build
on the same pieces.

Token volumes are channels-last, ``(batch, *sizes, channels)``. What the original code bases do, and this
reproduces:

- **Shrunken windows.** Per stage and per axis, a feature size not larger than the window becomes the
  window, and the shift on that axis becomes 0 (:func:`window_and_shift`). The relative position bias of a
  shrunken window of ``N`` tokens reads rows and columns ``0..N-1`` of the *full* window's index (the
  original's ``relative_position_index[:N, :N]``; torchvision's ``swin3d`` does the same), not an index
  rebuilt for the smaller window.
- **Padding.** Each block pads its (normalised) tokens with zeros at the end of every axis to whole
  windows; padded tokens are not masked (their keys and values are the qkv bias) and are cropped after.
- **Shift.** Odd blocks roll the volume by ``-window // 2`` before attention and back after. The shift
  mask is built on the *padded* size from the 3 regions per axis, and pairs from different regions get
  **-100** (not -inf) added to their scores.
- The relative position bias and the shift mask are added into **one** additive mask, given to
  ``scaled_dot_product_attention`` (``MultiHeadSelfAttention`` with ``bias_groups``: the windows share one
  mask each without copying it per sample).
- **Patch merging** is over the last two axes only (height and width; time is kept) with the channel
  order ``[x(2i, 2j), x(2i+1, 2j), x(2i, 2j+1), x(2i+1, 2j+1)]``, odd sizes padded with zeros.

Window partition and reverse are reshapes and one permute each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from transformers.modeling_layers import GradientCheckpointingLayer

from .attention import MultiHeadSelfAttention
from .drop_path import DropPath
from .mlp import Mlp

SHIFT_MASK_VALUE = -100.0  # the originals' value for pairs across shifted regions (not -inf)


def window_and_shift(
    sizes: Sequence[int], window_size: Sequence[int], shift_size: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The window and shift a stage really uses: on an axis whose size is at most the window, the window
    shrinks to the size and the shift is dropped."""
    window = tuple(min(int(s), w) for s, w in zip(sizes, window_size))
    shift = tuple(0 if int(s) <= w else h for s, w, h in zip(sizes, window_size, shift_size))
    return window, shift


def pad_to_multiple(x: torch.Tensor, multiple: Sequence[int], channels_last: bool = True) -> torch.Tensor:
    """Zero-pad the end of the spatial axes (``x[:, *axes, C]``, or ``x[:, C, *axes]``) to multiples."""
    sizes = x.shape[1:-1] if channels_last else x.shape[2:]
    pads = [(-int(s)) % m for s, m in zip(sizes, multiple)]
    if not any(pads):
        return x
    flat = [0, 0] if channels_last else []  # F.pad lists the last axis first
    for pad in reversed(pads):
        flat += [0, pad]
    return F.pad(x, flat)


def window_partition(x: torch.Tensor, window: Sequence[int]) -> torch.Tensor:
    """``(batch, *sizes, C)`` -> ``(batch * windows, tokens_per_window, C)``; windows in row-major order of
    their grid (batch-major), tokens row-major inside a window. ``sizes`` must be multiples of ``window``."""
    batch, *sizes, channels = x.shape
    axes = len(window)
    split = [batch]
    for size, w in zip(sizes, window):
        split += [size // w, w]
    order = [0, *range(1, 2 * axes, 2), *range(2, 2 * axes + 1, 2), 2 * axes + 1]
    return x.view(*split, channels).permute(order).reshape(-1, math.prod(window), channels)


def window_reverse(windows: torch.Tensor, window: Sequence[int], sizes: Sequence[int]) -> torch.Tensor:
    """The inverse of :func:`window_partition`: ``(batch * windows, tokens, C)`` -> ``(batch, *sizes, C)``."""
    axes = len(window)
    counts = [size // w for size, w in zip(sizes, window)]
    x = windows.view(-1, *counts, *window, windows.shape[-1])
    order = [0]
    for axis in range(axes):
        order += [1 + axis, 1 + axes + axis]
    return x.permute(*order, 2 * axes + 1).reshape(-1, *sizes, windows.shape[-1])


def relative_position_index(window: Sequence[int]) -> torch.Tensor:
    """``(N, N)`` int64 index into a ``(prod(2w - 1), heads)`` bias table for the ``N = prod(window)`` tokens
    of a window (row-major): the offset ``query - key`` per axis, shifted to start at 0, mixed-radix with the
    last axis fastest (the originals' formula)."""
    coords = torch.stack(torch.meshgrid(*(torch.arange(w) for w in window), indexing="ij")).flatten(1)
    offsets = coords[:, :, None] - coords[:, None, :]  # (axes, N, N)
    index = torch.zeros(offsets.shape[1:], dtype=torch.long)
    for axis, w in enumerate(window):
        index = index * (2 * w - 1) + offsets[axis] + (w - 1)
    return index


def shifted_window_mask(
    padded_sizes: Sequence[int], window: Sequence[int], shift: Sequence[int], device=None
) -> torch.Tensor:
    """``(windows, N, N)`` float mask of a shifted stage: 0 within a region, -100 across regions.

    After the roll, each axis has three regions: ``[0, P - w)``, ``[P - w, P - s)`` and ``[P - s, P)``
    (one region when the axis is not shifted); a token's region is the tuple over axes.
    """
    region = torch.zeros((), dtype=torch.long, device=device)
    for axis, (size, w, s) in enumerate(zip(padded_sizes, window, shift)):
        labels = torch.zeros(size, dtype=torch.long, device=device)
        if s > 0:
            labels[size - w : size - s] = 1
            labels[size - s :] = 2
        shape = [1] * len(padded_sizes)
        shape[axis] = size
        region = region * 3 + labels.view(shape)
    regions = window_partition(region.expand(*padded_sizes)[None, ..., None], window).squeeze(-1)  # (windows, N)
    different = regions[:, :, None] != regions[:, None, :]
    return torch.zeros(different.shape, device=device).masked_fill(different, SHIFT_MASK_VALUE)


def resize_relative_position_bias_table(
    table: torch.Tensor, old_window: Sequence[int], new_window: Sequence[int], mode: str = "bicubic"
) -> torch.Tensor:
    """A ``(prod(2w - 1), heads)`` bias table for ``old_window``, made to fit ``new_window``.

    ``new_window`` may have more axes than ``old_window`` (2D ImageNet windows -> 3D windows): the old axes are
    the last ones, and the table is repeated over the offsets of the new leading axes (Video Swin's
    initialisation from an image Swin). The old axes' offsets are interpolated (``mode``) when their window
    size changes.
    """
    old_window, new_window = tuple(old_window), tuple(new_window)
    extra = len(new_window) - len(old_window)
    if extra < 0:
        raise ValueError(f"cannot resize a table of window {old_window} to fewer axes, {new_window}")
    heads = table.shape[-1]
    old_spans = [2 * w - 1 for w in old_window]
    if table.shape[0] != math.prod(old_spans):
        raise ValueError(f"a table of {table.shape[0]} rows does not belong to window {old_window}")
    new_spans = [2 * w - 1 for w in new_window[extra:]]
    if new_spans != old_spans:
        grid = table.T.reshape(1, heads, *old_spans).float()
        interpolation = {1: "linear", 2: mode, 3: "trilinear"}[len(old_spans)]
        kwargs = {} if interpolation == "nearest" else {"align_corners": False}
        table = F.interpolate(grid, size=new_spans, mode=interpolation, **kwargs).reshape(heads, -1).T.to(table.dtype)
    repeats = math.prod(2 * w - 1 for w in new_window[:extra])
    return table.repeat(repeats, 1)


class WindowAttention(MultiHeadSelfAttention):
    """Multi-head self-attention inside windows, with a learned relative position bias.

    Parameters (names as in every Swin original): ``qkv``, ``proj``, ``relative_position_bias_table``
    ``(prod(2w - 1), heads)``; buffer ``relative_position_index`` ``(N, N)`` for the full window.

    ``forward(windows, shift_mask=None, output_attentions=False, use_sdpa=True)`` takes
    ``(batch * windows, N, dim)`` (``N`` at most the full window's tokens: a shrunken window) and the
    ``(windows, N, N)`` shift mask of a shifted block.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: Sequence[int],
        qkv_bias: bool = True,
        attention_dropout: float = 0.0,
        proj_dropout: float = 0.0,
    ):
        super().__init__(dim, num_heads, qkv_bias, attention_dropout, proj_dropout)
        self.window_size = tuple(int(w) for w in window_size)
        spans = math.prod(2 * w - 1 for w in self.window_size)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(spans, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(self.window_size))

    def relative_position_bias(self, tokens: int) -> torch.Tensor:
        """``(heads, tokens, tokens)``; a shrunken window reads the full window's index (module docstring)."""
        index = self.relative_position_index[:tokens, :tokens].reshape(-1)
        return self.relative_position_bias_table[index].view(tokens, tokens, -1).permute(2, 0, 1)

    def forward(
        self,
        windows: torch.Tensor,
        shift_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        use_sdpa: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        bias = self.relative_position_bias(windows.shape[1])
        if shift_mask is None:
            return super().forward(windows, bias.unsqueeze(0), output_attentions, use_sdpa)
        # One additive mask (windows, heads, N, N): the shift mask plus the position bias.
        mask = shift_mask.unsqueeze(1) + bias.unsqueeze(0)
        return super().forward(windows, mask, output_attentions, use_sdpa, bias_groups=shift_mask.shape[0])

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, num_heads={self.num_heads}"


class SwinBlock(nn.Module):
    """``x + drop_path(window_attention(norm1(x)))``, then ``x + drop_path(mlp(norm2(x)))`` on a
    channels-last volume; the stage tells it the (possibly shrunken) window, its shift and the shift mask."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: Sequence[int],
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        layer_norm_eps: float = 1e-5,
        hidden_act: str = "gelu",
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.attn = WindowAttention(dim, num_heads, window_size, qkv_bias, attention_dropout, dropout)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), hidden_act, dropout)

    def forward(
        self,
        x: torch.Tensor,
        window: tuple[int, ...],
        shift: tuple[int, ...] | None = None,
        shift_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        use_sdpa: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        sizes = x.shape[1:-1]
        axes = tuple(range(1, len(window) + 1))
        hidden = pad_to_multiple(self.norm1(x), window)  # padded after the norm, as the originals
        padded = hidden.shape[1:-1]
        if shift is not None:
            hidden = torch.roll(hidden, [-s for s in shift], axes)
        windows, probs = self.attn(window_partition(hidden, window), shift_mask, output_attentions, use_sdpa)
        hidden = window_reverse(windows, window, padded)
        if shift is not None:
            hidden = torch.roll(hidden, list(shift), axes)
        hidden = hidden[(slice(None), *(slice(0, s) for s in sizes))]
        x = x + self.drop_path(hidden)
        return x + self.drop_path(self.mlp(self.norm2(x))), probs


class PatchMerging(nn.Module):
    """2x2 spatial neighbours concatenated (order in the module docstring) -> LayerNorm(4C) -> Linear(4C, 2C),
    no bias. Works on ``(batch, [time,] height, width, C)``; time is kept."""

    def __init__(self, dim: int, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=layer_norm_eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-3], x.shape[-2]
        x = F.pad(x, (0, 0, 0, width % 2, 0, height % 2))
        x = torch.cat((x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]), -1)
        return self.reduction(self.norm(x))


class SwinPatchEmbedding(nn.Module):
    """Non-overlapping patches by a strided ``Conv2d`` / ``Conv3d`` (``proj``), then ``LayerNorm`` (``norm``).

    Takes channels-first ``(batch, C, *sizes)``, zero-pads the end of every axis to whole patches, returns
    channels-last ``(batch, *grid, dim)``.
    """

    def __init__(self, patch_size: Sequence[int], num_channels: int, dim: int, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.patch_size = tuple(int(p) for p in patch_size)
        conv = {2: nn.Conv2d, 3: nn.Conv3d}[len(self.patch_size)]
        self.proj = conv(num_channels, dim, kernel_size=self.patch_size, stride=self.patch_size)
        self.proj.init_role = "linear"  # (see modeling_utils.set_init_role) a projection of each patch
        self.norm = nn.LayerNorm(dim, eps=layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        patches = self.proj(pad_to_multiple(pixel_values, self.patch_size, channels_last=False))
        return self.norm(patches.movedim(1, -1))


class SwinStage(GradientCheckpointingLayer):
    """``depth`` blocks (odd ones shifted by half a window) then, except in the last stage, patch merging.

    The window, shift and shift mask are worked out once per stage from its input size (module docstring).
    Gradient checkpointing (``model.gradient_checkpointing_enable()``) recomputes a whole stage.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: Sequence[int],
        drop_path_rates: Sequence[float],
        downsample: bool,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        layer_norm_eps: float = 1e-5,
        hidden_act: str = "gelu",
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ):
        super().__init__()
        self.window_size = tuple(int(w) for w in window_size)
        self.shift_size = tuple(w // 2 for w in self.window_size)
        self.blocks = nn.ModuleList(
            SwinBlock(dim, num_heads, self.window_size, mlp_ratio, qkv_bias, drop_path_rates[j], layer_norm_eps,
                      hidden_act, dropout, attention_dropout)
            for j in range(depth)
        )
        self.downsample = PatchMerging(dim, layer_norm_eps) if downsample else None

    def forward(
        self, x: torch.Tensor, output_attentions: bool = False, use_sdpa: bool = True
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        sizes = x.shape[1:-1]
        window, shift = window_and_shift(sizes, self.window_size, self.shift_size)
        shift_mask = None
        if any(shift):
            padded = [s + (-s) % w for s, w in zip(sizes, window)]
            shift_mask = shifted_window_mask(padded, window, shift, device=x.device)
        maps = []
        for j, block in enumerate(self.blocks):
            shifted = j % 2 == 1 and shift_mask is not None
            x, probs = block(x, window, shift if shifted else None, shift_mask if shifted else None,
                             output_attentions, use_sdpa)
            maps.append(probs)
        if self.downsample is not None:
            x = self.downsample(x)
        return x, tuple(maps) if output_attentions else ()


class SwinEncoder(nn.Module):
    """Patch embedding, the stages (width doubling, spatial size halving) and the final LayerNorm.

    ``forward(pixel_values, output_hidden_states, output_attentions, use_sdpa)`` takes channels-first
    ``(batch, C, *sizes)`` and returns ``(features, hidden_states, attentions)``: ``features`` the normalised
    channels-last output ``(batch, *grid, dim * 2 ** (stages - 1))``; ``hidden_states`` (when asked) the
    patch embeddings and every stage's output (after its merging, before the final norm), channels-last;
    ``attentions`` every block's probabilities ``(batch * windows, heads, N, N)``.
    """

    def __init__(
        self,
        patch_size: Sequence[int],
        num_channels: int,
        embed_dim: int,
        depths: Sequence[int],
        num_heads: Sequence[int],
        window_size: Sequence[int],
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        layer_norm_eps: float = 1e-5,
        hidden_act: str = "gelu",
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        drop_path_rate: float = 0.0,
    ):
        super().__init__()
        self.patch_embed = SwinPatchEmbedding(patch_size, num_channels, embed_dim, layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        # Stochastic depth grows linearly from 0 in the first block to drop_path_rate in the last.
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        self.stages = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
            first = sum(depths[:i])
            self.stages.append(
                SwinStage(embed_dim * 2**i, depth, heads, window_size, rates[first : first + depth],
                          i < len(depths) - 1, mlp_ratio, qkv_bias, layer_norm_eps, hidden_act, dropout,
                          attention_dropout)
            )
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(self.num_features, eps=layer_norm_eps)

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
        use_sdpa: bool = True,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None, tuple[torch.Tensor, ...] | None]:
        x = self.dropout(self.patch_embed(pixel_values))
        hidden_states = [x] if output_hidden_states else None
        attentions = [] if output_attentions else None
        for stage in self.stages:
            x, maps = stage(x, output_attentions, use_sdpa)
            if output_hidden_states:
                hidden_states.append(x)
            if output_attentions:
                attentions.extend(maps)
        return (
            self.norm(x),
            tuple(hidden_states) if output_hidden_states else None,
            tuple(attentions) if output_attentions else None,
        )
