"""The shared pieces per-frame models and new architectures build on: frame folding, the consensus layer,
initialisation by role, the fixed-size resize and the registration table."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from transformers import PretrainedConfig

import hf_videomodels
from hf_videomodels.layers import FrameConsensus, fold_frames, unfold_frames
from hf_videomodels.modeling_utils import VideoClassificationMixin, VideoPreTrainedModel, set_init_role
from hf_videomodels.registration import ARCHITECTURE_FOLDERS, architectures
from hf_videomodels.training import collate
from hf_videomodels.video_processing_utils import VideoClipProcessor


def test_fold_and_unfold_frames_are_inverse_and_frame_major():
    video = torch.randn(2, 3, 4, 5, 6)
    images = fold_frames(video)
    assert images.shape == (6, 4, 5, 6)
    assert torch.equal(images[4], video[1, 1])
    assert torch.equal(unfold_frames(images, 3), video)


@pytest.mark.parametrize(
    ("mode", "reduce"), [("mean", lambda x: x.mean(1)), ("max", lambda x: x.amax(1)), ("weighted", lambda x: x.mean(1))]
)
def test_consensus_modes(mode, reduce):
    per_frame = torch.randn(3, 5, 7)
    # "weighted" starts as the mean (equal weights)
    torch.testing.assert_close(FrameConsensus(mode, num_frames=5)(per_frame), reduce(per_frame))


@pytest.mark.parametrize("mode", ["mean", "max", "weighted"])
def test_padded_frames_do_not_change_a_clip(mode):
    consensus = FrameConsensus(mode, num_frames=6)
    if mode == "weighted":
        with torch.no_grad():
            consensus.frame_weight_logits.copy_(torch.randn(6))
    clip = torch.randn(1, 4, 3)
    padded = torch.cat([clip, torch.full((1, 2, 3), 1e4)], dim=1)  # huge padding values must not leak in
    mask = torch.tensor([[True] * 4 + [False] * 2])
    got = consensus(padded, mask)
    if mode == "weighted":
        weights = consensus.frame_weight_logits[:4].softmax(0)
        expected = (weights[None, :, None] * clip).sum(1)
    else:
        expected = FrameConsensus(mode)(clip)
    torch.testing.assert_close(got, expected)


def test_consensus_errors_are_clear():
    with pytest.raises(ValueError, match="unknown consensus"):
        FrameConsensus("median")
    with pytest.raises(ValueError, match="give num_frames"):
        FrameConsensus("weighted")
    with pytest.raises(ValueError, match="built for 4 frames, got 3"):
        FrameConsensus("weighted", num_frames=4)(torch.randn(1, 3, 2))
    with pytest.raises(ValueError, match="at least one real frame"):
        FrameConsensus("mean")(torch.randn(2, 3, 2), torch.tensor([[1, 0, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match=r"\(batch, frames\) = \(2, 3\)"):
        FrameConsensus("mean")(torch.randn(2, 3, 2), torch.ones(2, 4))


def test_weights_are_initialised_by_role():
    class Tiny(VideoPreTrainedModel):
        config_class = hf_videomodels.I3DConfig

        def __init__(self, config):
            super().__init__(config)
            self.stem = nn.Conv2d(3, 64, 3)  # unmarked conv: a ReLU stack, He init
            self.patch = set_init_role(nn.Conv2d(3, 64, 4, stride=4), "linear")
            self.gamma = set_init_role(nn.BatchNorm2d(64), "zero")
            self.classifier = nn.Conv3d(64, 10, 1)  # the classifier starts small even as a conv
            self.post_init()

    torch.manual_seed(0)
    model = Tiny(hf_videomodels.I3DConfig(initializer_range=0.02))
    he_std = (2 / (3 * 3 * 3)) ** 0.5
    assert model.stem.weight.std().item() == pytest.approx(he_std, rel=0.1)
    assert model.patch.weight.std().item() == pytest.approx(0.02, rel=0.15)
    assert model.classifier.weight.std().item() == pytest.approx(0.02, rel=0.15)
    assert torch.count_nonzero(model.gamma.weight) == 0
    with pytest.raises(ValueError, match="unknown init role"):
        set_init_role(nn.Linear(2, 2), "xavier")


def test_fixed_size_resize_changes_the_aspect_ratio():
    frames = np.random.default_rng(0).integers(0, 256, size=(8, 240, 320, 3), dtype=np.uint8)
    processor = VideoClipProcessor(
        num_frames=8, size={"height": 128, "width": 171}, crop_size={"height": 112, "width": 112}, do_normalize=False
    )
    out = processor(frames, return_tensors="pt")["pixel_values"]
    assert out.shape == (1, 8, 3, 112, 112)
    resized = torch.nn.functional.interpolate(
        torch.from_numpy(frames).permute(0, 3, 1, 2).float(), size=(128, 171), mode="bilinear", align_corners=False
    )
    top, left = 8, 30  # ceil((128 - 112) / 2), ceil((171 - 112) / 2)
    torch.testing.assert_close(out[0], resized[..., top : top + 112, left : left + 112] / 255)
    with pytest.raises(ValueError, match="size must"):
        VideoClipProcessor(size={"height": 128})


def test_processor_for_a_smaller_config_scales_a_fixed_resize():
    processor = VideoClipProcessor(size={"height": 128, "width": 171}, crop_size={"height": 112, "width": 112})
    config = hf_videomodels.TimeSformerConfig(num_frames=8, image_size=56, patch_size=8)
    matched = processor.matched_to_config(config)
    assert (matched.size.height, matched.size.width) == (64, 86)


def test_registration_table_names_every_architecture():
    assert [arch.name for arch in architectures()] == list(ARCHITECTURE_FOLDERS)
    for arch in architectures():
        for cls in arch.classes:
            assert getattr(hf_videomodels, cls.__name__) is cls
            assert cls.__name__ in hf_videomodels.__all__


class _TwoInputClassifier(VideoClassificationMixin, VideoPreTrainedModel):
    """The smallest model with two video inputs: each input's mean over frames and space, then a linear layer."""

    config_class = PretrainedConfig
    video_input_names = ("pixel_values", "flow_values")

    def __init__(self, config):
        super().__init__(config)
        self.classifier = nn.Linear(5, config.num_labels)
        self.post_init()

    def compute_logits(self, pixel_values, output_hidden_states=False, output_attentions=False, flow_values=None):
        features = [pixel_values.mean((1, 3, 4))]
        missing = pixel_values.new_zeros(len(pixel_values), 2)
        features.append(flow_values.mean((1, 3, 4)) if flow_values is not None else missing)
        return self.classifier(torch.cat(features, -1)), None


def test_every_video_input_is_folded_per_view_and_collated():
    model = _TwoInputClassifier(PretrainedConfig(num_labels=4)).eval()
    rgb, flow = torch.randn(2, 3, 4, 3, 6, 6), torch.randn(2, 3, 4, 2, 6, 6)  # 2 videos, 3 views
    with torch.no_grad():
        averaged = model(pixel_values=rgb, flow_values=flow).logits
        per_view = model(pixel_values=rgb.flatten(0, 1), flow_values=flow.flatten(0, 1)).logits
        without_flow = model(pixel_values=rgb).logits
    torch.testing.assert_close(averaged, per_view.unflatten(0, (2, 3)).mean(1))
    assert not torch.allclose(averaged, without_flow)  # the second input reaches the model
    with pytest.raises(ValueError, match="flow_values has 2 views per video and pixel_values 3"):
        model(pixel_values=rgb, flow_values=flow[:, :2])

    examples = [{"pixel_values": rgb[i, 0], "flow_values": flow[i, 0], "labels": i} for i in range(2)]
    batch = collate(examples)
    assert set(batch) == {"pixel_values", "flow_values", "labels"}
    assert torch.equal(batch["flow_values"], flow[:, 0]) and batch["labels"].tolist() == [0, 1]
