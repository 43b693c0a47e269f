"""The shared shifted-window attention (layers/window_attention.py), checked against slow, independent
re-derivations written here from the definitions: loops over windows and tokens instead of reshapes, the
original's region-by-slices construction of the shift mask, an explicit per-window softmax."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from hf_videomodels.layers import (
    MultiHeadSelfAttention,
    PatchMerging,
    SwinStage,
    WindowAttention,
    relative_position_index,
    resize_relative_position_bias_table,
    shifted_window_mask,
    window_and_shift,
    window_partition,
    window_reverse,
)


@pytest.mark.parametrize("sizes, window", [((6, 9), (3, 3)), ((4, 6, 4), (2, 3, 2)), ((8,), (4,))])
def test_partition_matches_loops_and_reverses(sizes, window):
    x = torch.randn(2, *sizes, 5)
    windows = window_partition(x, window)
    counts = [s // w for s, w in zip(sizes, window)]
    expected = []
    for b in range(2):
        for corner in itertools.product(*(range(c) for c in counts)):
            region = x[(b, *(slice(i * w, (i + 1) * w) for i, w in zip(corner, window)))]
            expected.append(region.reshape(-1, 5))  # row-major tokens inside the window
    assert torch.equal(windows, torch.stack(expected))
    assert torch.equal(window_reverse(windows, window, sizes), x)


def test_relative_position_index_formula():
    window = (2, 3, 4)
    index = relative_position_index(window)
    coords = list(itertools.product(*(range(w) for w in window)))
    spans = [2 * w - 1 for w in window]
    for i, a in enumerate(coords):
        for j, b in enumerate(coords):
            offsets = [p - q + w - 1 for p, q, w in zip(a, b, window)]
            assert index[i, j] == (offsets[0] * spans[1] + offsets[1]) * spans[2] + offsets[2]
    assert index.max() == math.prod(spans) - 1


def _original_style_mask(padded, window, shift):
    """The originals' construction: label the regions cut by slices, partition, compare labels."""
    image = torch.zeros(1, *padded, 1)
    count = 0
    per_axis = [(slice(-w), slice(-w, -s), slice(-s, None)) for w, s in zip(window, shift)]
    for region in itertools.product(*per_axis):
        image[(0, *region, 0)] = count
        count += 1
    labels = window_partition(image, window).squeeze(-1)
    diff = labels.unsqueeze(1) - labels.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


@pytest.mark.parametrize(
    "padded, window, shift", [((14, 14), (7, 7), (3, 3)), ((4, 14, 14), (2, 7, 7), (1, 0, 0)), ((8, 8, 12), (8, 4, 4), (0, 2, 2))]
)
def test_shift_mask_matches_region_slices(padded, window, shift):
    assert torch.equal(shifted_window_mask(padded, window, shift), _original_style_mask(padded, window, shift))


def test_window_and_shift_shrink_per_axis():
    assert window_and_shift((4, 7, 9), (8, 7, 7), (4, 3, 3)) == ((4, 7, 7), (0, 0, 3))
    assert window_and_shift((16, 56, 56), (8, 7, 7), (4, 3, 3)) == ((8, 7, 7), (4, 3, 3))


def _explicit_window_attention(attention: WindowAttention, windows, shift_mask):
    """Per window, per head: softmax((q * scale) k^T + bias [+ mask]) v, then the projection."""
    heads, head_dim = attention.num_heads, attention.head_dim
    tokens = windows.shape[1]
    bias = torch.zeros(heads, tokens, tokens)
    index = relative_position_index(attention.window_size)
    for i in range(tokens):
        for j in range(tokens):
            bias[:, i, j] = attention.relative_position_bias_table[index[i, j]]
    out = []
    for w, window in enumerate(windows):
        q, k, v = attention.qkv(window).view(tokens, 3, heads, head_dim).permute(1, 2, 0, 3)
        scores = (q * head_dim**-0.5) @ k.transpose(-1, -2) + bias
        if shift_mask is not None:
            scores = scores + shift_mask[w % shift_mask.shape[0]]
        out.append(attention.proj((scores.softmax(-1) @ v).transpose(0, 1).reshape(tokens, -1)))
    return torch.stack(out)


