"""The TSN two-stream ResNet built from one ImageNet ResNet: the RGB stream is the single-stream TSN conversion, the
flow stream the same network with TSN's cross-modality initialisation of its first convolution."""

from __future__ import annotations

import pytest
import torch

from conversion.common import load_converted
from conversion.convert_tsn_resnet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessing,
    SourceCheckpoint,
    convert_resnet_state_dict,
)
from conversion.convert_two_stream_tsn import build_two_stream_tsn
from conversion.convert_two_stream_tsn import main as convert_main
from hf_videomodels.models.tsn import TSNForVideoClassification
from hf_videomodels.models.two_stream import TwoStreamForVideoClassification, TwoStreamVideoProcessor

from .utils import randomize_batch_norm


@pytest.fixture(scope="module")
def tsn_two_stream():
    import torchvision

    torch.manual_seed(0)
    resnet = torchvision.models.resnet18().eval()  # random weights: the ImageNet file cannot be downloaded here
    randomize_batch_norm(resnet)
    source = SourceCheckpoint(
        resnet.state_dict(), Preprocessing(256, 224, "bilinear", IMAGENET_MEAN, IMAGENET_STD), "a random resnet18"
    )
    model, processor = build_two_stream_tsn(source, "torchvision", flow_stack_length=3)
    return source, model.eval(), processor


def test_two_stream_tsn_rgb_stream_is_the_tsn_conversion(tsn_two_stream):
    source, model, processor = tsn_two_stream
    config, converted = convert_resnet_state_dict(source.state_dict, "torchvision")
    tsn = load_converted(TSNForVideoClassification, config, converted)
    pixel_values = torch.randn(2, 3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model.two_stream.rgb_stream(pixel_values).logits, tsn(pixel_values).logits)
    assert model.config.fusion == "logits" and model.config.fusion_weights == [1.0, 1.5]
    assert (processor.flow_mode, processor.flow_stack_length, processor.flow_num_frames) == ("stacked", 3, 8)
    assert list(processor.image_mean) == list(IMAGENET_MEAN)


def test_two_stream_tsn_flow_stream_has_the_cross_modality_initialisation(tsn_two_stream):
    _, model, _ = tsn_two_stream
    rgb, flow = model.two_stream.rgb_stream, model.two_stream.flow_stream
    rgb_stem, flow_stem = rgb.tsn.stem.conv.weight, flow.tsn.stem.conv.weight
    assert flow_stem.shape[1] == 6 and flow.config.num_channels == 6 and flow.dropout.p == 0.7
    torch.testing.assert_close(flow_stem, rgb_stem.mean(1, keepdim=True).expand(-1, 6, -1, -1), rtol=0, atol=0)
    # Every later layer is the RGB network's: a flow stack whose 6 channels all hold 3 g / 6 gives the RGB stream's
    # logits on the grey frames g.
    grey = torch.randn(2, 3, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = rgb(grey.expand(-1, -1, 3, -1, -1)).logits
        actual = flow((grey * 3 / 6).expand(-1, -1, 6, -1, -1)).logits
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-4)
    for name, tensor in flow.state_dict().items():
        if name != "tsn.stem.conv.weight":
            assert torch.equal(tensor, rgb.state_dict()[name]), name


def test_two_stream_tsn_script_writes_a_loadable_folder(tmp_path, tsn_two_stream):
    source, model, _ = tsn_two_stream
    checkpoint = tmp_path / "resnet18.pth"
    torch.save(source.state_dict, checkpoint)
    output = convert_main(
        ["--source", "torchvision", "--checkpoint", str(checkpoint), "--weights", "ResNet18_Weights.IMAGENET1K_V1",
         "--flow-stack-length", "3", "--output", str(tmp_path / "out")]
    )  # fmt: skip
    loaded = TwoStreamForVideoClassification.from_pretrained(output).eval()
    processor = TwoStreamVideoProcessor.from_pretrained(output)
    assert loaded.config.flow_config.num_channels == 6 and processor.flow_stack_length == 3
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert "cross-modality" in (output / "README.md").read_text()
