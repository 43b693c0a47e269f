"""ViT per frame against transformers' ViTForImageClassification and timm's ViT, both with random weights,
applied frame by frame: per-frame logits, and the clip logits after the mean consensus."""

from __future__ import annotations

import pytest
import timm
import torch
from transformers import ViTConfig, ViTForImageClassification

from conversion.common import ConversionError
from conversion.convert_vit_frames_timm import convert_timm_vit, timm_normalisation
from conversion.convert_vit_frames_transformers import convert_transformers_vit
from hf_videomodels.models.vit_frames import ViTFramesForVideoClassification

TOLERANCE = 1e-4


def randomise(model: torch.nn.Module) -> torch.nn.Module:
    """Every tensor random and non-trivial (LayerNorm scales around 1, position tables large)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.3 if parameter.ndim == 3 else 1 / parameter.shape[-1] ** 0.5)
            if parameter.ndim == 1:
                parameter.add_(1.0 if parameter.shape[0] == 48 else 0.0)
    return model.eval()


def transformers_pair():
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=3,
                       intermediate_size=96, num_labels=7)  # fmt: skip
    theirs = randomise(ViTForImageClassification(config))
    ours_config, state_dict = convert_transformers_vit(theirs.state_dict(), theirs.config, num_frames=5)
    ours = ViTFramesForVideoClassification(ours_config).eval()
    ours.load_state_dict(state_dict, strict=True)
    return theirs, ours


def timm_pair():
    theirs = randomise(timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=7, img_size=32,
                                         patch_size=8, embed_dim=48, depth=2, num_heads=3, mlp_ratio=2))  # fmt: skip
    config, state_dict = convert_timm_vit(theirs.state_dict(), num_heads=3, num_frames=5)
    ours = ViTFramesForVideoClassification(config).eval()
    ours.load_state_dict(state_dict, strict=True)
    return theirs, ours


def per_frame(image_model, clips: torch.Tensor, **kwargs) -> torch.Tensor:
    logits = image_model(clips.flatten(0, 1), **kwargs)
    logits = getattr(logits, "logits", logits)
    return logits.unflatten(0, clips.shape[:2])


@pytest.mark.parametrize("source", ["transformers", "timm"])
@pytest.mark.parametrize("frames", [5, 3])  # the trained count, and an odd other one
def test_frame_and_clip_logits_match(source, frames):
    theirs, ours = transformers_pair() if source == "transformers" else timm_pair()
    clips = torch.randn(2, frames, 3, 32, 32, generator=torch.Generator().manual_seed(frames))
    with torch.no_grad():
        expected = per_frame(theirs, clips)
        frame_logits, _ = ours.frame_logits(clips)
        clip_logits = ours(clips).logits
    assert expected.abs().max() > 0.1
    frame_diff = (frame_logits - expected).abs().max().item()
    clip_diff = (clip_logits - expected.mean(1)).abs().max().item()
    print(source, frames, f"frames {frame_diff:.2e} clip {clip_diff:.2e}")
    assert frame_diff <= TOLERANCE and clip_diff <= TOLERANCE


def test_other_resolution_interpolates_like_transformers():
    theirs, ours = transformers_pair()
    clips = torch.randn(1, 3, 3, 48, 40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = per_frame(theirs, clips, interpolate_pos_encoding=True)
        actual, _ = ours.frame_logits(clips)
    assert (actual - expected).abs().max().item() <= TOLERANCE


def test_strict_conversion_names_the_key():
    theirs, _ = transformers_pair()
    state_dict = dict(theirs.state_dict())
    state_dict["vit.pooler.dense.weight"] = torch.zeros(48, 48)
    with pytest.raises(ConversionError, match="vit.pooler.dense.weight"):
        convert_transformers_vit(state_dict, theirs.config)
    timm_state = dict(timm_pair()[0].state_dict())
    del timm_state["blocks.1.mlp.fc2.bias"]
    with pytest.raises(ConversionError, match=r"1\.mlp\.fc2\.bias"):
        convert_timm_vit(timm_state, num_heads=3)


def test_timm_normalisation_comes_from_its_table():
    assert timm_normalisation("vit_base_patch16_224.augreg2_in21k_ft_in1k") == ([0.5] * 3, [0.5] * 3)
    mean, std = timm_normalisation("vit_small_patch16_224.dino")
    assert mean[0] == pytest.approx(0.485) and std[2] == pytest.approx(0.225)
    with pytest.raises(ConversionError, match="no pretrained config"):
        timm_normalisation("vit_nonexistent_patch16_224.nothing")


def test_transformers_cli_folder(tmp_path):
    from transformers import AutoVideoProcessor, ViTImageProcessor

    from conversion.convert_vit_frames_transformers import main

    theirs, _ = transformers_pair()
    theirs.save_pretrained(tmp_path / "theirs")
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path / "theirs")
    output = main(["--checkpoint", str(tmp_path / "theirs"), "--output", str(tmp_path / "ours"), "--num-frames", "4"])
    converted = ViTFramesForVideoClassification.from_pretrained(output).eval()
    clips = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        assert (converted(clips).logits - per_frame(theirs, clips).mean(1)).abs().max() <= TOLERANCE
    processor = AutoVideoProcessor.from_pretrained(output)
    assert processor.num_frames == 4 and processor.size["height"] == 32 and list(processor.image_mean) == [0.5] * 3


def test_timm_cli_state_dict(tmp_path):
    from conversion.convert_vit_frames_timm import main

    theirs, _ = timm_pair()
    torch.save(theirs.state_dict(), tmp_path / "vit.pth")
    output = main(["--checkpoint", str(tmp_path / "vit.pth"), "--output", str(tmp_path / "ours"), "--num-heads", "3",
                   "--timm-name", "vit_small_patch16_224.dino"])  # fmt: skip
    converted = ViTFramesForVideoClassification.from_pretrained(output).eval()
    clips = torch.randn(1, 8, 3, 32, 32)
    with torch.no_grad():
        assert (converted(clips).logits - per_frame(theirs, clips).mean(1)).abs().max() <= TOLERANCE
    from transformers import AutoVideoProcessor

    assert AutoVideoProcessor.from_pretrained(output).image_mean[0] == pytest.approx(0.485)


def transformers4_names(state_dict, root: str) -> dict:
    """A transformers 5 state dict under the module names of the Hub files (transformers 4's)."""
    renames = {
        ".attention.q_proj.": ".attention.attention.query.",
        ".attention.k_proj.": ".attention.attention.key.",
        ".attention.v_proj.": ".attention.attention.value.",
        ".attention.o_proj.": ".attention.output.dense.",
        ".mlp.fc1.": ".intermediate.dense.",
        ".mlp.fc2.": ".output.dense.",
        f"{root}.layers.": f"{root}.encoder.layer.",
    }
    renamed = {}
    for key, tensor in state_dict.items():
        for new, old in renames.items():
            key = key.replace(new, old)
        renamed[key] = tensor
    return renamed


def test_hub_file_layout_converts_the_same():
    """google/vit-base-patch16-224's files keep transformers 4's module names."""
    theirs, ours = transformers_pair()
    hub_state = transformers4_names(theirs.state_dict(), "vit")
    assert "vit.encoder.layer.0.attention.attention.query.weight" in hub_state
    _, converted = convert_transformers_vit(hub_state, theirs.config)
    for key, tensor in ours.state_dict().items():
        assert torch.equal(converted[key], tensor), key
