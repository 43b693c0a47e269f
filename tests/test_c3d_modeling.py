"""C3D through the shared conformance suite (tiny config), plus what is particular to C3D: the fixed fc6 input
(which clip sizes it takes, and the error naming the size needed), an independent functional C3D at odd clip
sizes, init roles and channels_last_3d."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from hf_videomodels.layers import conv3d_onednn_on_cpu
from hf_videomodels.models.c3d import ARCHITECTURE, C3DConfig, C3DForVideoClassification, C3DModel, C3DVideoProcessor
from hf_videomodels.models.c3d.configuration_c3d import CONV_NAMES

from .conformance import VideoModelConformance

# C3D's topology with narrow channels: 16 x 32 x 32 clips give a 1 x 2 x 2 pool5 map.
TINY = {
    "num_frames": 16,
    "image_size": 32,
    "conv_channels": [4, 8, 8, 8, 8, 8, 8, 8],
    "fc_size": 16,
    "dropout_prob": 0.0,
}


def conv_output_sizes(frames: int, height: int, width: int) -> list[tuple[int, int, int]]:
    """(time, height, width) after each of the eight convs, from the pools' arithmetic: pool1 halves space
    only, pool2-pool4 halve everything (floor), and the convs keep the size."""
    sizes = [(frames, height, width)]  # conv1
    height, width = height // 2, width // 2  # pool1
    sizes.append((frames, height, width))  # conv2
    for _ in range(3):  # pool2, pool3, pool4, each followed by an "a" and a "b" conv
        frames, height, width = frames // 2, height // 2, width // 2
        sizes += [(frames, height, width)] * 2
    return sizes


class TestC3DConformance(VideoModelConformance):
    config_class = C3DConfig
    base_model_class = C3DModel
    classification_model_class = C3DForVideoClassification
    video_processor_class = C3DVideoProcessor
    has_attentions = False

    def make_config(self, **overrides):
        return C3DConfig(**{**TINY, "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        # Raw 0-255 values, as the processor gives them.
        generator = torch.Generator().manual_seed(batch_size)
        shape = (batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)
        return torch.randint(0, 256, shape, generator=generator).float()

    def expected_hidden_state_shapes(self, config, pixel_values):
        batch, frames, _, height, width = pixel_values.shape
        sizes = conv_output_sizes(frames, height, width)
        return [(batch, channels, *size) for channels, size in zip(config.conv_channels, sizes)]


# ---- an independent C3D: the original forward written with torch.nn.functional -------------------------------


def functional_c3d(params: dict[str, torch.Tensor], clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """DavideA/c3d-pytorch's forward on a (batch, channels, time, height, width) clip with its state dict
    ``params``, generalised from ``view(-1, 8192)`` to fc6's actual input size: (pool5 map, fc8 logits)."""

    def conv(name, x):
        return F.relu(F.conv3d(x, params[f"{name}.weight"], params[f"{name}.bias"], padding=1))

    h = F.max_pool3d(conv("conv1", clip), (1, 2, 2), (1, 2, 2))
    h = F.max_pool3d(conv("conv2", h), 2, 2)
    h = F.max_pool3d(conv("conv3b", conv("conv3a", h)), 2, 2)
    h = F.max_pool3d(conv("conv4b", conv("conv4a", h)), 2, 2)
    pool5 = F.max_pool3d(conv("conv5b", conv("conv5a", h)), 2, 2, padding=(0, 1, 1))
    h = pool5.reshape(-1, params["fc6.weight"].shape[1])
    h = F.relu(F.linear(h, params["fc6.weight"], params["fc6.bias"]))
    h = F.relu(F.linear(h, params["fc7.weight"], params["fc7.bias"]))
    return pool5, F.linear(h, params["fc8.weight"], params["fc8.bias"])


