"""Video Swin conversion: the original code's fixtures (mmaction2 container, windows 2x7x7 and 8x7x7, padded
and shrunken-window inputs), every published manifest, and torchvision's swin3d_t/s/b with random weights at
odd clip lengths and sizes."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
from safetensors.torch import load_file
from transformers import AutoModelForVideoClassification, AutoVideoProcessor

from conversion.common import ConversionError, load_checkpoint, load_converted, meta_state_dict_from_manifest
from conversion.convert_video_swin_original import (
    PRETRAINED_VARIANTS,
    convert_video_swin_checkpoint,
    main as convert_original_main,
)
from conversion.convert_video_swin_torchvision import convert_torchvision_state_dict
from hf_videomodels.models.video_swin import VideoSwinForVideoClassification

from .conftest import REFERENCE_DIR, require_shared

BOUND = 1e-4
REFERENCE = REFERENCE_DIR / "video_swin"


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


def _load(config, state) -> VideoSwinForVideoClassification:
    """The converted model, built on the meta device and given the converted tensors (no init cost)."""
    with torch.device("meta"):
        model = VideoSwinForVideoClassification(config)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _fixture(name: str):
    folder = require_shared(REFERENCE / name)
    config, state = convert_video_swin_checkpoint(load_checkpoint(folder / "checkpoint.pth"))
    model = load_converted(VideoSwinForVideoClassification, config, state)
    return model, load_file(folder / "inputs.safetensors"), load_file(folder / "outputs.safetensors")


def _run(model, clip_ncthw: torch.Tensor):
    """Our outputs for an original N x C x T x H x W input, and each block's output (channels-last)."""
    blocks = {}
    hooks = [
        block.register_forward_hook(lambda m, args, out, key=f"stage{i}_block{j}": blocks.__setitem__(key, out[0]))
        for i, stage in enumerate(model.video_swin.encoder.stages)
        for j, block in enumerate(stage.blocks)
    ]
    with torch.no_grad():
        outputs = model(clip_ncthw.transpose(1, 2), output_hidden_states=True)
        features = model.video_swin(clip_ncthw.transpose(1, 2)).last_hidden_state
    for hook in hooks:
        hook.remove()
    return outputs, features.permute(0, 4, 1, 2, 3), blocks


@pytest.mark.parametrize("fixture", ["small_window277", "small_window877"])
def test_original_fixture_parity(fixture):
    model, inputs, expected = _fixture(fixture)
    compared = 0
    for input_name, clip in inputs.items():
        suffix = input_name.removeprefix("pixel_values")
        outputs, features, blocks = _run(model, clip)
        assert _diff(outputs.logits, expected[f"logits{suffix}"]) < BOUND
        assert _diff(features, expected[f"features{suffix}"]) < BOUND
        compared += 2
        if suffix:
            continue
        hidden = [h.permute(0, 4, 1, 2, 3) for h in outputs.hidden_states]
        if "embeddings" in expected:
            assert _diff(hidden[0], expected["embeddings"]) < BOUND
            compared += 1
        for i in range(len(hidden) - 1):
            if f"stage{i}_output" in expected:
                assert _diff(hidden[i + 1], expected[f"stage{i}_output"]) < BOUND
                compared += 1
        for key, block_output in blocks.items():
            if key in expected:
                assert _diff(block_output, expected[key]) < BOUND
                compared += 1
    assert compared >= (17 if fixture == "small_window277" else 6)  # 277: every block and stage


def test_original_container_through_the_script(tmp_path):
    folder = require_shared(REFERENCE / "small_window277")
    convert_original_main(["--checkpoint", str(folder / "checkpoint.pth"), "--output", str(tmp_path)])
    model = AutoModelForVideoClassification.from_pretrained(tmp_path).eval()
    processor = AutoVideoProcessor.from_pretrained(tmp_path)
    assert (processor.num_clips, processor.num_crops, processor.frame_sample_rate) == (4, 3, 2)
    inputs, expected = load_file(folder / "inputs.safetensors"), load_file(folder / "outputs.safetensors")
    with torch.no_grad():
        logits = model(inputs["pixel_values_pad"].transpose(1, 2)).logits
    assert _diff(logits, expected["logits_pad"]) < BOUND


