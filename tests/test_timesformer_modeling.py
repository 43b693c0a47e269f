"""TimeSformer through the shared conformance suite, once per attention scheme (tiny configs), plus what is
particular to TimeSformer: each scheme's receptive field, embedding resizing, drop path, init and the shared
attention layer.

Receptive-field tests: the gradient of one output token of an attention step (or of a whole block) with
respect to the input tokens is non-zero exactly on the tokens the scheme's definition allows. The allowed
sets are built here from token coordinates, independently of the model's regrouping code.
"""

from __future__ import annotations

import pytest
import torch

from hf_videomodels.layers import (
    DropPath,
    MultiHeadSelfAttention,
    resize_position_embeddings,
    resize_time_embeddings,
)
from hf_videomodels.models.timesformer import (
    TimeSformerConfig,
    TimeSformerForVideoClassification,
    TimeSformerModel,
    TimeSformerVideoProcessor,
)
from hf_videomodels.models.timesformer.modeling_timesformer import TokenGrid

from .conformance import VideoModelConformance

TINY = {
    "image_size": 32,
    "patch_size": 8,  # 4 x 4 patch grid
    "num_frames": 4,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "drop_path_rate": 0.0,
}
STEP_NAMES = {
    "space_only": ["space"],
    "joint_space_time": ["space_time"],
    "divided_space_time": ["time", "space"],
    "axial": ["time", "width", "height"],
    "sparse_local_global": ["local", "global"],
}


