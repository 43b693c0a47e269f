"""VideoResNet through the shared conformance suite (a tiny R(2+1)D), plus what is particular to the family: the
three block convolutions (R3D, MC3, R(2+1)D) and their strides, the (2+1)D widths, init by role and
channels_last_3d."""

from __future__ import annotations

import pytest
import torch

from hf_videomodels.models.video_resnet import (
    ARCHITECTURE,
    VideoResNetConfig,
    VideoResNetForVideoClassification,
    VideoResNetModel,
    VideoResNetVideoProcessor,
)
from hf_videomodels.models.video_resnet.modeling_video_resnet import VideoResNetBasicBlock, factorized_midplanes

from .conformance import VideoModelConformance
from .utils import randomize_batch_norm

# The family's topology with narrow channels: the whole suite runs in seconds on a CPU.
TINY = {
    "num_frames": 8,
    "image_size": 32,
    "stem_channels": 8,
    "stem_mid_channels": 6,
    "depths": [1, 2, 1, 1],
    "hidden_sizes": [8, 12, 16, 16],
}
VARIANTS = {
    "r3d": {"convolution": "3d", "stem_type": "basic"},
    "mc3": {"convolution": "mixed", "stem_type": "basic"},
    "r2plus1d": {"convolution": "2plus1d", "stem_type": "2plus1d"},
}


def _ceil_half(n: int) -> int:
    return -(-n // 2)


def expected_shapes(config: VideoResNetConfig, pixel_values: torch.Tensor) -> list[tuple[int, ...]]:
    """Stem (space / 2), then the stages; each strided stage halves space, and time unless its convolution is 2D."""
    batch, time, _, height, width = pixel_values.shape
    height, width = _ceil_half(height), _ceil_half(width)
    shapes = [(batch, config.stem_channels, time, height, width)]
    for stage, channels in enumerate(config.hidden_sizes):
        if stage > 0:
            height, width = _ceil_half(height), _ceil_half(width)
            if config.stage_convolution(stage) != "2d":
                time = _ceil_half(time)
        shapes.append((batch, channels, time, height, width))
    return shapes


class TestVideoResNetConformance(VideoModelConformance):
    config_class = VideoResNetConfig
    base_model_class = VideoResNetModel
    classification_model_class = VideoResNetForVideoClassification
    video_processor_class = VideoResNetVideoProcessor
    has_attentions = False

    def make_config(self, **overrides):
        return VideoResNetConfig(**{**TINY, **VARIANTS["r2plus1d"], "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        shape = (batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)
        return torch.randn(shape, generator=generator)

    def expected_hidden_state_shapes(self, config, pixel_values):
        return expected_shapes(config, pixel_values)


# ---- the three block convolutions -------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("size", [(8, 32, 32), (7, 19, 25), (1, 1, 1)])
def test_variant_shapes_and_batch_consistency(variant, size):
    torch.manual_seed(0)
    config = VideoResNetConfig(**TINY, **VARIANTS[variant], num_labels=5)
    model = VideoResNetForVideoClassification(config).eval()
    randomize_batch_norm(model)
    frames, height, width = size
    pixel_values = torch.randn(2, frames, 3, height, width)
    with torch.no_grad():
        outputs = model(pixel_values, output_hidden_states=True)
        single = model(pixel_values[1:]).logits
    assert [tuple(h.shape) for h in outputs.hidden_states] == expected_shapes(config, pixel_values)
    assert outputs.logits.shape == (2, 5) and torch.isfinite(outputs.logits).all()
    torch.testing.assert_close(single[0], outputs.logits[1], rtol=0, atol=1e-5)


def test_convolution_kinds_per_stage():
    kernels = {}
    for variant, settings in VARIANTS.items():
        model = VideoResNetModel(VideoResNetConfig(**TINY, **settings))
        convs = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Conv3d)]
        kernels[variant] = [tuple(m.kernel_size) for name, m in convs if "conv1" in name]
    assert set(kernels["r3d"]) == {(3, 3, 3)}
    assert kernels["mc3"][:1] == [(3, 3, 3)] and set(kernels["mc3"][1:]) == {(1, 3, 3)}  # 3D in stage 1 only
    assert set(kernels["r2plus1d"]) == {(1, 3, 3), (3, 1, 1)}
    assert VideoResNetConfig(convolution="mixed", mixed_3d_stages=2).stage_convolution(2) == "2d"
    assert VideoResNetConfig(convolution="mixed", mixed_3d_stages=2).stage_convolution(1) == "3d"


@pytest.mark.parametrize(
    ("rule", "expected"), [("block_input", [230, 460, 921]), ("conv_input", [288, 576, 1152])]
)
def test_2plus1d_intermediate_widths(rule, expected):
    """torchvision sizes a block's second (2+1)D convolution from the block's input; Caffe2 from its own input."""
    with torch.device("meta"):
        model = VideoResNetModel(VideoResNetConfig(midplanes_from=rule))
    widths = [model.stages[stage].blocks[0].conv2.spatial.conv.out_channels for stage in (1, 2, 3)]
    assert widths == expected
    assert [model.stages[stage].blocks[0].conv1.spatial.conv.out_channels for stage in (1, 2, 3)] == [230, 460, 921]
    assert factorized_midplanes(64, 64) == 144


def test_zero_init_residual_starts_blocks_as_identity():
    torch.manual_seed(0)
    model = VideoResNetModel(VideoResNetConfig(**TINY, zero_init_residual=True)).eval()
    block = model.stages[0].blocks[0]  # no shortcut projection: 8 -> 8 channels, stride 1
    hidden = torch.rand(1, 8, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(hidden), hidden)
    assert torch.count_nonzero(block.conv2.temporal.bn.weight) == 0
    assert torch.count_nonzero(block.conv1.spatial.bn.weight) > 0


def test_init_by_role_keeps_activations_alive():
    """He init for every conv (2D-like 1x3x3 and 3D alike): a fresh deep model's features neither vanish nor explode."""
    torch.manual_seed(0)
    model = VideoResNetModel(VideoResNetConfig(depths=[3, 4, 6, 3], hidden_sizes=[16, 32, 64, 128], stem_channels=16))
    with torch.no_grad():
        features = model.eval()(torch.randn(1, 8, 3, 32, 32)).pooler_output
    assert 0.1 < features.std().item() < 100
    conv = model.stages[2].blocks[0].conv1.spatial.conv
    expected_std = (2 / (conv.weight[0].numel())) ** 0.5
    assert abs(conv.weight.std().item() / expected_std - 1) < 0.1


def test_channels_last_3d_same_output():
    torch.manual_seed(0)
    model = VideoResNetForVideoClassification(VideoResNetConfig(**TINY, num_labels=4)).eval()
    randomize_batch_norm(model)
    pixel_values = torch.randn(2, 8, 3, 32, 32)
    with torch.no_grad():
        expected = model(pixel_values, output_hidden_states=True)
        model.to(memory_format=torch.channels_last_3d)
        assert model.video_resnet.stem.spatial.conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
        actual = model(pixel_values, output_hidden_states=True)
    torch.testing.assert_close(actual.logits, expected.logits, rtol=0, atol=1e-5)
    for got, want in zip(actual.hidden_states, expected.hidden_states):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_blocks_are_checkpointing_layers():
    model = VideoResNetForVideoClassification(VideoResNetConfig(**TINY, num_labels=2))
    blocks = [m for m in model.modules() if isinstance(m, VideoResNetBasicBlock)]
    assert len(blocks) == sum(TINY["depths"])
    model.activation_checkpointing_enable()
    assert all(block.gradient_checkpointing for block in blocks)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"convolution": "4d"}, "convolution must be one of"),
        ({"stem_type": "r3d"}, "stem_type must be one of"),
        ({"midplanes_from": "paper"}, "midplanes_from must be one of"),
        ({"depths": [2, 2, 2]}, "depths must be four"),
        ({"hidden_sizes": [64, 128, 0, 512]}, "hidden_sizes must be four"),
        ({"mixed_3d_stages": 5}, "mixed_3d_stages"),
        ({"dropout_prob": 1.0}, "dropout_prob"),
    ],
)
def test_config_validation(overrides, message):
    with pytest.raises(Exception, match=message):  # huggingface_hub wraps the ValueError
        VideoResNetConfig(**overrides)


