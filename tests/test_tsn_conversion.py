"""ImageNet ResNets (torchvision, timm, transformers) -> hf_videomodels TSN: frame-by-frame and consensus parity
with each library's own model (random weights), the kept ImageNet head, every source's preprocessing, strict key
accounting, the command line and fine-tuning with a new head."""

from __future__ import annotations

import json

import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file
from transformers import (
    AutoModelForVideoClassification,
    AutoVideoProcessor,
    ConvNextImageProcessor,
    ResNetConfig,
    ResNetForImageClassification,
)
from transformers.image_utils import PILImageResampling

from conversion.common import ConversionError
from conversion.convert_tsn_resnet import (
    PARITY_BOUND,
    build_video_processor,
    convert_resnet_state_dict,
    main,
    microsoft_resnet_state_dict,
    timm_preprocessing,
    torchvision_preprocessing,
    torchvision_weights,
    transformers_source,
)
from hf_videomodels.models.tsn import TSNForVideoClassification
from hf_videomodels.training import build_model_and_processor
from hf_videomodels.training_args import TrainConfig

from .utils import randomize_batch_norm

# The default size with two frames, and an odd size with an odd frame count.
INPUTS = {"224": (1, 2, 3, 224, 224), "odd": (2, 3, 3, 75, 97)}