def original_layout_params(config: C3DConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under the port's names, scaled so activations stay O(1) on 0-255 input."""
    generator = torch.Generator().manual_seed(seed)
    params, in_channels = {}, config.num_channels
    for index, (name, channels) in enumerate(zip(CONV_NAMES, config.conv_channels)):
        fan_in = in_channels * 27
        gain = 1 / 150 if index == 0 else 1.45
        params[f"{name}.weight"] = torch.randn(channels, in_channels, 3, 3, 3, generator=generator) * gain / fan_in**0.5
        params[f"{name}.bias"] = torch.randn(channels, generator=generator) * 0.02
        in_channels = channels
    shapes = {"fc6": (config.fc_size, config.fc6_in_features), "fc7": (config.fc_size, config.fc_size)}
    shapes["fc8"] = (config.num_labels, config.fc_size)
    for name, (out_features, in_features) in shapes.items():
        params[f"{name}.weight"] = torch.randn(out_features, in_features, generator=generator) * 1.45 / in_features**0.5
        params[f"{name}.bias"] = torch.randn(out_features, generator=generator) * 0.02
    return params


def load_original_params(model: C3DForVideoClassification, params: dict[str, torch.Tensor]) -> None:
    """The port's names -> ours, written out here independently of the converter."""
    ours = {}
    for name in CONV_NAMES:
        for kind in ("weight", "bias"):
            ours[f"c3d.{name}.conv.{kind}"] = params[f"{name}.{kind}"]
    for kind in ("weight", "bias"):
        ours[f"c3d.fc6.{kind}"], ours[f"c3d.fc7.{kind}"] = params[f"fc6.{kind}"], params[f"fc7.{kind}"]
        ours[f"classifier.{kind}"] = params[f"fc8.{kind}"]
    model.load_state_dict(ours, strict=True)


@pytest.mark.parametrize(
    ("frames", "image_size", "pool5"),
    [
        (40, [80, 144], (2, 3, 5)),  # odd clip length, non-square frames
        (23, [52, 97], (1, 2, 4)),  # odd sizes everywhere: every pool floors
    ],
)
def test_odd_sizes_match_functional_c3d(frames, image_size, pool5):
    config = C3DConfig(**{**TINY, "num_frames": frames, "image_size": image_size}, num_labels=5)
    assert config.pool5_size == pool5
    assert config.fc6_in_features == config.conv_channels[-1] * math.prod(pool5)
    params = original_layout_params(config)
    model = C3DForVideoClassification(config).eval()
    load_original_params(model, params)
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    clip = torch.randint(0, 256, (2, 3, frames, height, width), generator=torch.Generator().manual_seed(1)).float()
    with torch.no_grad():
        expected_pool5, expected_logits = functional_c3d(params, clip)
        outputs = model.c3d(clip.permute(0, 2, 1, 3, 4))
        logits = model(clip.permute(0, 2, 1, 3, 4)).logits
    assert tuple(expected_pool5.shape[2:]) == pool5  # the config's arithmetic agrees with PyTorch's pools
    assert logits.std() > 0.1  # not a degenerate comparison
    torch.testing.assert_close(outputs.last_hidden_state, expected_pool5, rtol=0, atol=1e-4)
    torch.testing.assert_close(logits, expected_logits, rtol=0, atol=1e-4)


def test_full_size_shapes_match_reference_table():
    with torch.device("meta"):
        model = C3DForVideoClassification(C3DConfig(num_labels=487)).eval()
        outputs = model.c3d(torch.empty(1, 16, 3, 112, 112), output_hidden_states=True)
        logits = model(torch.empty(1, 16, 3, 112, 112)).logits
    table = [
        (64, 16, 112, 112),  # conv1
        (128, 16, 56, 56),  # conv2
        (256, 8, 28, 28),  # conv3a
        (256, 8, 28, 28),  # conv3b
        (512, 4, 14, 14),  # conv4a
        (512, 4, 14, 14),  # conv4b
        (512, 2, 7, 7),  # conv5a
        (512, 2, 7, 7),  # conv5b
    ]
    assert [tuple(h.shape[1:]) for h in outputs.hidden_states] == table
    assert tuple(outputs.last_hidden_state.shape) == (1, 512, 1, 4, 4)  # pool5
    assert tuple(outputs.pooler_output.shape) == (1, 4096)  # fc7 features
    assert tuple(logits.shape) == (1, 487)
    assert model.c3d.fc6.in_features == 8192
    assert sum(p.numel() for p in model.parameters()) == 79_991_015  # the reference README's count


@pytest.mark.parametrize(("frames", "height", "width"), [(16, 112, 112), (31, 127, 96), (20, 100, 120)])
def test_sizes_giving_the_same_pool5_are_accepted(frames, height, width):
    with torch.device("meta"):
        model = C3DModel(C3DConfig()).eval()
        features = model(torch.empty(2, frames, 3, height, width)).pooler_output
    assert tuple(features.shape) == (2, 4096)


@pytest.mark.parametrize(
    ("frames", "height", "width"), [(15, 112, 112), (32, 112, 112), (8, 112, 112), (16, 95, 112), (16, 112, 128)]
)
def test_input_fc6_cannot_take_raises_with_size_needed(frames, height, width):
    with torch.device("meta"):
        model = C3DModel(C3DConfig()).eval()
        with pytest.raises(ValueError, match=r"fc6, which takes 8192 values.*needs 16 frames of 112x112 pixels") as err:
            model(torch.empty(1, frames, 3, height, width))
    message = str(err.value)
    assert f"{frames} frames of {height}x{width} pixels" in message
    assert "16-31 frames of 96-127 x 96-127 pixels" in message


def test_config_size_rules():
    assert C3DConfig().pool5_size == (1, 4, 4) and C3DConfig().fc6_in_features == 8192
    small = C3DConfig(num_frames=16, image_size=64, **ARCHITECTURE.small_config)
    assert small.pool5_size == (1, 3, 3)
    assert small.fc6_in_features == 64 * 9
    frames, heights, widths = C3DConfig(num_frames=40, image_size=[80, 144]).accepted_input_sizes
    assert (frames, heights, widths) == (range(32, 48), range(64, 96), range(128, 160))
    with pytest.raises(Exception, match=r"too small for C3D: pool5 needs at least 16 frames of 16x16 pixels"):
        C3DConfig(num_frames=8)
    with pytest.raises(Exception, match="too small"):
        C3DConfig(image_size=[112, 15])
    with pytest.raises(Exception, match="conv_channels"):
        C3DConfig(conv_channels=[64, 128])
    with pytest.raises(Exception, match="dropout_prob"):
        C3DConfig(dropout_prob=1.0)


def test_init_roles():
    """He init for every layer a ReLU follows (the convs, fc6 and fc7); a small truncated normal for fc8."""
    torch.manual_seed(0)
    model = C3DForVideoClassification(C3DConfig(**{**TINY, "fc_size": 512}, num_labels=400))
    for layer in [getattr(model.c3d, name).conv for name in CONV_NAMES[2:]] + [model.c3d.fc6, model.c3d.fc7]:
        fan_in = layer.weight[0].numel()
        assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.15), layer
        assert not layer.bias.any()
    assert model.classifier.weight.std().item() == pytest.approx(0.02, rel=0.15)
    # conv1 sees raw 0-255 pixels: He init for [0, 1] input, so fresh activations stay of order one.
    conv1 = model.c3d.conv1.conv
    assert conv1.weight.std().item() == pytest.approx(math.sqrt(2 / 81) / 255, rel=0.15)
    with torch.no_grad():
        features = model.c3d(torch.randint(0, 256, (2, 16, 3, 32, 32)).float()).pooler_output
    assert 0.05 < features.pow(2).mean().sqrt().item() < 20


