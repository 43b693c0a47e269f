"""fuse_conv_bn: every CNN of the package gives the same logits with its BatchNorms folded into its convs, and a
folded model refuses what it can no longer do (train, save)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hf_videomodels.errors import UserInputError
from hf_videomodels.layers import ConvBNAct3d, fold_batch_norm_into_conv, has_folded_batch_norms
from hf_videomodels.registration import find_architecture

from .test_two_stream_modeling import inputs_for, make_model, tsn_two_stream_config
from .utils import randomize_batch_norm

# name, config overrides on the architecture's small config (sized down further where that keeps the test fast)
CNNS = [
    ("TSN", {"num_frames": 3, "image_size": 32}),
    ("LRCN", {"num_frames": 3, "image_size": 32}),
    ("VideoResNet", {"num_frames": 4, "image_size": 32}),  # R(2+1)D
    ("VideoResNet", {"num_frames": 4, "image_size": 32, "convolution": "3d", "stem_type": "basic"}),  # R3D
    ("I3D", {"num_frames": 8, "image_size": 64}),
    ("SlowFast", {"num_frames": 8, "image_size": 64}),
]


def small_model(name: str, overrides: dict) -> nn.Module:
    arch = find_architecture(name)
    torch.manual_seed(0)
    model = arch.classification_class(arch.config_class(**{**arch.small_config, **overrides})).eval()
    randomize_batch_norm(model)
    with torch.no_grad():  # logits of unit scale (random BatchNorms blow some up to hundreds): 1e-5 is a real bound
        model.classifier.weight.div_(model(clip_for(model.config)).logits.std())
    return model


def clip_for(config) -> torch.Tensor:
    shape = (2, config.num_frames, config.num_channels, config.image_size, config.image_size)
    return torch.randn(shape, generator=torch.Generator().manual_seed(1))


def batch_norms(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize(("name", "overrides"), CNNS, ids=[f"{n}-{o.get('convolution', '')}" for n, o in CNNS])
def test_same_logits_with_batch_norm_folded(name, overrides):
    model = small_model(name, overrides)
    x = clip_for(model.config)
    with torch.no_grad():
        expected = model(x).logits
        assert model.fuse_conv_bn() is model
        actual = model(x).logits
    assert not batch_norms(model) and has_folded_batch_norms(model)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5)


def test_two_stream_folds_both_streams():
    model = make_model(tsn_two_stream_config())
    inputs = inputs_for(model.config)
    with torch.no_grad():
        expected = model(**inputs).logits
        actual = model.fuse_conv_bn()(**inputs).logits
    assert not batch_norms(model.two_stream.rgb_stream) and not batch_norms(model.two_stream.flow_stream)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5)


def test_under_bf16_autocast_and_channels_last_3d():
    model = small_model("SlowFast", {"num_frames": 8, "image_size": 64})
    x = clip_for(model.config)
    # Fused inside the autocast block: the bf16 weights autocast cached on the first call must not be reused.
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model(x).logits.float()
        actual = model.fuse_conv_bn()(x).logits.float()
    conv = model.slowfast.slow.stem.conv
    assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d) and conv.bias is not None
    # bf16 keeps 8 bits of mantissa: the folded and unfolded roundings differ by a few bf16 steps of the logits
    torch.testing.assert_close(actual, expected, rtol=0, atol=0.1)


def test_fold_of_a_conv_with_bias_matches_conv_then_batch_norm():
    unit = ConvBNAct3d(3, 5, 3, padding=1, bias=True, activation=None).eval()
    randomize_batch_norm(unit)
    x = torch.randn(1, 3, 4, 6, 6)
    with torch.no_grad():
        expected = unit(x)
        fold_batch_norm_into_conv(unit.conv, unit.bn)
        actual = unit.conv(x)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-6)


def test_refusals(tmp_path):
    model = small_model("TSN", {"num_frames": 2, "image_size": 32})
    with pytest.raises(UserInputError, match="training mode"):
        model.train().fuse_conv_bn()
    assert not has_folded_batch_norms(model)  # nothing was folded
    model.eval().fuse_conv_bn()
    model.fuse_conv_bn()  # again: a no-op
    with pytest.raises(UserInputError, match="cannot train"):
        model.train()
    with pytest.raises(UserInputError, match="cannot save"):
        model.save_pretrained(tmp_path / "folded")
    assert not (tmp_path / "folded").exists()
    model.eval()  # still allowed
    c3d = find_architecture("C3D")
    with pytest.raises(UserInputError, match="no conv \\+ BatchNorm"):
        c3d.classification_class(c3d.config_class(**c3d.small_config)).eval().fuse_conv_bn()


def test_saving_a_stream_of_a_folded_two_stream_model_is_refused(tmp_path):
    model = make_model(tsn_two_stream_config()).fuse_conv_bn()
    with pytest.raises(UserInputError, match="cannot save"):
        model.two_stream.rgb_stream.save_pretrained(tmp_path)


def test_folded_units_run_as_single_onednn_calls_on_cpu():
    model = small_model("TSN", {"num_frames": 2, "image_size": 32}).fuse_conv_bn()
    with torch.no_grad(), torch.profiler.profile() as profile:
        model(clip_for(model.config))
    ops = {event.key: event.count for event in profile.key_averages()}
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert ops.get("mkldnn::_convolution_pointwise") == len(convs)
    assert not {"aten::batch_norm", "aten::relu", "aten::relu_", "aten::add"} & set(ops)


def test_cached_bf16_weights_follow_weight_updates():
    model = small_model("SlowFast", {"num_frames": 8, "image_size": 64}).fuse_conv_bn()
    x = clip_for(model.config)
    conv = model.slowfast.fast.stem.conv
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        before = model(x).logits
        conv.weight.mul_(0.5)  # in place, as an optimizer step or load_state_dict would
        after = model(x).logits
        conv.__dict__.pop("_bf16_weights")  # what a cast from scratch gives
        recast = model(x).logits
    assert not torch.equal(after, before)
    torch.testing.assert_close(after, recast, rtol=0, atol=0)