def _random_peer(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    randomize_batch_norm(model, seed)
    return model.eval()


def _check_parity(ours: TSNForVideoClassification, image_logits, shapes=tuple(INPUTS.values())) -> None:
    """Per-frame logits equal the peer's for each frame alone; the video's logits equal their mean."""
    for shape in shapes:
        pixel_values = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            expected = image_logits(pixel_values.flatten(0, 1)).unflatten(0, shape[:2])
            per_frame, _ = ours.frame_logits(pixel_values)
            video = ours(pixel_values).logits
        assert (per_frame - expected).abs().max().item() < PARITY_BOUND, shape
        assert (video - expected.mean(1)).abs().max().item() < PARITY_BOUND, shape


def _convert(state_dict, source, labels=None) -> TSNForVideoClassification:
    """The converted model, built on the meta device and given the converted tensors (no initialisation)."""
    config, converted = convert_resnet_state_dict(state_dict, source, labels)
    with torch.device("meta"):
        model = TSNForVideoClassification(config)
    model.load_state_dict(converted, strict=True, assign=True)
    return model.eval()


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_torchvision_parity(depth):
    torch.manual_seed(depth)
    peer = _random_peer(getattr(torchvision.models, f"resnet{depth}")())
    ours = _convert(peer.state_dict(), "torchvision")
    assert ours.config.depth == depth and ours.config.hidden_size == (512 if depth < 50 else 2048)
    _check_parity(ours, peer)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_timm_parity(name):
    torch.manual_seed(1)
    peer = _random_peer(timm.create_model(name, pretrained=False))
    _check_parity(_convert(peer.state_dict(), "timm"), peer)


def _transformers_folder(tmp_path, layer_type: str, with_processor: bool):
    """A ResNetForImageClassification folder: microsoft/resnet-18's shape, or microsoft/resnet-50's topology at a
    quarter of its widths (the same keys; a quarter of the file)."""
    torch.manual_seed(2)
    if layer_type == "basic":
        config = ResNetConfig(layer_type="basic", depths=[2, 2, 2, 2], hidden_sizes=[64, 128, 256, 512], num_labels=1000)
    else:
        config = ResNetConfig(embedding_size=16, hidden_sizes=[64, 128, 256, 512], depths=[3, 4, 6, 3], num_labels=1000)
    config.id2label = {i: f"synset {i}" for i in range(1000)}
    config.label2id = {name: i for i, name in config.id2label.items()}
    peer = _random_peer(ResNetForImageClassification(config))
    peer.save_pretrained(tmp_path)
    if with_processor:  # microsoft/resnet-*'s preprocessor_config.json
        ConvNextImageProcessor(crop_pct=0.875, size={"shortest_edge": 224}, resample=3).save_pretrained(tmp_path)
    return peer


@pytest.mark.parametrize("layer_type", ["basic", "bottleneck"])
def test_transformers_folder_parity(tmp_path, layer_type):
    peer = _transformers_folder(tmp_path, layer_type, with_processor=False)
    source = transformers_source(str(tmp_path))
    ours = _convert(source.state_dict, "transformers", source.labels)
    assert ours.config.id2label[7] == "synset 7"  # the folder's own class names
    _check_parity(ours, lambda images: peer(images).logits)


def test_transformers_preprocessing_from_the_folder(tmp_path):
    _transformers_folder(tmp_path, "basic", with_processor=True)
    processor_config = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert processor_config["crop_pct"] == 0.875
    source = transformers_source(str(tmp_path))
    processor = build_video_processor(convert_resnet_state_dict(source.state_dict, "transformers")[0], source.preprocessing)
    assert (processor.size.shortest_edge, processor.crop_size.height, processor.resample) == (256, 224, 3)


@pytest.mark.parametrize("depth", [101, 152])
def test_deep_resnets_convert_at_shape_level(depth):
    """Every tensor of each library's ResNet-101/152 maps (meta tensors: no memory, no compute)."""
    with torch.device("meta"):
        torchvision_model = getattr(torchvision.models, f"resnet{depth}")()
        timm_model = timm.create_model(f"resnet{depth}", pretrained=False)
    sources = {
        "torchvision": torchvision_model.state_dict(),
        "timm": timm_model.state_dict(),
        "transformers": microsoft_resnet_state_dict(f"resnet-{depth}"),
    }
    for source, state_dict in sources.items():
        config, converted = convert_resnet_state_dict(state_dict, source)
        assert (config.depth, config.block_type, config.hidden_size) == (depth, "bottleneck", 2048), source
        assert len(converted) == len(state_dict), source


def test_imagenet_head_is_kept():
    peer = torchvision.models.resnet18().eval()
    ours = _convert(peer.state_dict(), "torchvision")
    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    assert ours.config.num_labels == 1000
    assert [ours.config.id2label[i] for i in range(1000)] == categories
    assert ours.config.id2label[0] == "tench" and ours.config.label2id["goldfish"] == 1
    assert torch.equal(ours.classifier.weight, peer.fc.weight) and torch.equal(ours.classifier.bias, peer.fc.bias)
    assert ours.config.partial_batch_norm  # TSN's fine-tuning recipe


@pytest.mark.parametrize(
    ("depth", "file_name", "weights", "version", "resize"),
    [
        (50, "resnet50-0676ba61.pth", None, "IMAGENET1K_V1", 256),
        (50, "resnet50-11ad3fa6.pth", None, "IMAGENET1K_V2", 232),
        (50, "mine.pth", "ResNet50_Weights.IMAGENET1K_V2", "IMAGENET1K_V2", 232),
        (50, "mine.pth", "IMAGENET1K_V1", "IMAGENET1K_V1", 256),
        (101, "resnet101-cd907fc2.pth", None, "IMAGENET1K_V2", 232),
        (18, "mine.pth", None, "IMAGENET1K_V1", 256),  # only one version exists
    ],
)
def test_torchvision_processor_per_weights_version(depth, file_name, weights, version, resize):
    entry = torchvision_weights(depth, file_name, weights)
    assert entry.name == version
    preprocessing = torchvision_preprocessing(entry)
    config, _ = convert_resnet_state_dict(_meta_torchvision(depth), "torchvision")
    processor = build_video_processor(config, preprocessing)
    assert processor.size.shortest_edge == resize and (processor.crop_size.height, processor.crop_size.width) == (224, 224)
    assert processor.resample == PILImageResampling.BILINEAR and processor.antialias
    assert list(processor.image_mean) == [0.485, 0.456, 0.406] and list(processor.image_std) == [0.229, 0.224, 0.225]
    assert processor.sampling == "tsn" and processor.num_frames == config.num_frames


def _meta_torchvision(depth: int) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return getattr(torchvision.models, f"resnet{depth}")().state_dict()


def test_torchvision_version_must_be_known():
    with pytest.raises(ConversionError, match="pass --weights"):
        torchvision_weights(50, "mine.pth")
    with pytest.raises(ConversionError, match="not for this ResNet-50"):
        torchvision_weights(50, "mine.pth", "ResNet18_Weights.IMAGENET1K_V1")
    with pytest.raises(ConversionError, match="unknown torchvision weights"):
        torchvision_weights(50, "mine.pth", "IMAGENET1K_V3")


@pytest.mark.parametrize(
    ("name", "resize", "crop", "resample"),
    [
        ("resnet50.a1_in1k", 288, 288, PILImageResampling.BICUBIC),  # test size 288, crop_pct 1.0
        ("resnet50.tv2_in1k", 232, 224, PILImageResampling.BILINEAR),  # floor(224 / 0.965)
        ("resnet18.tv_in1k", 256, 224, PILImageResampling.BILINEAR),  # floor(224 / 0.875)
    ],
)
def test_timm_processor_from_pretrained_cfg(name, resize, crop, resample):
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    preprocessing = timm_preprocessing(model)
    config, _ = convert_resnet_state_dict(model.state_dict(), "timm", image_size=preprocessing.crop)
    processor = build_video_processor(config, preprocessing)
    assert (processor.size.shortest_edge, processor.crop_size.height, processor.resample) == (resize, crop, resample)
    assert config.image_size == crop


def test_unknown_missing_and_unsupported_keys_are_named():
    state_dict = torchvision.models.resnet18().state_dict()
    with pytest.raises(ConversionError, match=r"not consumed: layer1\.0\.extra"):
        convert_resnet_state_dict({**state_dict, "layer1.0.extra": torch.zeros(1)}, "torchvision")
    incomplete = {key: value for key, value in state_dict.items() if key != "layer2.0.bn2.running_var"}
    with pytest.raises(ConversionError, match="no tensor 'layer2.0.bn2.running_var'"):
        convert_resnet_state_dict(incomplete, "torchvision")
    with torch.device("meta"):
        deep_stem = timm.create_model("resnet50d", pretrained=False).state_dict()
    with pytest.raises(ConversionError, match="resnet50d"):
        convert_resnet_state_dict(deep_stem, "timm")
    with pytest.raises(ConversionError, match="3 class names"):
        convert_resnet_state_dict(state_dict, "torchvision", labels=["a", "b", "c"])
    with pytest.raises(ConversionError, match="unknown source"):
        convert_resnet_state_dict(state_dict, "caffe")


def test_script_converts_and_the_folder_fine_tunes_with_a_new_head(tmp_path):
    """By path: a timm safetensors file -> folder; then training's loader puts a 3-class head on it."""
    torch.manual_seed(3)
    peer = _random_peer(timm.create_model("resnet18", pretrained=False))
    checkpoint = tmp_path / "model.safetensors"
    save_file(peer.state_dict(), checkpoint)
    output = tmp_path / "tsn-resnet18"
    main(["--source", "timm", "--timm-model", "resnet18.a1_in1k", "--checkpoint", str(checkpoint), "--output", str(output)])

    model = AutoModelForVideoClassification.from_pretrained(output).eval()
    processor = AutoVideoProcessor.from_pretrained(output)
    assert isinstance(model, TSNForVideoClassification) and model.config.id2label[0] == "tench"
    assert (processor.size.shortest_edge, processor.crop_size.height, processor.resample) == (288, 288, 3)
    assert "timm/resnet18.a1_in1k" in (output / "README.md").read_text()
    _check_parity(model, peer, [(1, 3, 3, 64, 48)])

    cfg = TrainConfig(data_dir=tmp_path, output_dir=tmp_path / "out", model=str(output))
    tuned, tuned_processor = build_model_and_processor(cfg, ["a", "b", "c"])
    assert tuned.classifier.weight.shape == (3, 512) and tuned.config.id2label == {0: "a", 1: "b", 2: "c"}
    assert torch.equal(tuned.tsn.stem.conv.weight, model.tsn.stem.conv.weight)
    assert tuned.config.partial_batch_norm and tuned_processor.size.shortest_edge == 288
