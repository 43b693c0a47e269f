"""I3D through the shared conformance suite (tiny config), plus what is particular to I3D: TensorFlow 'SAME'
padding, the head's minimum input size, temporal pooling and channels_last_3d."""

from __future__ import annotations

import pytest
import torch

from hf_videomodels.layers import ConvBNAct3d, same_tf_padding
from hf_videomodels.models.i3d import I3DConfig, I3DForVideoClassification, I3DModel, I3DVideoProcessor
from hf_videomodels.models.i3d.modeling_i3d import I3DInceptionBlock

from .conformance import VideoModelConformance
from .utils import randomize_batch_norm

# Inception-V1 topology with narrow channels: the whole suite runs in seconds on a CPU.
TINY = {
    "num_frames": 16,
    "image_size": 64,
    "stem_channels": [8, 8, 16],
    "inception_channels": [[4, 4, 8, 2, 4, 4]] * 4 + [[8, 4, 8, 2, 4, 4]] * 5,
    "pooler_kernel_size": [1, 2, 2],  # mixed_5c is 2 x 2 x 2 for 16 x 64 x 64 inputs
    "dropout_prob": 0.0,
}


def _ceil_half(n: int) -> int:
    return -(-n // 2)


class TestI3DConformance(VideoModelConformance):
    config_class = I3DConfig
    base_model_class = I3DModel
    classification_model_class = I3DForVideoClassification
    video_processor_class = I3DVideoProcessor
    has_attentions = False

    def make_config(self, **overrides):
        return I3DConfig(**{**TINY, "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        shape = (batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)
        return torch.rand(shape, generator=generator) * 2 - 1

    def expected_hidden_state_shapes(self, config, pixel_values):
        """Stem convs then Inception blocks; every stride-2 stage rounds up (TensorFlow 'SAME')."""
        batch, time, _, height, width = pixel_values.shape
        time, height, width = _ceil_half(time), _ceil_half(height), _ceil_half(width)  # conv_1a, stride 2
        stem_1a, stem_2b, stem_2c = config.stem_channels
        shapes = [(batch, stem_1a, time, height, width)]
        height, width = _ceil_half(height), _ceil_half(width)  # pool_2a, (1, 2, 2)
        shapes += [(batch, stem_2b, time, height, width), (batch, stem_2c, time, height, width)]
        height, width = _ceil_half(height), _ceil_half(width)  # pool_3a
        for index, block in enumerate(config.inception_channels):
            if index in (2, 7):  # pool_4a before mixed_4b, pool_5a before mixed_5b: stride 2 everywhere
                time, height, width = _ceil_half(time), _ceil_half(height), _ceil_half(width)
            shapes.append((batch, block[0] + block[2] + block[4] + block[5], time, height, width))
        return shapes


# ---- I3D specifics -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (16, 7, 2, (2, 3)),  # conv_1a in time (the reference README's table for 16 x 224 x 224)
        (224, 7, 2, (2, 3)),  # conv_1a in space
        (112, 3, 2, (0, 1)),  # pool_2a / pool_3a in space
        (8, 3, 2, (0, 1)),  # pool_4a in time
        (28, 3, 2, (0, 1)),  # pool_4a in space
        (4, 2, 2, (0, 0)),  # pool_5a, even size
        (7, 2, 2, (0, 1)),  # pool_5a on the 28-frame clip's odd time size: asymmetric
        (56, 3, 1, (1, 1)),  # every stride-1 3x3x3 conv / pool
        (225, 7, 2, (3, 3)),  # odd size with stride 2: symmetric
        (5, 1, 1, (0, 0)),
    ],
)
def test_same_tf_padding_amounts(size, kernel, stride, expected):
    assert same_tf_padding(size, kernel, stride) == expected


@pytest.mark.parametrize("size", [(5, 9, 8), (4, 8, 7)])
@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (7, 2), ((1, 3, 3), (1, 2, 2)), (2, 2)])
def test_same_tf_conv_unit_matches_explicit_padding(size, kernel, stride):
    """'same_tf' in ConvBNAct3d (static padding for stride 1, padding in forward otherwise) against F.pad + conv."""
    torch.manual_seed(0)
    unit = ConvBNAct3d(3, 4, kernel, stride=stride, padding="same_tf", batch_norm=False, activation=None)
    x = torch.randn(2, 3, *size)
    kernels, strides = unit.conv.kernel_size, unit.conv.stride
    pads = [p for dim in (2, 1, 0) for p in same_tf_padding(size[dim], kernels[dim], strides[dim])]
    expected = torch.nn.functional.conv3d(torch.nn.functional.pad(x, pads), unit.conv.weight, stride=strides)
    actual = unit(x)
    assert actual.shape[2:] == tuple(-(-n // s) for n, s in zip(size, strides))  # ceil(size / stride)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5)


def test_conv_unit_symmetric_padding_for_other_architectures():
    unit = ConvBNAct3d(3, 8, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), eps=1e-5, momentum=0.1)
    assert unit.conv.padding == (1, 3, 3) and not unit.pad_in_forward
    assert unit.bn.eps == 1e-5 and isinstance(unit.act, torch.nn.ReLU)
    assert unit(torch.randn(1, 3, 4, 16, 16)).shape == (1, 8, 4, 8, 8)
    with pytest.raises(ValueError, match="same_tf"):
        ConvBNAct3d(3, 8, 3, padding="same")


def test_full_size_shapes_match_reference_table():
    # Shapes only, so the full-size model runs on the meta device: no memory, no compute.
    with torch.device("meta"):
        model = I3DModel(I3DConfig()).eval()
        outputs = model(torch.empty(1, 16, 3, 224, 224), output_hidden_states=True)
    table = [
        (64, 8, 112, 112),  # conv_1a
        (64, 8, 56, 56),  # conv_2b
        (192, 8, 56, 56),  # conv_2c
        (256, 8, 28, 28),  # mixed_3b
        (480, 8, 28, 28),  # mixed_3c
        (512, 4, 14, 14),  # mixed_4b
        (512, 4, 14, 14),  # mixed_4c
        (512, 4, 14, 14),  # mixed_4d
        (528, 4, 14, 14),  # mixed_4e
        (832, 4, 14, 14),  # mixed_4f
        (832, 2, 7, 7),  # mixed_5b
        (1024, 2, 7, 7),  # mixed_5c
    ]
    assert [tuple(h.shape[1:]) for h in outputs.hidden_states] == table
    assert tuple(outputs.last_hidden_state.shape) == (1, 1024, 2, 7, 7)
    assert tuple(outputs.pooler_output.shape) == (1, 1024, 1, 1, 1)


@pytest.mark.parametrize(
    ("frames", "side", "time_steps"), [(9, 193, 1), (16, 224, 1), (28, 224, 3), (64, 224, 7), (64, 256, 7)]
)
def test_per_time_logits_count(frames, side, time_steps):
    config = I3DConfig(num_labels=5)
    with torch.device("meta"):
        model = I3DForVideoClassification(config).eval()
        per_time = model.temporal_logits(torch.empty(2, frames, 3, side, side))
        clip = model(torch.empty(2, frames, 3, side, side)).logits
    assert config.num_output_steps(frames) == time_steps
    assert tuple(per_time.shape) == (2, 5, time_steps)
    assert tuple(clip.shape) == (2, 5)


@pytest.mark.parametrize(("frames", "height", "width"), [(8, 224, 224), (16, 192, 224), (16, 224, 192)])
def test_input_too_small_raises_with_minimum(frames, height, width):
    with torch.device("meta"):
        model = I3DModel(I3DConfig()).eval()
        with pytest.raises(ValueError, match=r"too small .* at least 9 frames of 193x193 pixels"):
            model(torch.empty(1, frames, 3, height, width))


def test_minimum_follows_pooler_kernel():
    assert I3DConfig().min_input_size == (9, 193, 193)
    assert I3DConfig(**TINY).min_input_size == (1, 33, 33)
    with pytest.raises(Exception, match="too small"):
        I3DConfig(num_frames=8)
    with pytest.raises(Exception, match="temporal_pooling"):
        I3DConfig(temporal_pooling="median")
    with pytest.raises(Exception, match="inception_channels"):
        I3DConfig(inception_channels=[[1, 2, 3, 4, 5, 6]] * 8)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_temporal_pooling_of_per_time_logits(pooling):
    torch.manual_seed(0)
    model = I3DForVideoClassification(I3DConfig(**{**TINY, "num_frames": 32}, temporal_pooling=pooling)).eval()
    pixel_values = torch.randn(2, 32, 3, 64, 64)
    with torch.no_grad():
        per_time = model.temporal_logits(pixel_values)
        logits = model(pixel_values).logits
    assert per_time.shape == (2, 2, 4)
    assert not torch.allclose(per_time.amax(-1), per_time.mean(-1))
    expected = per_time.amax(-1) if pooling == "max" else per_time.mean(-1)
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-6)


def test_channels_last_3d_same_output():
    torch.manual_seed(0)
    model = I3DForVideoClassification(I3DConfig(**TINY, num_labels=4)).eval()
    randomize_batch_norm(model)
    pixel_values = torch.randn(2, 16, 3, 64, 64)
    with torch.no_grad():
        expected = model(pixel_values, output_hidden_states=True)
        model.to(memory_format=torch.channels_last_3d)
        assert model.i3d.conv_1a.conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
        actual = model(pixel_values, output_hidden_states=True)
    torch.testing.assert_close(actual.logits, expected.logits, rtol=0, atol=1e-5)
    for got, want in zip(actual.hidden_states, expected.hidden_states):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_inception_blocks_are_checkpointing_layers():
    model = I3DForVideoClassification(I3DConfig(**TINY, num_labels=2))
    blocks = [m for m in model.modules() if isinstance(m, I3DInceptionBlock)]
    assert len(blocks) == 9
    model.activation_checkpointing_enable()
    assert all(block.gradient_checkpointing for block in blocks)