def test_channels_last_3d_same_output():
    torch.manual_seed(0)
    config = C3DConfig(**TINY, num_labels=4)
    model = C3DForVideoClassification(config).eval()
    pixel_values = torch.randint(0, 256, (1, 16, 3, 32, 32)).float()  # batch 1: the oneDNN path
    with torch.no_grad():
        expected = model(pixel_values, output_hidden_states=True)
        model.to(memory_format=torch.channels_last_3d)
        assert model.c3d.conv1.conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
        actual = model(pixel_values, output_hidden_states=True)
    # The flatten before fc6 follows the logical (C, T, H, W) order even on a channels-last map.
    assert actual.hidden_states[-1].is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(actual.logits, expected.logits, rtol=1e-5, atol=1e-4)
    for got, want in zip(actual.hidden_states, expected.hidden_states):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-3)


def test_conv_units_are_checkpointing_layers():
    model = C3DForVideoClassification(C3DConfig(**TINY, num_labels=2))
    model.activation_checkpointing_enable()
    assert all(getattr(model.c3d, name).gradient_checkpointing for name in CONV_NAMES)


@pytest.mark.parametrize("channels_last", [False, True])
def test_onednn_conv_matches_conv_and_is_used_for_cpu_inference(monkeypatch, channels_last):
    """C3D's convs take oneDNN for fp32 CPU inference even at batch 1 (where PyTorch would pick its slower
    native kernel); the result is the conv's, and training keeps PyTorch's own dispatch."""
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(8, 16, 3, padding=1)
    x = torch.randn(1, 8, 4, 9, 7)
    if channels_last:
        conv, x = conv.to(memory_format=torch.channels_last_3d), x.contiguous(memory_format=torch.channels_last_3d)
    calls = []
    original = torch.mkldnn_convolution
    monkeypatch.setattr(torch, "mkldnn_convolution", lambda *args: calls.append(1) or original(*args))
    with torch.no_grad():
        expected = torch.nn.functional.conv3d(x, conv.weight, conv.bias, padding=1)
        actual = conv3d_onednn_on_cpu(conv, x)
    assert len(calls) == int(torch.backends.mkldnn.is_available())
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    conv3d_onednn_on_cpu(conv, x.requires_grad_()).sum().backward()  # with gradients: the module's own forward
    assert len(calls) == int(torch.backends.mkldnn.is_available()) and x.grad is not None


def test_small_config_takes_the_demo_clips_as_they_are():
    """The registered small C3D and its processor: 16 raw frames of 64 x 64, unresized, into a 1 x 3 x 3 pool5."""
    from hf_videomodels.demo import motion_clip

    config = C3DConfig(num_frames=16, image_size=64, num_labels=4, **ARCHITECTURE.small_config)
    processor = C3DVideoProcessor.for_model_config(config, **ARCHITECTURE.small_processor_config)
    clip = motion_clip("left_to_right", np.random.default_rng(0))
    pixel_values = processor(clip, return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(pixel_values[0], torch.from_numpy(clip).permute(0, 3, 1, 2).float())
    with torch.no_grad():
        assert C3DForVideoClassification(config).eval()(pixel_values).logits.shape == (1, 4)
