"""TSN's cross-modality initialisation (layers/inflate.py): an RGB first conv averaged over RGB and repeated for
2L flow channels, on a TSN ResNet-50 converted from torchvision weights and on I3D, kept through save/load."""

from __future__ import annotations

import copy
import re

import pytest
import torch
import torchvision

from conversion.convert_tsn_resnet import convert_resnet_state_dict
from hf_videomodels import (
    ARCHITECTURES,
    FlowVideoProcessor,
    I3DConfig,
    I3DForVideoClassification,
    TSNForVideoClassification,
)
from hf_videomodels.layers import adapt_input_channels, cross_modality_conv_weight

from .test_i3d_modeling import TINY as TINY_I3D
from .utils import randomize_batch_norm


@pytest.mark.parametrize("kernel", [(7, 7), (3, 7, 7)])
def test_cross_modality_weight_is_the_rgb_mean_repeated(kernel):
    rgb = torch.randn(4, 3, *kernel, generator=torch.Generator().manual_seed(0))
    flow = cross_modality_conv_weight(rgb, 20)
    assert flow.shape == (4, 20, *kernel) and flow.is_contiguous()
    for channel in range(20):
        torch.testing.assert_close(flow[:, channel], rgb.mean(dim=1))
    with pytest.raises(ValueError, match="conv weight"):
        cross_modality_conv_weight(torch.zeros(4, 3, 7), 2)


def _check_grey_equivalence(rgb_model, flow_model, shape, channels: int) -> None:
    """The adapted model on a stack whose every channel is ``g * 3 / channels`` answers as the RGB model on the
    grey image ``g`` (all three channels ``g``): the first layer's sum over channels is the same."""
    grey = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = rgb_model(grey.expand(*shape[:2], 3, *shape[3:])).logits
        got = flow_model(grey.expand(*shape[:2], channels, *shape[3:]) * (3 / channels)).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def _check_save_load(model, channels: int, shape, tmp_path) -> None:
    model.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path).eval()
    assert loaded.config.num_channels == channels
    flow = torch.randn(*shape[:2], channels, *shape[3:], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(loaded(flow).logits, model(flow).logits, rtol=0, atol=0)


def test_tsn_resnet50_from_torchvision_to_stacked_flow(tmp_path):
    torch.manual_seed(0)
    resnet = torchvision.models.resnet50(weights=None)
    randomize_batch_norm(resnet)
    config, state_dict = convert_resnet_state_dict(resnet.state_dict(), "torchvision")
    rgb = TSNForVideoClassification(config).eval()
    rgb.load_state_dict(state_dict)
    flow = TSNForVideoClassification(copy.deepcopy(config)).eval()  # its own config, which the adaptation changes
    flow.load_state_dict(state_dict)
    assert adapt_input_channels(flow, 20) == ["tsn.stem.conv"]
    assert flow.config.num_channels == 20 and rgb.config.num_channels == 3
    unchanged = {key for key in state_dict if key != "tsn.stem.conv.weight"}
    adapted = flow.state_dict()
    assert all(torch.equal(adapted[key], state_dict[key]) for key in unchanged)
    torch.testing.assert_close(adapted["tsn.stem.conv.weight"][:, 7], state_dict["tsn.stem.conv.weight"].mean(1))
    shape = (1, 2, 1, 64, 64)  # one video of 2 segments
    _check_grey_equivalence(rgb, flow, shape, 20)
    _check_save_load(flow, 20, shape, tmp_path)
    # Used alone, the flow stream takes the flow processor's stacks as its pixel values.
    processor = FlowVideoProcessor.for_model_config(flow.config, num_frames=2, input_name="pixel_values")
    stacks = torch.randn(12, 2, 80, 72, generator=torch.Generator().manual_seed(3)).numpy() * 10
    inputs = processor(stacks, size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    assert inputs["pixel_values"].shape == (1, 2, 20, 64, 64)
    with torch.no_grad():
        assert flow(**inputs).logits.shape == (1, 1000)


def test_i3d_to_flow_clips(tmp_path):
    torch.manual_seed(0)
    config = I3DConfig(**TINY_I3D, num_labels=5)
    rgb = I3DForVideoClassification(config).eval()
    randomize_batch_norm(rgb)
    flow = I3DForVideoClassification(I3DConfig(**TINY_I3D, num_labels=5)).eval()
    flow.load_state_dict(rgb.state_dict())
    assert adapt_input_channels(flow, 2) == ["i3d.conv_1a.conv"]
    assert flow.i3d.conv_1a.conv.weight.shape[1:] == (2, 7, 7, 7)
    shape = (1, 16, 1, 64, 64)
    _check_grey_equivalence(rgb, flow, shape, 2)
    _check_save_load(flow, 2, shape, tmp_path)
    with pytest.raises(ValueError, match="starts from an RGB model"):
        adapt_input_channels(flow, 4)


# Single-input classifiers: a two-stream model's flow stream is itself one of these, adapted on its own.
CLASSIFIERS = [
    arch for arch in ARCHITECTURES if arch.classification_class and len(arch.classification_class.video_input_names) == 1
]


@pytest.mark.parametrize("arch", CLASSIFIERS, ids=lambda arch: arch.name)
def test_every_classifier_has_only_its_input_convs_adapted(arch):
    """The adaptation finds convs by their 3 input channels: in every registered classifier these are the stem /
    patch embedding (two for SlowFast's pathways), never an inner layer."""
    config = arch.config_class(**arch.small_config)
    with torch.device("meta"):
        model = arch.classification_class(config)
    names = adapt_input_channels(model, 4)
    assert 1 <= len(names) <= 2 and all(re.search(r"stem|conv_?1|patch_emb", name) for name in names), names
    assert model.config.num_channels == 4
