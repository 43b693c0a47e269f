"""Swin (2D) per frame through the shared conformance suite (tiny config), plus its consensus and config checks."""

from __future__ import annotations

import math

import pytest
import torch

from hf_videomodels.models.swin import SwinConfig, SwinForVideoClassification, SwinModel, SwinVideoProcessor

from .conformance import VideoModelConformance

TINY = {
    "image_size": 32,
    "num_frames": 3,
    "embed_dim": 16,
    "depths": [2, 2],
    "num_heads": [1, 2],
    "window_size": [4, 4],
    "drop_path_rate": 0.0,
}


class TestSwinConformance(VideoModelConformance):
    config_class = SwinConfig
    base_model_class = SwinModel
    classification_model_class = SwinForVideoClassification
    video_processor_class = SwinVideoProcessor
    has_attentions = True

    def make_config(self, **overrides):
        return SwinConfig(**{**TINY, "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        shape = (batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)
        return torch.randn(shape, generator=generator)

    def expected_hidden_state_shapes(self, config, pixel_values):
        batch, frames, _, height, _ = pixel_values.shape
        side = math.ceil(height / config.patch_size[0])  # 8, then 4
        width = config.embed_dim
        return [(batch * frames, side, side, width), (batch * frames, side // 2, side // 2, 2 * width),
                (batch * frames, side // 2, side // 2, 2 * width)]

    def expected_attention_shapes(self, config, pixel_values):
        batch, frames = pixel_values.shape[:2]
        # stage 0: 8x8 tokens in 4 windows of 4x4; stage 1: 4x4 tokens, one window
        return [(batch * frames * 4, 1, 16, 16)] * 2 + [(batch * frames, 2, 16, 16)] * 2


def test_frame_logits_are_averaged():
    torch.manual_seed(0)
    model = SwinForVideoClassification(SwinConfig(**TINY, num_labels=4)).eval()
    clip = torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        per_frame = torch.stack([model(clip[:, t : t + 1]).logits[0] for t in range(3)])
        assert (model(clip).logits[0] - per_frame.mean(0)).abs().max() < 1e-5


@pytest.mark.parametrize("overrides", [{"window_size": [4, 4, 4]}, {"consensus": "median"}, {"patch_size": [4]}])
def test_config_validation(overrides):
    with pytest.raises(Exception, match="window_size|consensus|patch_size"):
        SwinConfig(**{**TINY, **overrides})
