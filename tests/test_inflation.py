"""Inflating 2D weights into 3D: the layer helpers, and I3D bootstrapped from torchvision's GoogLeNet."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch.nn import functional as F

from conversion.common import ConversionError
from conversion.convert_i3d_googlenet import STAGE_PARITY_BOUND, inflate_googlenet_state_dict
from hf_videomodels.layers import inflate_conv_weight, inflate_state_dict, temporal_kernel_sizes_like
from hf_videomodels.models.i3d import I3DConfig, I3DModel

from .utils import randomize_batch_norm

# ---- layers/inflate.py ----------------------------------------------------------------------------------


def test_mean_inflation_repeats_and_divides():
    weight = torch.randn(4, 3, 5, 5)
    inflated = inflate_conv_weight(weight, 7)
    assert inflated.shape == (4, 3, 7, 5, 5)
    for t in range(7):
        torch.testing.assert_close(inflated[:, :, t], weight / 7)


def test_center_inflation_puts_filter_in_the_middle():
    weight = torch.randn(4, 3, 3, 3)
    inflated = inflate_conv_weight(weight, 5, mode="center")
    assert torch.equal(inflated[:, :, 2], weight)
    assert not inflated[:, :, [0, 1, 3, 4]].any()


def test_inflation_rejects_bad_arguments():
    with pytest.raises(ValueError, match="4-D"):
        inflate_conv_weight(torch.randn(4, 3, 3), 3)
    with pytest.raises(ValueError, match="mode"):
        inflate_conv_weight(torch.randn(4, 3, 3, 3), 3, mode="sum")
    with pytest.raises(ValueError, match="time_size"):
        inflate_conv_weight(torch.randn(4, 3, 3, 3), 0)


def test_mean_inflated_conv_on_boring_video_equals_2d_conv():
    torch.manual_seed(0)
    weight, image = torch.randn(6, 3, 3, 3), torch.randn(2, 3, 12, 12)
    expected = F.conv2d(image, weight, padding=1)
    video = image.unsqueeze(2).expand(-1, -1, 5, -1, -1)
    # No temporal padding: every output frame sees 3 identical input frames.
    actual = F.conv3d(video, inflate_conv_weight(weight, 3), padding=(0, 1, 1))
    assert actual.shape == (2, 6, 3, 12, 12)
    torch.testing.assert_close(actual, expected.unsqueeze(2).expand_as(actual), rtol=0, atol=1e-5)


def test_center_inflated_conv_sees_only_its_own_frame():
    torch.manual_seed(0)
    weight, video = torch.randn(6, 3, 3, 3), torch.randn(2, 3, 4, 12, 12)  # a video that changes over time
    actual = F.conv3d(video, inflate_conv_weight(weight, 3, mode="center"), padding=1)
    for t in range(4):
        torch.testing.assert_close(actual[:, :, t], F.conv2d(video[:, :, t], weight, padding=1), rtol=0, atol=1e-5)


def test_state_dict_inflation_passes_other_tensors_through():
    state_dict = {"conv.weight": torch.randn(4, 3, 3, 3), "bn.weight": torch.randn(4), "fc.weight": torch.randn(2, 4)}
    inflated = inflate_state_dict(state_dict, {"conv.weight": 3})
    assert inflated["conv.weight"].shape == (4, 3, 3, 3, 3)
    assert inflated["bn.weight"] is state_dict["bn.weight"]
    assert inflated["fc.weight"] is state_dict["fc.weight"]
    with pytest.raises(ValueError, match="conv.weight"):
        inflate_state_dict(state_dict, {})  # a conv left 2D
    with pytest.raises(ValueError, match="bn.weight"):
        inflate_state_dict(state_dict, {"conv.weight": 3, "bn.weight": 3})  # not a conv


def test_temporal_kernel_sizes_read_from_the_3d_model():
    state_dict = {"a.weight": torch.randn(4, 3, 3, 3), "b.weight": torch.randn(4)}
    assert temporal_kernel_sizes_like(state_dict, {"a.weight": torch.empty(4, 3, 5, 3, 3)}) == {"a.weight": 5}
    with pytest.raises(ValueError, match="a.weight"):
        temporal_kernel_sizes_like(state_dict, {"a.weight": torch.empty(4, 3, 5, 1, 1)})
    with pytest.raises(ValueError, match="a.weight"):
        temporal_kernel_sizes_like(state_dict, {})


# ---- I3D from GoogLeNet ---------------------------------------------------------------------------------

GOOGLENET_STAGES = (
    "conv1", "conv2", "conv3",
    "inception3a", "inception3b", "inception4a", "inception4b", "inception4c", "inception4d", "inception4e",
    "inception5a", "inception5b",
)  # fmt: skip


def _googlenet(aux_logits: bool = False) -> torchvision.models.GoogLeNet:
    torch.manual_seed(0)
    model = torchvision.models.googlenet(weights=None, aux_logits=aux_logits, init_weights=True).eval()
    randomize_batch_norm(model, seed=1)
    return model


def test_inflated_i3d_on_boring_video_matches_googlenet_stage_by_stage():
    """Every stage of the inflated I3D, on one image repeated over time, equals the 2D network's.

    Where the padding conventions agree: an odd frame side (63) makes TensorFlow 'SAME' padding of the stride-2
    7x7 stem conv symmetric (3, 3) like GoogLeNet's, and the following sizes (32, 16, 8, 4) are even, where
    'SAME' max-pools and GoogLeNet's ceil-mode pools pick the same windows. In time, zero padding changes
    the first and last few steps, so the middle step of each stage is compared (64 frames keep it clear of
    the edges even after the 8x temporal downsampling).
    """
    googlenet = _googlenet()
    config, state_dict = inflate_googlenet_state_dict(googlenet.state_dict())
    model = I3DModel(I3DConfig(pooler_kernel_size=[1, 1, 1])).eval()  # the head's pool plays no part here
    model.load_state_dict(state_dict, strict=True)

    image = torch.randn(1, 3, 63, 63, generator=torch.Generator().manual_seed(2))
    expected = {}
    hooks = [
        getattr(googlenet, name).register_forward_hook(lambda _m, _i, out, name=name: expected.__setitem__(name, out))
        for name in GOOGLENET_STAGES
    ]
    with torch.no_grad():
        googlenet(image)
        outputs = model(image.unsqueeze(1).expand(1, 64, 3, 63, 63), output_hidden_states=True)
    for hook in hooks:
        hook.remove()

    assert len(outputs.hidden_states) == len(GOOGLENET_STAGES)
    for name, hidden in zip(GOOGLENET_STAGES, outputs.hidden_states):
        middle = hidden[:, :, hidden.shape[2] // 2]
        assert middle.shape == expected[name].shape, name
        torch.testing.assert_close(middle, expected[name], rtol=0, atol=STAGE_PARITY_BOUND, msg=name)
    # The comparison is sensitive: at the first time step zero padding in time has changed the result.
    first = outputs.last_hidden_state[:, :, 0]
    assert (first - expected["inception5b"]).abs().max() > 1e-3


def test_every_googlenet_tensor_is_used():
    source = _googlenet(aux_logits=True).state_dict()  # with the auxiliary heads, dropped explicitly
    config, converted = inflate_googlenet_state_dict(source)
    assert config.num_channels == 3
    with torch.device("meta"):
        model = I3DModel(config)
    model.load_state_dict(converted, strict=True, assign=True)
    assert converted["mixed_4f.branch2_conv.conv.weight"].shape == (128, 32, 3, 3, 3)
    assert converted["mixed_4f.branch2_conv.bn.running_var"] is source["inception4e.branch3.1.bn.running_var"]
    assert converted["conv_1a.bn.num_batches_tracked"] is source["conv1.bn.num_batches_tracked"]

    with pytest.raises(ConversionError, match=r"inception6a\.branch1\.conv\.weight"):
        inflate_googlenet_state_dict({**source, "inception6a.branch1.conv.weight": torch.zeros(1, 1, 1, 1)})
    incomplete = dict(source)
    del incomplete["inception4c.branch4.1.bn.bias"]
    with pytest.raises(ConversionError, match=r"inception4c\.branch4\.1\.bn\.bias"):
        inflate_googlenet_state_dict(incomplete)
