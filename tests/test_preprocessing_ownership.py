"""One source of truth for preprocessing: the saved video processor owns every setting, call-time arguments
override it, and every entry point (pipeline, classify, direct calls, training) follows that one rule."""

from __future__ import annotations

import inspect
import logging

import numpy as np
import pytest
import torch
from transformers import (
    TimesformerConfig,
    TimesformerForVideoClassification,
    pipeline,
)
from transformers.models.timesformer.video_processing_timesformer import TimesformerVideoProcessor
from transformers.pipelines.video_classification import VideoClassificationPipeline
from transformers.utils import logging as hf_logging

from hf_videomodels import (
    I3DConfig,
    I3DForVideoClassification,
    I3DVideoProcessor,
    TimeSformerConfig,
    TimeSformerForVideoClassification,
    TimeSformerVideoProcessor,
    VideoClipClassificationPipeline,
    VideoClipProcessor,
)
from hf_videomodels.cli import main as cli_main
from hf_videomodels.errors import UserInputError
from hf_videomodels.sampling import repeated_frame_count
from hf_videomodels.training import TrainConfig, build_model_and_processor

from .test_i3d_modeling import TINY as TINY_I3D
from .test_training import TINY_TIMESFORMER

CONFIG_FRAMES, PROCESSOR_FRAMES = 8, 32


@pytest.fixture(autouse=True)
def fresh_warning_once():
    """``warning_once`` remembers messages for the whole process: start each test with a clean slate."""
    hf_logging.warning_once.cache_clear()
    yield
    hf_logging.warning_once.cache_clear()


@pytest.fixture
def i3d_folder(tmp_path):
    """A tiny I3D whose config says 8 frames, saved beside a processor that samples 32 (the issue's case)."""
    torch.manual_seed(0)
    config = I3DConfig(**{**TINY_I3D, "num_frames": CONFIG_FRAMES}, num_labels=3)
    I3DForVideoClassification(config).save_pretrained(tmp_path)
    processor = I3DVideoProcessor(
        num_frames=PROCESSOR_FRAMES, size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}
    )
    processor.save_pretrained(tmp_path)
    return tmp_path, processor


@pytest.fixture
def fed_to_i3d(monkeypatch):
    """Every ``pixel_values`` an I3D classifier is called with, in call order (the model's real input)."""
    seen = []
    forward = I3DForVideoClassification.forward

    def spy(self, pixel_values, *args, **kwargs):
        seen.append(pixel_values.detach().clone())
        return forward(self, pixel_values, *args, **kwargs)

    monkeypatch.setattr(I3DForVideoClassification, "forward", spy)
    return seen


# ------------------------------------------------------------------------------------- the pipeline


def test_the_task_builds_the_package_pipeline(i3d_folder):
    folder, _ = i3d_folder
    assert type(pipeline("video-classification", model=str(folder))) is VideoClipClassificationPipeline


