"""DeepMind's two-stream I3D rebuilt from pytorch-i3d's RGB and flow checkpoints (logits added), against the
original code's fixtures."""

from __future__ import annotations

import pytest
import torch

from conversion.common import ConversionError
from conversion.convert_two_stream_i3d import build_two_stream_i3d
from conversion.convert_two_stream_i3d import main as convert_i3d_main
from hf_videomodels.models.two_stream import TwoStreamForVideoClassification, TwoStreamVideoProcessor

from .test_i3d_conversion import VARIANTS, _original_state_dict, reference  # noqa: F401 (reference: a fixture)

PARITY_ATOL = 1e-4


@pytest.fixture(scope="module")
def i3d_checkpoints() -> dict[str, dict[str, torch.Tensor]]:
    """The four pytorch-i3d checkpoints in the official format (parity checkpoint + the README's deltas)."""
    return {variant: _original_state_dict(variant) for variant in VARIANTS}


@pytest.mark.parametrize("dataset", ["imagenet", "charades"])
def test_two_stream_i3d_adds_the_original_streams_logits(dataset, i3d_checkpoints, reference):
    clips, expected = reference
    labels = None if dataset == "imagenet" else [f"action {i}" for i in range(157)]
    model, processor = build_two_stream_i3d(
        i3d_checkpoints[f"rgb_{dataset}"], i3d_checkpoints[f"flow_{dataset}"], labels=labels
    )
    assert model.config.fusion == "logits" and model.config.fusion_weights == [1.0, 1.0]
    assert model.config.flow_mode == "clip"
    with torch.no_grad():
        outputs = model.two_stream(pixel_values=clips["rgb"], flow_values=clips["flow"])
        fused = model.fusion(outputs.rgb_logits, outputs.flow_logits)
    rgb_diff = (outputs.rgb_logits - expected[f"rgb_{dataset}.logits_mean"]).abs().max().item()
    flow_diff = (outputs.flow_logits - expected[f"flow_{dataset}.logits_mean"]).abs().max().item()
    summed = expected[f"rgb_{dataset}.logits_mean"] + expected[f"flow_{dataset}.logits_mean"]
    fused_diff = (fused - summed).abs().max().item()
    print(f"\ntwo-stream I3D {dataset}: max abs diff rgb {rgb_diff:.2e}, flow {flow_diff:.2e}, fused {fused_diff:.2e}")
    assert max(rgb_diff, flow_diff, fused_diff) <= PARITY_ATOL
    # The DeepMind recipe for both streams: 64 frames, 256 -> 224, [-1, 1]; the flow clip is 64 flow fields.
    assert (processor.num_frames, processor.crop_size.height, list(processor.image_mean)) == (64, 224, [0.5] * 3)
    assert (processor.flow_mode, processor.flow_num_frames) == ("clip", 64)


def test_two_stream_i3d_refuses_swapped_or_mismatched_checkpoints(i3d_checkpoints):
    with pytest.raises(ConversionError, match="not a RGB"):
        build_two_stream_i3d(i3d_checkpoints["flow_imagenet"], i3d_checkpoints["flow_imagenet"])
    with pytest.raises(ConversionError, match="not a flow"):
        build_two_stream_i3d(i3d_checkpoints["rgb_imagenet"], i3d_checkpoints["rgb_imagenet"])
    with pytest.raises(ConversionError):  # 400 and 157 classes: not one set
        build_two_stream_i3d(i3d_checkpoints["rgb_imagenet"], i3d_checkpoints["flow_charades"])


def test_two_stream_i3d_script_writes_a_loadable_folder(tmp_path, i3d_checkpoints):
    rgb_path, flow_path = tmp_path / "rgb_imagenet.pt", tmp_path / "flow_imagenet.pt"
    torch.save(i3d_checkpoints["rgb_imagenet"], rgb_path)
    torch.save(i3d_checkpoints["flow_imagenet"], flow_path)
    output = convert_i3d_main(
        ["--rgb-checkpoint", str(rgb_path), "--flow-checkpoint", str(flow_path), "--output", str(tmp_path / "out")]
    )
    model = TwoStreamForVideoClassification.from_pretrained(output)
    processor = TwoStreamVideoProcessor.from_pretrained(output)
    assert model.config.num_labels == 400 and model.config.id2label[0] == "abseiling"
    assert model.config.rgb_config.id2label == model.config.flow_config.id2label == model.config.id2label
    assert processor.flow_num_frames == 64
    assert "Two-stream I3D" in (output / "README.md").read_text()
