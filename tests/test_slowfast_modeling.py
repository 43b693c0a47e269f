"""SlowFast through the shared conformance suite (tiny config), plus what is particular to SlowFast: the Slow
frames taken inside the model, both pathways given explicitly, the head's pool window, non-local blocks, the
pathway ablation and the registered small config."""

from __future__ import annotations

import json

import pytest
import torch

from hf_videomodels.models.slowfast import (
    ARCHITECTURE,
    SlowFastConfig,
    SlowFastForVideoClassification,
    SlowFastModel,
    SlowFastVideoProcessor,
    slow_frame_indices,
)
from hf_videomodels.models.slowfast.modeling_slowfast import SlowFastBottleneck, SlowFastNonLocal

from .conformance import VideoModelConformance
from .conftest import REFERENCE_DIR, require_shared
from .utils import randomize_batch_norm

# R50 topology (3, 4, 6, 3 blocks, both pathways, lateral convs) at width 8: the suite runs in seconds.
TINY = {"num_frames": 8, "image_size": 64, "width_per_group": 8, "depths": [1, 1, 1, 1], "dropout_prob": 0.0}


class TestSlowFastConformance(VideoModelConformance):
    config_class = SlowFastConfig
    base_model_class = SlowFastModel
    classification_model_class = SlowFastForVideoClassification
    video_processor_class = SlowFastVideoProcessor
    has_attentions = False

    def make_config(self, **overrides):
        return SlowFastConfig(**{**TINY, "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        shape = (batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)
        return torch.rand(shape, generator=generator) * 2 - 1

    def expected_hidden_state_shapes(self, config, pixel_values):
        """Stem (stride 4 in space) then res2..res5 (strides 1, 2, 2, 2), Slow then Fast; time never strided."""
        batch, frames, _, height, width = pixel_values.shape
        times = {"slow": frames // config.alpha, "fast": frames}
        shapes = []
        for stage in range(5):
            scale = 4 * 2 ** max(stage - 1, 0)
            for pathway in ("slow", "fast"):
                channels = config.stage_channels(pathway)[stage]
                shapes.append((batch, channels, times[pathway], height // scale, width // scale))
        return shapes


# ---- SlowFast specifics ------------------------------------------------------------------------------------


def test_slow_frame_indices_match_the_original_loader():
    fixture = json.loads(require_shared(REFERENCE_DIR / "slowfast" / "parity" / "fixtures.json").read_text())
    for alpha, indices in fixture["slow_frame_indices_from_fast"].items():
        assert slow_frame_indices(32, int(alpha)).tolist() == indices
    assert slow_frame_indices(64, 4).tolist()[:4] == [0, 4, 8, 12]


def _tiny_model(seed=0, **overrides):
    torch.manual_seed(seed)
    model = SlowFastForVideoClassification(SlowFastConfig(**{**TINY, "num_labels": 4, **overrides})).eval()
    randomize_batch_norm(model)  # the zero-initialised final BatchNorms would hide most of the network
    return model


def test_derived_slow_pathway_equals_explicit_pair():
    model = _tiny_model()
    clip = torch.randn(2, 16, 3, 64, 64)
    slow = clip[:, slow_frame_indices(16, 4)]
    with torch.no_grad():
        derived = model(clip, output_hidden_states=True)
        explicit = model(clip, slow_pixel_values=slow, output_hidden_states=True)
        other_slow = model(clip, slow_pixel_values=clip[:, ::4] * 0.5).logits
    assert torch.equal(derived.logits, explicit.logits)
    assert not torch.allclose(derived.logits, other_slow)  # the explicit Slow clip is really used
    assert derived.hidden_states[0].shape[2] == 4 and derived.hidden_states[1].shape[2] == 16


@pytest.mark.parametrize("frames", [6, 2])
def test_frames_not_a_multiple_of_alpha_raise(frames):
    model = _tiny_model()
    with pytest.raises(ValueError, match=r"pixel_values has \d+ frames.*multiple of alpha=4"):
        model(torch.randn(1, frames, 3, 64, 64))


def test_mismatched_slow_pathway_raises():
    model = _tiny_model()
    with pytest.raises(ValueError, match="slow_pixel_values"):
        model(torch.randn(1, 8, 3, 64, 64), slow_pixel_values=torch.randn(1, 3, 3, 64, 64))
    with pytest.raises(ValueError, match="slow_pixel_values"):
        model(torch.randn(1, 8, 3, 64, 64), slow_pixel_values=torch.randn(1, 2, 3, 32, 32))


def test_head_pool_window_on_larger_inputs():
    """At the training size the head pools the whole map; on a larger map it averages the windows' features."""
    model = _tiny_model()
    assert model.config.head_pool_sizes == ((2, 2, 2), (8, 2, 2))
    with torch.no_grad():
        outputs = model.slowfast(torch.randn(1, 8, 3, 96, 96))
    slow = outputs.last_hidden_state  # (1, C, 2, 3, 3)
    windows = torch.nn.functional.avg_pool3d(slow, (2, 2, 2), stride=1)  # 1 x 2 x 2 positions
    expected = windows.mean(dim=(2, 3, 4))
    torch.testing.assert_close(outputs.pooler_output[:, : slow.shape[1]], expected, rtol=0, atol=1e-6)
    assert not torch.allclose(expected, slow.mean(dim=(2, 3, 4)))


def test_pathway_logits_split_the_prediction():
    model = _tiny_model()
    clip = torch.randn(2, 8, 3, 64, 64)
    parts = model.pathway_logits(clip)
    with torch.no_grad():
        logits = model(clip).logits
    torch.testing.assert_close(parts["both"], logits, rtol=0, atol=1e-6)
    # Linear head: both = slow + fast - bias.
    torch.testing.assert_close(parts["slow"] + parts["fast"] - model.classifier.bias, logits, rtol=0, atol=1e-5)
    assert not torch.allclose(parts["slow"], parts["fast"])


def test_r101_variants_shapes_and_parameter_counts():
    """The published parameter counts (MODEL_ZOO) follow from the config alone (meta device, no memory)."""
    variants = {
        "4x16_R50": ({"alpha": 8, "fusion_kernel_size": 5}, 34_480_216),
        "8x8_R50": ({}, 34_566_488),
        "8x8_R101": ({"depths": [3, 4, 23, 3], "fusion_kernel_size": 5}, 62_826_968),
        "R101_50_50": (
            {"depths": [3, 4, 23, 3], "fusion_kernel_size": 5, "slow_temporal_kernel_blocks": [3, 4, 6, 3],
             "fast_temporal_kernel_blocks": [3, 4, 6, 3]},
            53_774_808,
        ),
        "R101_50_101": (
            {"depths": [3, 4, 23, 3], "fusion_kernel_size": 5, "slow_temporal_kernel_blocks": [3, 4, 6, 3]},
            53_914_072,
        ),
    }
    for name, (overrides, count) in variants.items():
        with torch.device("meta"):
            model = SlowFastForVideoClassification(SlowFastConfig(num_labels=400, **overrides))
        assert sum(p.numel() for p in model.parameters()) == count, name
    with torch.device("meta"):
        model = SlowFastModel(SlowFastConfig()).eval()
        outputs = model(torch.empty(1, 32, 3, 224, 224), output_hidden_states=True)
    table = [
        (64, 8, 56, 56), (8, 32, 56, 56), (256, 8, 56, 56), (32, 32, 56, 56), (512, 8, 28, 28), (64, 32, 28, 28),
        (1024, 8, 14, 14), (128, 32, 14, 14), (2048, 8, 7, 7), (256, 32, 7, 7),
    ]
    assert [tuple(h.shape[1:]) for h in outputs.hidden_states] == table
    assert tuple(outputs.pooler_output.shape) == (1, 2304)


@pytest.mark.parametrize("instantiation", ["dot_product", "softmax"])
def test_nonlocal_blocks(instantiation):
    model = _tiny_model(
        slow_nonlocal_blocks=[[], [0], [0], []], fast_nonlocal_blocks=[[0], [], [], []],
        nonlocal_instantiation=instantiation,
    )
    blocks = [m for m in model.modules() if isinstance(m, SlowFastNonLocal)]
    assert len(blocks) == 3
    assert "slowfast.slow.stages.2.nonlocal_blocks.0.theta.weight" in model.state_dict()
    block = blocks[0]
    x = torch.randn(2, block.theta.in_channels, 2, 4, 4)
    with torch.no_grad():
        torch.nn.init.zeros_(block.bn.weight), torch.nn.init.zeros_(block.bn.bias)
        assert torch.equal(block(x), x)  # zero-initialised final BatchNorm: the identity at start
        torch.nn.init.ones_(block.bn.weight)
        # Reference computation of the non-local operation, written out.
        q = block.theta(x).flatten(2)
        pooled = torch.nn.functional.max_pool3d(x, (1, 2, 2), (1, 2, 2))
        k, v = block.phi(pooled).flatten(2), block.g(pooled).flatten(2)
        affinity = torch.einsum("ncq,nck->nqk", q, k)
        if instantiation == "softmax":
            affinity = (affinity * q.shape[1] ** -0.5).softmax(-1)
        else:
            affinity = affinity / k.shape[2]
        attended = torch.einsum("nqk,nck->ncq", affinity, v).reshape(2, -1, 2, 4, 4)
        expected = x + block.bn(block.out(attended))
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)
        assert torch.isfinite(model(torch.randn(1, 8, 3, 64, 64)).logits).all()


# PySlowFast's NONLOCAL.LOCATION of its two non-local SlowFast configs: per stage (res2 .. res5), [Slow, Fast].
NLN_LOCATIONS = {
    "SLOWFAST_NLN_8x8_R50": ([3, 4, 6, 3], [[[], []], [[1, 3], []], [[1, 3, 5], []], [[], []]]),
    "SLOWFAST_NLN_16x8_R101_50_50": ([3, 4, 23, 3], [[[], []], [[], []], [[6, 13, 20], []], [[], []]]),
}


@pytest.mark.parametrize("instantiation", ["dot_product", "softmax"])
@pytest.mark.parametrize("pool", [(1, 2, 2), (1, 1, 1), (2, 2, 2)])
@pytest.mark.parametrize("shape", [(2, 64, 4, 14, 14), (1, 32, 3, 7, 5)])
def test_nonlocal_block_matches_pytorchvideo(instantiation, pool, shape):
    """Our block against pytorchvideo's ``NonLocal`` (the same operation as PySlowFast's ``Nonlocal``) with the
    same random weights and BatchNorm statistics, at a res4-like and an odd size (the max-pool floors 7 x 5)."""
    from pytorchvideo.layers.nonlocal_net import create_nonlocal

    channels = shape[1]
    config = SlowFastConfig(**TINY, nonlocal_instantiation=instantiation, nonlocal_pool_size=list(pool))
    torch.manual_seed(0)
    theirs = create_nonlocal(
        dim_in=channels, dim_inner=channels // 2, pool_size=pool, instantiation=instantiation,
        norm_eps=config.batch_norm_eps, norm_momentum=config.batch_norm_momentum,
    ).eval()  # fmt: skip
    randomize_batch_norm(theirs)
    ours = SlowFastNonLocal(config, channels).eval()
    renames = {"conv_theta": "theta", "conv_phi": "phi", "conv_g": "g", "conv_out": "out", "norm": "bn"}
    ours.load_state_dict({renames[k.split(".")[0]] + k[k.index("."):]: v for k, v in theirs.state_dict().items()})
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = theirs(x), ours(x)
    assert (expected - x).abs().max() > 0.1  # the non-local branch contributes
    assert (actual - expected).abs().max() <= 1e-5


def test_nonlocal_block_at_res3_size_is_as_exact_as_pytorchvideo():
    """At SlowFast R50's res3 size (512 channels, 8 x 28 x 28) the branch reaches ~40 and float32 rounding alone
    moves either implementation ~2e-5 from the float64 result; our dot-product form, ``q (k^T v) / P``, stays as
    close to it as pytorchvideo's ``(q k^T / P) v``."""
    from pytorchvideo.layers.nonlocal_net import create_nonlocal

    torch.manual_seed(0)
    theirs = create_nonlocal(dim_in=512, dim_inner=256, pool_size=(1, 2, 2), instantiation="dot_product").eval()
    randomize_batch_norm(theirs)
    ours = SlowFastNonLocal(SlowFastConfig(**TINY), 512).eval()
    renames = {"conv_theta": "theta", "conv_phi": "phi", "conv_g": "g", "conv_out": "out", "norm": "bn"}
    ours.load_state_dict({renames[k.split(".")[0]] + k[k.index("."):]: v for k, v in theirs.state_dict().items()})
    x = torch.randn(1, 512, 8, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours_out, theirs_out = ours(x).double(), theirs(x).double()
        exact = theirs.double()(x.double())
    assert (ours_out - theirs_out).abs().max() <= 1e-4
    assert (ours_out - exact).abs().max() <= 1.5 * (theirs_out - exact).abs().max()


def test_fresh_nonlocal_blocks_start_as_the_identity_like_pyslowfast():
    """PySlowFast zero-initialises the block's final BatchNorm (``transform_final_bn``, with the SlowFast configs'
    ``ZERO_INIT_FINAL_BN: True``) and not its output conv (``zero_init`` is set but never read)."""
    model = SlowFastForVideoClassification(SlowFastConfig(**TINY, slow_nonlocal_blocks=[[], [0], [], []])).eval()
    (block,) = [m for m in model.modules() if isinstance(m, SlowFastNonLocal)]
    assert not block.bn.weight.any() and not block.bn.bias.any()
    assert block.out.weight.any() and block.theta.weight.any()
    x = torch.randn(1, block.theta.in_channels, 2, 4, 4)
    with torch.no_grad():
        assert torch.equal(block(x), x)


@pytest.mark.parametrize("name", NLN_LOCATIONS)
def test_nonlocal_blocks_run_where_pyslowfast_location_puts_them(name):
    """PySlowFast's ``ResStage`` runs, per pathway, block ``i`` and then ``pathway{p}_nonlocal{i}`` when ``i`` is in
    ``LOCATION[stage][p]``; our stages run in that order (hooks record it), from the converter's reading of
    LOCATION."""
    from conversion.convert_slowfast_pyslowfast import nonlocal_blocks_from_location

    depths, location = NLN_LOCATIONS[name]
    settings = nonlocal_blocks_from_location(location)
    model = SlowFastModel(SlowFastConfig(**{**TINY, "depths": depths, "image_size": 32}, **settings)).eval()
    expected, order = [], []
    for p, pathway in enumerate(("slow", "fast")):
        for stage, depth in enumerate(depths):
            for block in range(depth):
                expected.append(f"s{stage + 2}.pathway{p}_res{block}")
                if block in location[stage][p]:
                    expected.append(f"s{stage + 2}.pathway{p}_nonlocal{block}")
                our_stage = getattr(model, pathway).stages[stage]
                modules = [(our_stage.blocks[block], f"s{stage + 2}.pathway{p}_res{block}")]
                if str(block) in our_stage.nonlocal_blocks:
                    modules.append((our_stage.nonlocal_blocks[str(block)], f"s{stage + 2}.pathway{p}_nonlocal{block}"))
                for module, label in modules:
                    module.register_forward_hook(lambda *_, label=label: order.append(label))
    with torch.no_grad():
        model(torch.randn(1, 8, 3, 32, 32))
    for p in range(2):  # the pathways interleave stage by stage; within each, the order is PySlowFast's
        assert [x for x in order if f".pathway{p}_" in x] == [x for x in expected if f".pathway{p}_" in x]
    assert sum("nonlocal" in x for x in order) == sum(len(stage[0]) + len(stage[1]) for stage in location)


def test_config_validation():
    with pytest.raises(Exception, match="multiple of alpha"):
        SlowFastConfig(num_frames=30)
    with pytest.raises(Exception, match="beta_inv"):
        SlowFastConfig(width_per_group=12)
    with pytest.raises(Exception, match="fast_temporal_kernel_blocks"):
        SlowFastConfig(fast_temporal_kernel_blocks=[3, 4, 7, 3])
    with pytest.raises(Exception, match="nonlocal_instantiation"):
        SlowFastConfig(nonlocal_instantiation="gaussian")
    config = SlowFastConfig(depths=[3, 4, 23, 3], slow_temporal_kernel_blocks=[3, 4, 6, 3])
    assert config.fast_temporal_kernel_blocks == [3, 4, 23, 3]
    assert config.temporal_kernels("slow")[2] == [3] * 6 + [1] * 17


def test_bottlenecks_are_checkpointing_layers():
    model = SlowFastForVideoClassification(SlowFastConfig(**TINY, num_labels=2))
    blocks = [m for m in model.modules() if isinstance(m, SlowFastBottleneck)]
    assert len(blocks) == 2 * sum(TINY["depths"])
    model.activation_checkpointing_enable()
    assert all(block.gradient_checkpointing for block in blocks)


def test_small_config_learns_shape():
    """The registered small config builds a small model for the demo's 16-frame 64x64 clips."""
    config = SlowFastConfig(**ARCHITECTURE.small_config, num_labels=3)
    model = SlowFastForVideoClassification(config).eval()
    assert sum(p.numel() for p in model.parameters()) < 3_000_000
    with torch.no_grad():
        assert model(torch.randn(1, 16, 3, 64, 64)).logits.shape == (1, 3)


def test_processor_reproduces_the_kinetics_recipe():
    processor = SlowFastVideoProcessor()
    assert (processor.num_frames, processor.frame_sample_rate, processor.target_fps) == (32, 2, 30)
    assert (processor.size.shortest_edge, processor.crop_size.height, processor.crop_size.width) == (256, 224, 224)
    assert list(processor.image_mean) == [0.45] * 3 and list(processor.image_std) == [0.225] * 3
    assert (processor.clip_alignment, processor.short_video) == ("start", "clamp")
    # The test protocol, 10 clips x 3 crops, on a small frame size: 30 views of the Fast clip, clip-major.
    video = torch.randint(0, 256, (150, 64, 96, 3), dtype=torch.uint8).numpy()  # short side already 64
    views = processor(
        video, video_metadata={"fps": 30}, num_clips=10, num_crops=3, size={"shortest_edge": 64},
        crop_size={"height": 64, "width": 64}, return_tensors="pt",
    )["pixel_values"]
    assert views.shape == (1, 30, 32, 3, 64, 64)
    # Clip 0 spans 32 * 2 frames from the first; PySlowFast spreads 32 indices over it with linspace (0, 2, ..., 60, 63).
    indices = torch.linspace(0, 63, 32).long().numpy()
    expected = (torch.from_numpy(video[indices, :, :64]).float() / 255 - 0.45) / 0.225  # clip 0, left crop
    frames = views[0, 0].permute(0, 2, 3, 1)
    torch.testing.assert_close(frames, expected, rtol=0, atol=1e-5)