def test_small_config_learns_shapes():
    """The temporal benchmark's small configuration builds and runs on the demo's 16x64x64 clips."""
    config = VideoResNetConfig(**ARCHITECTURE.small_config, num_frames=16, num_labels=4)
    model = VideoResNetForVideoClassification(config)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    loss = model(torch.randn(2, 16, 3, 64, 64), labels=torch.tensor([0, 3])).loss
    loss.backward()
    assert torch.isfinite(loss)
    processor = VideoResNetVideoProcessor.for_model_config(config)
    assert (processor.crop_size.height, processor.size.height, processor.size.width) == (64, 73, 98)


def test_default_config_is_torchvision_r2plus1d_18():
    from torchvision.models.video import r2plus1d_18

    with torch.device("meta"):
        ours = VideoResNetForVideoClassification(VideoResNetConfig(num_labels=400))
        theirs = r2plus1d_18()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters()) == 31505325


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [
        ((1, 3, 3), (1, 2, 2), (0, 1, 1), 1),  # spatial half of a strided (2+1)D conv: frames folded into the batch
        ((1, 7, 7), (1, 2, 2), (0, 3, 3), 1),  # the (2+1)D stem
        ((1, 3, 3), 1, (0, 2, 2), (1, 2, 2)),
        ((3, 1, 1), (2, 1, 1), (1, 0, 0), 1),  # temporal half: height and width merged
        ((3, 1, 1), 1, (2, 0, 0), (2, 1, 1)),
        ((1, 1, 1), (1, 2, 2), 0, 1),  # 1x1x1 shortcut, MC3's 2D stages
        ((3, 3, 3), 2, 1, 1),  # not foldable: the 3D path
    ],
)
def test_conv3d_as_2d_matches_conv3d(kernel, stride, padding, dilation):
    from hf_videomodels.layers import Conv3dAs2d

    torch.manual_seed(0)
    reference = torch.nn.Conv3d(6, 5, kernel, stride=stride, padding=padding, dilation=dilation, bias=True)
    folded = Conv3dAs2d(6, 5, kernel, stride=stride, padding=padding, dilation=dilation, bias=True)
    folded.load_state_dict(reference.state_dict())
    x = torch.randn(2, 6, 7, 11, 13)
    for memory_format in (torch.contiguous_format, torch.channels_last_3d):
        folded.to(memory_format=memory_format)
        inputs = x.clone(memory_format=memory_format).requires_grad_()
        out = folded(inputs)
        if memory_format == torch.channels_last_3d:
            assert out.is_contiguous(memory_format=torch.channels_last_3d)
        torch.testing.assert_close(out, reference(x), rtol=1e-5, atol=1e-5)
        out.square().sum().backward()
        x_ref = x.clone().requires_grad_()  # x itself never requires grad
        reference.zero_grad()
        reference(x_ref).square().sum().backward()
        torch.testing.assert_close(inputs.grad, x_ref.grad, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(folded.weight.grad, reference.weight.grad, rtol=1e-4, atol=1e-4)
        folded.zero_grad()