def test_pipeline_classify_and_processor_feed_the_same_frames(i3d_folder, fed_to_i3d, sample_gif, caplog, capsys):
    folder, processor = i3d_folder
    expected = processor(str(sample_gif), return_tensors="pt")["pixel_values"]
    assert expected.shape == (1, PROCESSOR_FRAMES, 3, 64, 64)

    with caplog.at_level(logging.WARNING):
        pipeline("video-classification", model=str(folder))(str(sample_gif))
    assert cli_main(["classify", str(sample_gif), "--model", str(folder), "--top-k", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2

    from_pipeline, from_cli = fed_to_i3d
    assert torch.equal(from_pipeline, expected)
    assert torch.equal(from_cli, expected)
    # The disagreement with the config is said, once, naming both values and the one used.
    said = [r.getMessage() for r in caplog.records if "num_frames=32" in r.getMessage()]
    assert len(said) == 1 and "num_frames=8" in said[0] and "processor's setting is used" in said[0]


def test_pipeline_takes_every_processor_option(i3d_folder, fed_to_i3d, sample_gif):
    folder, processor = i3d_folder
    classifier = pipeline("video-classification", model=str(folder))
    classifier(str(sample_gif), num_clips=2, num_crops=3)
    (views,) = fed_to_i3d
    assert views.shape == (1, 6, PROCESSOR_FRAMES, 3, 64, 64)
    assert torch.equal(views, processor(str(sample_gif), num_clips=2, num_crops=3, return_tensors="pt")["pixel_values"])


def test_frame_sampling_rate_reaches_the_processor(i3d_folder, fed_to_i3d, sample_gif):
    folder, processor = i3d_folder
    pipeline("video-classification", model=str(folder))(str(sample_gif), frame_sampling_rate=2)
    every_second = processor(str(sample_gif), frame_sample_rate=2, return_tensors="pt")["pixel_values"]
    assert torch.equal(fed_to_i3d[0], every_second)
    assert not torch.equal(every_second, processor(str(sample_gif), return_tensors="pt")["pixel_values"])


def test_options_given_at_construction_apply_to_every_call(i3d_folder, fed_to_i3d, sample_gif):
    folder, processor = i3d_folder
    classifier = pipeline("video-classification", model=str(folder), num_frames=16, clip_alignment="start")
    classifier(str(sample_gif))
    classifier(str(sample_gif), num_frames=24)  # a call's own value wins over the construction's
    expected = processor(str(sample_gif), num_frames=16, clip_alignment="start", return_tensors="pt")
    assert torch.equal(fed_to_i3d[0], expected["pixel_values"])
    assert fed_to_i3d[1].shape[1] == 24


def test_unknown_or_conflicting_pipeline_options_are_clear_errors(i3d_folder, sample_gif):
    folder, _ = i3d_folder
    classifier = pipeline("video-classification", model=str(folder))
    with pytest.raises(UserInputError, match=r"'num_clip' \(did you mean 'num_clips'\?\).*num_crops"):
        classifier(str(sample_gif), num_clip=2)
    with pytest.raises(UserInputError, match="name the same setting"):
        classifier(str(sample_gif), frame_sampling_rate=2, frame_sample_rate=3)


def test_other_models_keep_transformers_pipeline_behaviour(tmp_path):
    """A model whose video processor is not ours gets transformers' preprocessing, unchanged."""
    torch.manual_seed(0)
    config = TimesformerConfig(**TINY_TIMESFORMER, num_labels=3)
    TimesformerForVideoClassification(config).save_pretrained(tmp_path)
    TimesformerVideoProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        tmp_path
    )
    ours = pipeline("video-classification", model=str(tmp_path))
    reference = VideoClassificationPipeline(model=ours.model, video_processor=ours.video_processor)
    video = np.random.default_rng(0).integers(0, 256, (12, 40, 48, 3), dtype=np.uint8)
    assert ours(video, top_k=3) == reference(video, top_k=3)
    with pytest.raises(TypeError, match="num_clips"):  # as transformers' own pipeline does
        ours(video, num_clips=2)


# ----------------------------------------------------------------------------- processor and config


def test_training_from_scratch_sizes_the_processor_from_the_config(tmp_path):
    def built(architecture, **overrides):
        cfg = TrainConfig(data_dir=tmp_path, output_dir=tmp_path, architecture=architecture, **overrides)
        return build_model_and_processor(cfg, ["a", "b"])

    _, timesformer = built("timesformer", config_overrides={**TINY_TIMESFORMER, "image_size": 64})
    assert (timesformer.num_frames, timesformer.size.shortest_edge) == (TINY_TIMESFORMER["num_frames"], 64)
    assert (timesformer.crop_size.height, timesformer.crop_size.width) == (64, 64)
    assert timesformer.frame_sample_rate == TimeSformerVideoProcessor.frame_sample_rate  # the recipe's own
    model, i3d = built("i3d", config_overrides={**TINY_I3D, "num_frames": 24})
    # I3D resizes to 256 for its 224 crops: the same ratio at 64 pixels, and its 24 frames.
    assert (i3d.num_frames, i3d.size.shortest_edge, i3d.crop_size.height) == (24, 73, 64)
    assert model.config.num_frames == 24


def test_fine_tuning_with_new_input_moves_the_saved_processor(tmp_path):
    source = tmp_path / "pretrained"
    config = TimeSformerConfig(num_labels=5, **TINY_TIMESFORMER)
    TimeSformerForVideoClassification(config).save_pretrained(source)
    saved = TimeSformerVideoProcessor(
        num_frames=4, frame_sample_rate=4, size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32}
    )
    saved.save_pretrained(source)

    def built(**overrides):
        cfg = TrainConfig(data_dir=tmp_path, output_dir=tmp_path / "out", model=str(source), **overrides)
        return build_model_and_processor(cfg, ["a", "b"])[1]

    assert built().to_dict() == saved.to_dict()  # no input change: the saved processor as it is
    moved = built(config_overrides={"num_frames": 8, "image_size": 48})
    assert (moved.num_frames, moved.crop_size.height, moved.size.shortest_edge) == (8, 48, 60)  # 40/32 kept
    assert moved.frame_sample_rate == 4  # the saved recipe's other settings stay
    explicit = built(config_overrides={"num_frames": 8}, processor_overrides={"num_frames": 6})
    assert explicit.num_frames == 6


