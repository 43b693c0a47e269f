"""ViT per frame through the shared conformance suite, plus its per-frame contract."""

from __future__ import annotations

import pytest
import torch

from hf_videomodels.models.vit_frames import (
    ViTFramesConfig,
    ViTFramesForVideoClassification,
    ViTFramesModel,
    ViTFramesVideoProcessor,
)

from .conformance import VideoModelConformance

TINY = {
    "image_size": 32,
    "patch_size": 8,
    "num_frames": 3,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}


class TestViTFramesConformance(VideoModelConformance):
    config_class = ViTFramesConfig
    base_model_class = ViTFramesModel
    classification_model_class = ViTFramesForVideoClassification
    video_processor_class = ViTFramesVideoProcessor
    has_attentions = True

    def make_config(self, **overrides):
        return ViTFramesConfig(**{**TINY, "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        return torch.randn(batch_size, config.num_frames, 3, config.image_size, config.image_size, generator=generator)

    def make_video_processor(self, config):
        size = {"height": config.image_size, "width": config.image_size}
        return ViTFramesVideoProcessor(num_frames=config.num_frames, size=size, crop_size=size)

    def expected_hidden_state_shapes(self, config, pixel_values):
        batch, frames = pixel_values.shape[:2]
        tokens = 1 + (config.image_size // config.patch_size) ** 2
        return [(batch * frames, tokens, config.hidden_size)] * (config.num_hidden_layers + 1)

    def expected_attention_shapes(self, config, pixel_values):
        batch, frames = pixel_values.shape[:2]
        tokens = 1 + (config.image_size // config.patch_size) ** 2
        return [(batch * frames, config.num_attention_heads, tokens, tokens)] * config.num_hidden_layers


def test_frames_are_independent_and_order_free():
    torch.manual_seed(0)
    model = ViTFramesForVideoClassification(ViTFramesConfig(**TINY, num_labels=4)).eval()
    clips = torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        outputs = model.vit(clips)
        frame_logits, _ = model.frame_logits(clips)
        alone = model.vit(clips[:, 1:2]).pooler_output
        shuffled = model(clips[:, [2, 0, 1]]).logits
        logits = model(clips).logits
    assert outputs.pooler_output.shape == (1, 3, 32) and outputs.last_hidden_state.shape == (1, 3, 17, 32)
    assert torch.allclose(alone[:, 0], outputs.pooler_output[:, 1], atol=1e-5)
    assert torch.allclose(logits, frame_logits.mean(1), atol=1e-6)
    assert torch.allclose(shuffled, logits, atol=1e-5)  # the appearance-only baseline cannot see order


@pytest.mark.parametrize("consensus", ["max", "weighted"])
def test_other_consensus_modes(consensus):
    torch.manual_seed(0)
    model = ViTFramesForVideoClassification(ViTFramesConfig(**TINY, num_labels=4, consensus=consensus)).eval()
    clips = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        frame_logits, _ = model.frame_logits(clips)
        expected = frame_logits.amax(1) if consensus == "max" else frame_logits.mean(1)  # weighted starts equal
        assert torch.allclose(model(clips).logits, expected, atol=1e-6)


def test_bad_config_values_are_named():
    with pytest.raises(Exception, match="consensus"):
        ViTFramesConfig(consensus="median")
    with pytest.raises(Exception, match="num_attention_heads"):
        ViTFramesConfig(hidden_size=30, num_attention_heads=4)