def attention_shapes(config: TimeSformerConfig, pixel_values: torch.Tensor) -> list[tuple]:
    """Per block, one map per attention step (see the modeling module's docstring)."""
    batch, frames, _, height, width = pixel_values.shape
    grid_h, grid_w = height // config.patch_size, width // config.patch_size
    patches, heads = grid_h * grid_w, config.num_attention_heads
    stride = config.global_stride
    window_h, window_w = config.local_window_size or (grid_h // 2, grid_w // 2)
    windows = (grid_h // window_h) * (grid_w // window_w)
    per_block = {
        "space_only": [(batch * frames, heads, 1 + patches, 1 + patches)],
        "joint_space_time": [(batch, heads, 1 + patches * frames, 1 + patches * frames)],
        "divided_space_time": [
            (batch * patches, heads, frames, frames),
            (batch * frames, heads, 1 + patches, 1 + patches),
        ],
        "axial": [
            (batch * patches, heads, frames, frames),
            (batch * frames * grid_h, heads, 1 + grid_w, 1 + grid_w),
            (batch * frames * grid_w, heads, 1 + grid_h, 1 + grid_h),
        ],
        "sparse_local_global": [
            (batch * windows, heads, 1 + window_h * window_w * frames, 1 + window_h * window_w * frames),
            (batch * stride**3, heads, 1 + patches * frames // stride**3, 1 + patches * frames // stride**3),
        ],
    }[config.attention_type]
    return per_block * config.num_hidden_layers


class _TimeSformerConformance(VideoModelConformance):
    config_class = TimeSformerConfig
    base_model_class = TimeSformerModel
    classification_model_class = TimeSformerForVideoClassification
    video_processor_class = TimeSformerVideoProcessor
    has_attentions = True
    attention_type = None

    def make_config(self, **overrides):
        return TimeSformerConfig(**{**TINY, "attention_type": self.attention_type, "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        shape = (batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)
        return torch.randn(shape, generator=generator)

    def expected_hidden_state_shapes(self, config, pixel_values):
        batch, frames, _, height, width = pixel_values.shape
        patches = (height // config.patch_size) * (width // config.patch_size)
        if config.attention_type == "space_only":
            shape = (batch * frames, 1 + patches, config.hidden_size)
        else:
            shape = (batch, 1 + patches * frames, config.hidden_size)
        return [shape] * (config.num_hidden_layers + 1)

    def expected_attention_shapes(self, config, pixel_values):
        return attention_shapes(config, pixel_values)


class TestTimeSformerSpaceOnlyConformance(_TimeSformerConformance):
    attention_type = "space_only"


class TestTimeSformerJointSpaceTimeConformance(_TimeSformerConformance):
    attention_type = "joint_space_time"


class TestTimeSformerDividedSpaceTimeConformance(_TimeSformerConformance):
    attention_type = "divided_space_time"


class TestTimeSformerSparseLocalGlobalConformance(_TimeSformerConformance):
    attention_type = "sparse_local_global"


class TestTimeSformerAxialConformance(_TimeSformerConformance):
    attention_type = "axial"


# ---- receptive fields ---------------------------------------------------------------------------------------


def token_coordinates(grid: TokenGrid) -> list[tuple[int, int, int] | None]:
    """(t, y, x) of every token of the space-major, time-minor sequence; None for the cls token."""
    coords = [None]
    for n in range(grid.height * grid.width):
        for t in range(grid.frames):
            coords.append((t, n // grid.width, n % grid.width))
    return coords


def step_allows(name: str, grid: TokenGrid, window: tuple[int, int], stride: int):
    """``allows(query, key)`` for one step by its definition; the residual keeps every token on itself."""

    def same(query, key):
        t, y, x = query
        u, v, w = key
        return {
            "time": (y, x) == (v, w),
            "space": t == u,
            "space_time": True,
            "width": (t, y) == (u, v),
            "height": (t, x) == (u, w),
            "local": (y // window[0], x // window[1]) == (v // window[0], w // window[1]),
            "global": (t % stride, y % stride, x % stride) == (u % stride, v % stride, w % stride),
        }[name]

    cls_excluded = name == "time"  # divided / axial temporal attention leaves the cls token out

    def allows(query, key):
        if query is None:  # cls: itself, plus every group it joined (all of them) unless excluded
            return key is None or not cls_excluded
        if key is None:
            return not cls_excluded
        return same(query, key)

    return allows


def allowed_matrix(allows, coords) -> torch.Tensor:
    return torch.tensor([[allows(q, k) or q == k for k in coords] for q in coords])


def dependency_matrix(function, num_tokens: int, dim: int) -> torch.Tensor:
    """``[i, j]``: does output token i depend on input token j (non-zero gradient)?"""
    torch.manual_seed(0)
    inputs = torch.randn(1, num_tokens, dim, dtype=torch.float64, requires_grad=True)
    outputs = function(inputs)
    rows = []
    for i in range(num_tokens):
        (grad,) = torch.autograd.grad(outputs[0, i].sum(), inputs, retain_graph=True)
        rows.append(grad[0].abs().sum(-1) > 0)
    return torch.stack(rows)


def _layer(attention_type: str, **overrides):
    torch.manual_seed(0)
    config = TimeSformerConfig(**{**TINY, "attention_type": attention_type, **overrides})
    model = TimeSformerModel(config).double().eval()
    with torch.no_grad():  # non-zero everywhere, temporal fc included (it starts at zero in later blocks)
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return config, model.layers[1]


FACTORIZED = [("divided_space_time", {}), ("axial", {}), ("sparse_local_global", {}),
              ("sparse_local_global", {"local_window_size": [2, 4], "num_frames": 2})]  # fmt: skip


@pytest.mark.parametrize(("attention_type", "overrides"), FACTORIZED)
def test_receptive_field_of_each_step_and_block(attention_type, overrides):
    config, layer = _layer(attention_type, **overrides)
    assert list(layer.attentions) == STEP_NAMES[attention_type]
    side = config.image_size // config.patch_size
    grid = TokenGrid(config.num_frames, side, side)
    coords = token_coordinates(grid)
    window = tuple(config.local_window_size or (side // 2, side // 2))
    composed = torch.eye(len(coords), dtype=torch.bool)
    steps = list(layer.attentions.items())
    for count, (name, step) in enumerate(steps, start=1):
        allowed = allowed_matrix(step_allows(name, grid, window, config.global_stride), coords)
        assert allowed.sum() < allowed.numel() or name == "space_time"

        def run_one(x, step=step):
            return step(x, grid)[0]

        actual = dependency_matrix(run_one, len(coords), config.hidden_size)
        assert torch.equal(actual, allowed), f"{attention_type}: step {name!r}"

        # The first `count` steps together: output i depends on j if some token it attends to did.
        composed = (allowed.double() @ composed.double()) > 0

        def run_prefix(x, steps=steps[:count]):
            for _, s in steps:
                x = s(x, grid)[0]
            return x

        assert torch.equal(dependency_matrix(run_prefix, len(coords), config.hidden_size), composed), (
            f"{attention_type}: steps up to {name!r}"
        )
    # The MLP works per token: the whole block has the receptive field of its attention steps.
    block = dependency_matrix(lambda x: layer(x, grid)[0], len(coords), config.hidden_size)
    assert torch.equal(block, composed)


def test_joint_and_space_only_receptive_fields():
    for attention_type, tokens_per_sequence in (("joint_space_time", 1 + 16 * 4), ("space_only", 1 + 16)):
        config, layer = _layer(attention_type)
        grid = TokenGrid(config.num_frames, 4, 4)
        dependencies = dependency_matrix(lambda x: layer(x, grid)[0], tokens_per_sequence, config.hidden_size)
        assert dependencies.all()


def test_space_only_frames_are_independent_until_the_average():
    torch.manual_seed(0)
    model = TimeSformerModel(TimeSformerConfig(**TINY, attention_type="space_only")).eval()
    pixel_values = torch.randn(1, 4, 3, 32, 32)
    changed = pixel_values.clone()
    changed[:, 2] += 1.0
    with torch.no_grad():
        before = model(pixel_values, output_hidden_states=True)
        after = model(changed, output_hidden_states=True)
    for frame in (0, 1, 3):
        assert torch.equal(before.hidden_states[-1][frame], after.hidden_states[-1][frame])
    assert not torch.allclose(before.hidden_states[-1][2], after.hidden_states[-1][2])
    # last_hidden_state = LayerNorm(mean over frames of the last block's output)
    expected = model.layernorm(before.hidden_states[-1].mean(0, keepdim=True))
    assert torch.allclose(before.last_hidden_state, expected, atol=1e-6)
    assert torch.equal(before.pooler_output, before.last_hidden_state[:, 0])


@pytest.mark.parametrize(
    ("overrides", "frames", "size", "message"),
    [
        ({}, 4, 24, "even grid"),  # default window: half of a 3 x 3 grid
        ({"local_window_size": [3, 3]}, 4, 32, "local windows"),
        ({"local_window_size": [2, 2]}, 3, 32, "stride 2"),  # 3 frames, global stride 2
    ],
)
def test_sparse_local_global_rejects_sizes_it_cannot_split(overrides, frames, size, message):
    model = TimeSformerModel(TimeSformerConfig(**{**TINY, "attention_type": "sparse_local_global", **overrides}))
    with pytest.raises(ValueError, match=message):
        model(torch.randn(1, frames, 3, size, size))


@pytest.mark.parametrize("attention_type", list(STEP_NAMES))
def test_other_clip_length_and_resolution(attention_type):
    torch.manual_seed(0)
    config = TimeSformerConfig(**TINY, attention_type=attention_type, num_labels=3)
    model = TimeSformerForVideoClassification(config).eval()
    pixel_values = torch.randn(1, 8, 3, 64, 64)  # 8 frames instead of 4, 8 x 8 grid instead of 4 x 4
    with torch.no_grad():
        outputs = model(pixel_values, output_hidden_states=True, output_attentions=True)
    assert outputs.logits.shape == (1, 3) and torch.isfinite(outputs.logits).all()
    assert [tuple(a.shape) for a in outputs.attentions] == attention_shapes(config, pixel_values)


def test_embeddings_resize_tables_by_nearest_neighbour():
    torch.manual_seed(0)
    config = TimeSformerConfig(**TINY)
    model = TimeSformerModel(config).eval()
    embeddings = model.embeddings
    with torch.no_grad():
        embeddings.time_embeddings.normal_()
        embeddings.position_embeddings.normal_()
        pixel_values = torch.randn(1, 6, 3, 48, 40)  # 6 frames, a 6 x 5 grid
        tokens, grid = embeddings(pixel_values)
        patches, _ = embeddings.patch_embeddings(pixel_values)  # (frames, 30, dim)
    assert grid == (6, 6, 5)
    position = embeddings.position_embeddings[0]
    time = embeddings.time_embeddings[0]
    for t in range(6):
        for y in range(6):
            for x in range(5):
                # nearest: source index floor(i * old / new)
                source = 1 + (y * 4 // 6) * 4 + (x * 4 // 5)
                expected = patches[t, y * 5 + x] + position[source] + time[t * 4 // 6]
                assert torch.allclose(tokens[0, 1 + (y * 5 + x) * 6 + t], expected, atol=1e-6)
    assert torch.allclose(tokens[0, 0], embeddings.cls_token[0, 0] + position[0])


def test_resize_helpers_keep_prefix_and_match_interpolate():
    table = torch.randn(1, 2 + 9, 4)
    resized = resize_position_embeddings(table, (6, 3), num_prefix_tokens=2)
    assert resized.shape == (1, 2 + 18, 4)
    assert torch.equal(resized[:, :2], table[:, :2])
    grid = table[0, 2:].reshape(3, 3, 4)
    assert torch.equal(resized[0, 2:].reshape(6, 3, 4), grid[[0, 0, 1, 1, 2, 2]])
    assert resize_position_embeddings(table, (3, 3), num_prefix_tokens=2) is table
    with pytest.raises(ValueError, match="square"):
        resize_position_embeddings(torch.randn(1, 1 + 6, 4), (2, 2))
    time = torch.randn(1, 4, 3)
    assert torch.equal(resize_time_embeddings(time, 8)[0], time[0, [0, 0, 1, 1, 2, 2, 3, 3]])
    assert torch.equal(resize_time_embeddings(time, 2)[0], time[0, [0, 2]])
    assert resize_time_embeddings(time, 4) is time


def test_drop_path_drops_whole_rows_in_training_only():
    torch.manual_seed(0)
    layer = DropPath(0.5)
    x = torch.randn(4000, 3, 2) + 5
    out = layer.train()(x)
    kept = (out != 0).flatten(1)
    assert (kept.all(1) | ~kept.any(1)).all()  # each row all kept or all dropped
    assert 0.4 < kept.all(1).float().mean() < 0.6
    assert torch.allclose(out[kept.all(1)], x[kept.all(1)] * 2)
    assert layer.eval()(x) is x


def test_drop_path_makes_training_stochastic_and_eval_deterministic():
    torch.manual_seed(0)
    model = TimeSformerForVideoClassification(TimeSformerConfig(**{**TINY, "drop_path_rate": 0.5}, num_labels=3))
    rates = [layer.drop_path.drop_prob for layer in model.timesformer.layers]
    assert rates == pytest.approx([0.0, 0.5])
    assert model.timesformer.layers[1].attentions["time"].drop_path.drop_prob == pytest.approx(0.5)
    pixel_values = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        model.train()
        runs = [model(pixel_values).logits for _ in range(4)]
        model.eval()
        first, second = model(pixel_values).logits, model(pixel_values).logits
    assert any(not torch.equal(runs[0], run) for run in runs[1:])
    assert torch.equal(first, second)


def test_init_follows_the_original():
    torch.manual_seed(0)
    model = TimeSformerModel(TimeSformerConfig(**{**TINY, "num_hidden_layers": 3}))
    assert torch.count_nonzero(model.embeddings.time_embeddings) == 0
    assert model.embeddings.cls_token.abs().sum() > 0 and model.embeddings.position_embeddings.abs().sum() > 0
    fcs = [layer.attentions["time"].fc for layer in model.layers]
    assert fcs[0].weight.abs().sum() > 0
    for fc in fcs[1:]:  # zero in every block but the first: a fresh model starts as per-frame attention
        assert torch.count_nonzero(fc.weight) == 0 and torch.count_nonzero(fc.bias) == 0
    assert model.layers[0].attentions["space"].attention.qkv.weight.std() < 0.03


@pytest.mark.parametrize("attention_type", ["divided_space_time", "joint_space_time", "axial"])
def test_zero_time_embeddings_leave_a_fresh_model_blind_to_frame_order(attention_type):
    # The original's zero time table (see test_init_follows_the_original): the rest of the network treats the
    # frames alike (per-frame patches, attention without order), so shuffling the frames of a fresh model's input
    # does not change its logits. Trained from scratch, only the time table can learn the order of frames (the
    # motion benchmark's TimeSformer rows). A time table that differs across frames breaks the symmetry.
    torch.manual_seed(0)
    pixel_values = torch.randn(2, 4, 3, 32, 32)
    shuffled = pixel_values[:, [2, 0, 3, 1]]
    model = TimeSformerForVideoClassification(TimeSformerConfig(**TINY, attention_type=attention_type, num_labels=3))
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(pixel_values).logits, model(shuffled).logits, atol=1e-6)
        model.timesformer.embeddings.time_embeddings.normal_(std=0.02)
        assert not torch.allclose(model(pixel_values).logits, model(shuffled).logits, atol=1e-5)


@pytest.mark.parametrize(
    "overrides",
    [
        {"attention_type": "spatio_temporal"},
        {"hidden_size": 30, "num_attention_heads": 4},
        {"drop_path_rate": 1.5},
        {"image_size": 8, "patch_size": 16},
        {"global_stride": 0},
        {"local_window_size": [0, 2]},
    ],
)
def test_config_rejects_invalid_values(overrides):
    with pytest.raises(Exception, match="must|attention_type"):
        TimeSformerConfig(**{**TINY, **overrides})


# ---- the shared attention layer ---------------------------------------------------------------------------


def test_attention_explicit_path_matches_sdpa_with_masks_and_bias():
    torch.manual_seed(0)
    attention = MultiHeadSelfAttention(16, 4).eval()
    x = torch.randn(2, 7, 16)
    mask = torch.rand(2, 1, 7, 7) > 0.4
    mask |= torch.eye(7, dtype=torch.bool)  # every query keeps at least itself
    bias = torch.randn(1, 4, 7, 7)
    for extra in (None, mask, bias):
        fast, none = attention(x, attention_bias=extra)
        slow, probs = attention(x, attention_bias=extra, output_attentions=True)
        assert none is None and probs.shape == (2, 4, 7, 7)
        assert torch.allclose(fast, slow, atol=1e-5)
        assert torch.allclose(probs.sum(-1), torch.ones(2, 4, 7))
    _, probs = attention(x, attention_bias=mask, output_attentions=True)
    assert torch.all(probs.masked_select(~mask.expand_as(probs)) == 0)


def test_attention_qkv_layout_is_q_k_v_with_contiguous_heads():
    """Rows [q; k; v], head h at rows h * head_dim ... : computed by hand for one head of one query."""
    torch.manual_seed(0)
    attention = MultiHeadSelfAttention(8, 2, qkv_bias=False).eval()
    x = torch.randn(1, 3, 8)
    _, probs = attention(x, output_attentions=True)
    weight = attention.qkv.weight
    head, head_dim = 1, 4
    q = x[0] @ weight[0 * 8 + head * head_dim : 0 * 8 + (head + 1) * head_dim].T
    k = x[0] @ weight[1 * 8 + head * head_dim : 1 * 8 + (head + 1) * head_dim].T
    expected = ((q @ k.T) * head_dim**-0.5).softmax(-1)
    assert torch.allclose(probs[0, head], expected, atol=1e-6)