@pytest.mark.parametrize("use_sdpa", [True, False])
@pytest.mark.parametrize("shrunk", [False, True])
def test_window_attention_matches_explicit(use_sdpa, shrunk):
    torch.manual_seed(0)
    attention = WindowAttention(12, 3, (2, 3, 3)).eval()
    torch.nn.init.normal_(attention.relative_position_bias_table, std=0.5)
    window = (2, 2, 3) if shrunk else (2, 3, 3)  # a shrunken window reads the full window's index
    tokens = math.prod(window)
    windows = torch.randn(2 * 4, tokens, 12)  # batch 2, 4 windows each
    mask = shifted_window_mask((4, 4, 3) if shrunk else (4, 6, 3), window, (1, 1, 0))
    assert mask.shape == (4, tokens, tokens)
    with torch.no_grad():
        for shift_mask in (None, mask):
            output, _ = attention(windows, shift_mask, use_sdpa=use_sdpa)
            expected = _explicit_window_attention(attention, windows, shift_mask)
            assert (output - expected).abs().max() < 1e-5


def test_bias_groups_is_a_per_window_mask():
    torch.manual_seed(1)
    attention = MultiHeadSelfAttention(8, 2).eval()
    x = torch.randn(3 * 4, 5, 8)
    bias = torch.randn(4, 2, 5, 5)
    with torch.no_grad():
        grouped, probs = attention(x, bias, output_attentions=True, bias_groups=4)
        full, _ = attention(x, bias.repeat(3, 1, 1, 1))
        sdpa, _ = attention(x, bias, bias_groups=4)
    assert (grouped - full).abs().max() < 1e-5 and (sdpa - full).abs().max() < 1e-5
    assert probs.shape == (12, 2, 5, 5)


def test_bias_table_resize_repeats_over_new_axes():
    table_2d = torch.randn(13 * 13, 3)
    table_3d = resize_relative_position_bias_table(table_2d, (7, 7), (4, 7, 7))
    assert table_3d.shape == (7 * 13 * 13, 3)
    index_2d, index_3d = relative_position_index((7, 7)), relative_position_index((4, 7, 7))
    # Every pair of tokens gets the 2D bias of its spatial offset, whatever the temporal offset.
    bias_3d = table_3d[index_3d].view(4, 49, 4, 49, 3)
    assert torch.equal(bias_3d, table_2d[index_2d].view(1, 49, 1, 49, 3).expand_as(bias_3d))
    assert torch.equal(resize_relative_position_bias_table(table_2d, (7, 7), (7, 7)), table_2d)
    assert resize_relative_position_bias_table(table_2d, (7, 7), (2, 12, 12)).shape == (3 * 23 * 23, 3)


def test_patch_merging_channel_order():
    merging = PatchMerging(1)
    x = torch.arange(2 * 3 * 3, dtype=torch.float).view(1, 2, 3, 3, 1)  # odd H and W: zero padded
    with torch.no_grad():
        merging.norm.weight.fill_(1)
        merging.norm.bias.zero_()
    gathered = []
    merging.norm.register_forward_hook(lambda m, args, out: gathered.append(args[0]))
    merging(x)
    # (t, i, j) -> [x(2i, 2j), x(2i + 1, 2j), x(2i, 2j + 1), x(2i + 1, 2j + 1)]
    assert gathered[0][0, 1, 0, 1].tolist() == [9 + 2, 9 + 5, 0.0, 0.0]
    assert gathered[0][0, 0, 0, 0].tolist() == [0, 3, 1, 4]


def test_stage_shift_only_where_the_window_fits():
    torch.manual_seed(0)
    stage = SwinStage(8, 2, 2, (2, 4, 4), [0.0, 0.0], downsample=False).eval()
    x = torch.randn(1, 4, 4, 6, 8)  # height 4 = window: no shift there; time and width shifted
    calls = []
    stage.blocks[1].register_forward_pre_hook(lambda m, args: calls.append(args), with_kwargs=False)
    with torch.no_grad():
        out, _ = stage(x)
    window, shift, mask = calls[0][1], calls[0][2], calls[0][3]
    assert window == (2, 4, 4) and shift == (1, 0, 2)
    assert mask.shape == (2 * 1 * 2, 32, 32)  # on the padded size 4 x 4 x 8
    assert out.shape == x.shape and torch.isfinite(out).all()