# The README's table of merged hyper-parameters.
PUBLISHED = {
    "swin_tiny_patch244_window877_kinetics400_1k": (96, [2, 2, 6, 2], [3, 6, 12, 24], [8, 7, 7], 400),
    "swin_small_patch244_window877_kinetics400_1k": (96, [2, 2, 18, 2], [3, 6, 12, 24], [8, 7, 7], 400),
    "swin_base_patch244_window877_kinetics400_1k": (128, [2, 2, 18, 2], [4, 8, 16, 32], [8, 7, 7], 400),
    "swin_base_patch244_window877_kinetics400_22k": (128, [2, 2, 18, 2], [4, 8, 16, 32], [8, 7, 7], 400),
    "swin_base_patch244_window877_kinetics600_22k": (128, [2, 2, 18, 2], [4, 8, 16, 32], [8, 7, 7], 600),
    "swin_base_patch244_window1677_sthv2": (128, [2, 2, 18, 2], [4, 8, 16, 32], [16, 7, 7], 174),
}


@pytest.mark.parametrize("stem", sorted(PRETRAINED_VARIANTS))
def test_every_manifest_converts(stem):
    manifest = require_shared(REFERENCE / f"{stem}.manifest.json")
    state = meta_state_dict_from_manifest(manifest)
    assert len(state) == json.loads(manifest.read_text())["num_tensors"]
    # Without the variant name the window comes from the tensors; with it, from the table.
    for variant in (None, stem):
        config, converted = convert_video_swin_checkpoint({"state_dict": state}, variant=variant)
        sizes = (config.embed_dim, config.depths, config.num_heads, config.window_size, config.num_labels)
        assert sizes == PUBLISHED[stem]
        assert len(converted) == len(state)


def test_unknown_and_missing_keys_are_named():
    state = meta_state_dict_from_manifest(
        require_shared(REFERENCE / "swin_tiny_patch244_window877_kinetics400_1k.manifest.json")
    )
    with pytest.raises(ConversionError, match="extra.weight"):
        convert_video_swin_checkpoint({"state_dict": {**state, "backbone.extra.weight": torch.empty(1)}})
    missing = dict(state)
    del missing["backbone.layers.2.blocks.3.mlp.fc2.bias"]
    with pytest.raises(ConversionError, match="stages.2.blocks.3.mlp.fc2.bias"):
        convert_video_swin_checkpoint({"state_dict": missing})


def randomize_(model: torch.nn.Module, seed: int) -> None:
    """Every parameter random and O(1)-sensitive (zero-initialised biases and tables would hide mistakes)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if "relative_position_bias_table" in name:
                param.copy_(0.5 * noise)
            elif param.ndim == 1 and "norm" in name and name.endswith("weight"):
                param.copy_(1 + 0.1 * noise)
            elif param.ndim == 1:
                param.copy_(0.05 * noise)
            else:
                param.copy_(noise / param[0].numel() ** 0.5)


@pytest.mark.parametrize(
    "name, clip",
    [
        ("swin3d_t", (1, 3, 5, 72, 88)),  # padding everywhere, shrunken windows from stage 2
        ("swin3d_t", (2, 3, 19, 60, 44)),  # odd length: temporal padding 10 -> 16 and a shifted time axis
        ("swin3d_s", (1, 3, 3, 36, 52)),
        ("swin3d_b", (1, 3, 9, 40, 36)),
    ],
)
def test_torchvision_parity(name, clip):
    with torch.device("meta"):  # torchvision's own init is slow and replaced anyway
        peer = getattr(torchvision.models.video, name)(num_classes=7)
    peer = peer.to_empty(device="cpu").eval()
    for module in peer.modules():
        if hasattr(module, "define_relative_position_index"):
            module.define_relative_position_index()
    randomize_(peer, seed=1)
    config, state = convert_torchvision_state_dict(peer.state_dict())
    model = _load(config, state)
    x = torch.randn(clip, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = peer(x)
        logits = model(x.transpose(1, 2)).logits
    assert expected.abs().max() > 0.1  # not a degenerate comparison
    assert _diff(logits, expected) < BOUND