def test_an_explicit_setting_against_the_config_is_kept_with_a_warning(caplog):
    config = TimeSformerConfig(**{**TINY_TIMESFORMER, "image_size": 64})
    with caplog.at_level(logging.WARNING):
        processor = TimeSformerVideoProcessor.for_model_config(config, crop_size={"height": 224, "width": 224})
    assert (processor.crop_size.height, processor.size.shortest_edge) == (224, 224)  # resize fits the crop
    (message,) = [r.getMessage() for r in caplog.records]
    assert "224x224" in message and "image_size=64" in message and "kept" in message


def test_for_model_config_follows_channels_and_refuses_a_wrong_count():
    flow = I3DConfig(**TINY_I3D, num_channels=2)
    processor = I3DVideoProcessor.for_model_config(flow)
    assert processor.num_channels == 2 and list(processor.image_mean) == [0.5, 0.5]
    assert I3DVideoProcessor.for_model_config(I3DConfig()).to_dict() == I3DVideoProcessor().to_dict()
    with pytest.raises(UserInputError, match="takes 2 channels"):
        I3DVideoProcessor.for_model_config(flow, num_channels=3, image_mean=[0.5] * 3, image_std=[0.5] * 3)


# ------------------------------------------------------------------------------------ repeated frames


@pytest.mark.parametrize(
    ("indices", "repeats"),
    [([0, 30, 60, 78, 78, 78, 78, 78], 5), ([0, 1, 2, 3], 0), ([0, 0, 1, 1], 4), ([5], 0)],
)
def test_repeated_frame_count(indices, repeats):
    assert repeated_frame_count(np.array(indices)) == repeats


def test_mostly_repeated_clip_is_kept_and_said_once_per_processor(sample_gif, caplog):
    processor = TimeSformerVideoProcessor()
    with caplog.at_level(logging.WARNING):
        out = processor(str(sample_gif), return_metadata=True)
        processor(str(sample_gif))
    assert out["video_metadata"][0].frames_indices == [0, 30, 60, 78, 78, 78, 78, 78]  # the original's clip
    (message,) = [r.getMessage() for r in caplog.records]
    assert "79-frame video" in message and "[0, 30, 60, 78, 78, 78, 78, 78]" in message
    assert "frame_sample_rate" in message and "segments" in message
    assert "_repeat_warning_given" not in processor.to_dict()  # state, not a setting

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        TimeSformerVideoProcessor(frame_sample_rate=8)(str(sample_gif))  # 8 distinct frames: nothing to say
        TimeSformerVideoProcessor()(str(sample_gif))  # another processor says it again
    assert len(caplog.records) == 1


# ----------------------------------------------------------------------------------- discoverability


def test_call_signature_shows_the_options():
    for method in (VideoClipProcessor.__call__, VideoClipProcessor.preprocess, I3DVideoProcessor().__call__):
        parameters = inspect.signature(method).parameters
        for name in ("num_frames", "sampling", "frame_sample_rate", "num_clips", "num_crops", "clip_alignment"):
            assert parameters[name].default is None and parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert "num_crops: spatial views" in method.__doc__
    with pytest.raises(TypeError, match=r"'num_frame' \(did you mean 'num_frames'\?\)"):
        TimeSformerVideoProcessor()(np.zeros((4, 8, 8, 3), np.uint8), num_frame=8)
