"""Video Swin through the shared conformance suite (tiny config), plus what is particular to it: shapes at
odd clip lengths and sizes, per-stage gradient checkpointing, the sizes of Swin-T/S/B/L, the processor's
published recipe, and config validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers.modeling_layers import GradientCheckpointingLayer

from hf_videomodels.layers import SwinStage
from hf_videomodels.sampling import sample_views
from hf_videomodels.models.video_swin import (
    SWIN_SIZES,
    VideoSwinConfig,
    VideoSwinForVideoClassification,
    VideoSwinModel,
    VideoSwinVideoProcessor,
)

from .conformance import VideoModelConformance

TINY = {
    "image_size": 32,
    "num_frames": 4,
    "embed_dim": 16,
    "depths": [2, 2],
    "num_heads": [1, 2],
    "window_size": [2, 4, 4],
    "drop_path_rate": 0.0,
    "classifier_dropout": 0.0,
}


def stage_grids(config, frames: int, height: int, width: int) -> list[tuple[int, int, int]]:
    """Token grid entering each stage: patches rounded up, then halved (rounded up) in space per stage."""
    patch = config.patch_size
    grid = (math.ceil(frames / patch[0]), math.ceil(height / patch[1]), math.ceil(width / patch[2]))
    grids = [grid]
    for _ in config.depths[1:]:
        grid = (grid[0], math.ceil(grid[1] / 2), math.ceil(grid[2] / 2))
        grids.append(grid)
    return grids


class TestVideoSwinConformance(VideoModelConformance):
    config_class = VideoSwinConfig
    base_model_class = VideoSwinModel
    classification_model_class = VideoSwinForVideoClassification
    video_processor_class = VideoSwinVideoProcessor
    has_attentions = True

    def make_config(self, **overrides):
        return VideoSwinConfig(**{**TINY, "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        shape = (batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)
        return torch.randn(shape, generator=generator)

    def make_video_processor(self, config):
        return VideoSwinVideoProcessor.for_model_config(config, num_clips=1, num_crops=1)

    def expected_hidden_state_shapes(self, config, pixel_values):
        batch, frames, _, height, width = pixel_values.shape
        grids = stage_grids(config, frames, height, width)
        shapes = [(batch, *grids[0], config.embed_dim)]
        for i in range(len(config.depths)):
            last = i == len(config.depths) - 1
            grid = grids[i] if last else grids[i + 1]
            shapes.append((batch, *grid, config.embed_dim * 2 ** (i if last else i + 1)))
        return shapes

    def expected_attention_shapes(self, config, pixel_values):
        batch, frames, _, height, width = pixel_values.shape
        shapes = []
        for grid, depth, heads in zip(stage_grids(config, frames, height, width), config.depths, config.num_heads):
            window = [min(g, w) for g, w in zip(grid, config.window_size)]
            windows = math.prod(math.ceil(g / w) for g, w in zip(grid, window))
            tokens = math.prod(window)
            shapes += [(batch * windows, heads, tokens, tokens)] * depth
        return shapes


@pytest.mark.parametrize("frames, height, width", [(5, 36, 44), (1, 20, 28), (7, 32, 60)])
def test_odd_clip_lengths_and_sizes(frames, height, width):
    torch.manual_seed(0)
    config = VideoSwinConfig(**{**TINY, "num_labels": 3})
    model = VideoSwinForVideoClassification(config).eval()
    pixel_values = torch.randn(1, frames, 3, height, width)
    with torch.no_grad():
        outputs = model(pixel_values, output_hidden_states=True)
    last_grid = stage_grids(config, frames, height, width)[-1]
    assert outputs.hidden_states[-1].shape == (1, *last_grid, 32)
    assert torch.isfinite(outputs.logits).all()


def test_gradient_checkpointing_is_per_stage():
    config = VideoSwinConfig(**{**TINY, "num_labels": 3})
    model = VideoSwinForVideoClassification(config)
    checkpointed = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    assert len(checkpointed) == len(config.depths) and all(isinstance(m, SwinStage) for m in checkpointed)
    model.activation_checkpointing_enable()
    assert model.is_activation_checkpointing


# Parameters of the released models (README of shared/reference/video_swin), index buffers excluded.
RELEASED_PARAMETERS = {("tiny", 400): 28_158_070}


@pytest.mark.parametrize("size", ["tiny", "small", "base", "large"])
def test_swin_sizes_build(size):
    embed_dim, depths, num_heads = SWIN_SIZES[size]
    config = VideoSwinConfig(embed_dim=embed_dim, depths=list(depths), num_heads=list(num_heads), num_labels=400)
    with torch.device("meta"):
        model = VideoSwinForVideoClassification(config)
    count = sum(p.numel() for p in model.parameters())
    if (size, 400) in RELEASED_PARAMETERS:
        assert count == RELEASED_PARAMETERS[(size, 400)]
    assert model.classifier.in_features == embed_dim * 8


def test_processor_recipe():
    processor = VideoSwinVideoProcessor()
    assert (processor.num_frames, processor.frame_sample_rate, processor.sampling) == (32, 2, "clip")
    assert (processor.num_clips, processor.num_crops) == (4, 3)
    assert processor.size.shortest_edge == 224 and processor.crop_size.height == 224
    assert not processor.do_flip
    video = torch.randint(0, 256, (80, 48, 64, 3), dtype=torch.uint8).numpy()
    small = VideoSwinVideoProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    pixel_values = small(video, return_tensors="pt")["pixel_values"]
    assert pixel_values.shape == (1, 12, 32, 3, 32, 32)  # 4 clips x 3 crops


def test_mmaction_test_clips():
    """SampleFrames(32, 2, num_clips=4, test_mode=True) on 300 frames: room 237, intervals of 59.25, clips at
    int(29.625), int(88.875), int(148.125), int(207.375); short videos loop."""
    views = sample_views(300, 32, sample_rate=2, num_clips=4, alignment="mmaction", short_video="loop")
    assert [int(v[0]) for v in views] == [29, 88, 148, 207]
    assert all((np.diff(v) == 2).all() for v in views)
    short = sample_views(40, 32, sample_rate=2, num_clips=2, alignment="mmaction", short_video="loop")
    assert short[0].tolist() == [i % 40 for i in range(0, 64, 2)] and short[1].tolist() == short[0].tolist()


def test_processor_training_clip_is_mmactions():
    """SampleFrames(32, 2) at training on 80 frames: a start drawn from 0 .. 80 - 64 = 16, frames exactly 2 apart
    (frame i of the video is the constant 3 * i)."""
    video = np.broadcast_to((np.arange(80, dtype=np.uint8) * 3)[:, None, None, None], (80, 40, 48, 3)).copy()
    processor = VideoSwinVideoProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    starts = set()
    for seed in range(60):
        pixel_values = processor(video, training=True, seed=seed, return_tensors="pt")["pixel_values"]
        frame_values = pixel_values[0, :, 0].mean((-1, -2)) * processor.image_std[0] + processor.image_mean[0]
        indices = (frame_values * 255 / 3).round().long()
        assert indices.diff().eq(2).all()
        starts.add(int(indices[0]))
    assert starts <= set(range(17)) and {0, 16} & starts and len(starts) > 8


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"depths": [2, 2], "num_heads": [1]}, "one entry per stage"),
        ({"embed_dim": 10, "num_heads": [3, 6]}, "multiple of its"),
        ({"window_size": [7, 7]}, "window_size"),
        ({"drop_path_rate": 1.5}, "drop_path_rate"),
    ],
)
def test_config_validation(overrides, message):
    with pytest.raises(Exception, match=message):
        VideoSwinConfig(**{**TINY, **overrides})


def test_initialisation_from_image_swin_on_a_boring_clip():
    """Inflated from a 2D Swin, the video backbone sees a repeated image as the image model does."""
    from hf_videomodels.models.swin import SwinConfig, SwinForVideoClassification
    from hf_videomodels.models.video_swin import video_swin_from_image_swin

    from .test_video_swin_conversion import randomize_

    torch.manual_seed(0)
    sizes = {"embed_dim": 16, "depths": [2, 2], "num_heads": [1, 2], "drop_path_rate": 0.0}
    image_model = SwinForVideoClassification(SwinConfig(**sizes, window_size=[4, 4], num_labels=5)).eval()
    randomize_(image_model, seed=1)
    video_model = video_swin_from_image_swin(image_model, VideoSwinConfig(**sizes, window_size=[2, 4, 4], num_labels=3))
    video_model.eval()
    table_2d = image_model.swin.encoder.stages[0].blocks[1].attn.relative_position_bias_table
    table_3d = video_model.video_swin.encoder.stages[0].blocks[1].attn.relative_position_bias_table
    assert table_3d.shape == (3 * 49, 1) and torch.equal(table_3d[49:98], table_2d)
    image = torch.randn(1, 1, 3, 40, 48)
    clip = image.expand(1, 8, 3, 40, 48)  # 4 temporal tokens: windows of 2, temporal shift and mask, no padding
    with torch.no_grad():
        features_2d = image_model.swin(image).last_hidden_state  # (1, h, w, C)
        features_3d = video_model.video_swin(clip).last_hidden_state  # (1, 4, h, w, C)
    assert features_3d.shape[1] == 4
    assert (features_3d - features_2d.unsqueeze(1)).abs().max() < 1e-4
