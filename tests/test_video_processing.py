"""The video processing base and the I3D / TimeSformer processors: inputs, views, training, errors, saving."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import PIL.Image
import pytest
import torch
from torch.nn import functional as F
from transformers import AutoVideoProcessor, PreTrainedConfig

from hf_videomodels import video_io
from hf_videomodels.models.i3d.video_processing_i3d import I3DVideoProcessor
from hf_videomodels.models.timesformer.video_processing_timesformer import TimeSformerVideoProcessor
from hf_videomodels.video_io import VideoDecodingError, read_video, write_video
from hf_videomodels.video_processing_utils import VideoClipProcessor

# Small settings keep every test fast; the recipes themselves are the same at any size.
SMALL = dict(num_frames=4, frame_sample_rate=5, size={"shortest_edge": 96}, crop_size={"height": 80, "width": 80})
GIF_FRAMES = 79


@pytest.fixture(scope="module")
def gif_frames(sample_gif) -> np.ndarray:
    return read_video(sample_gif)[0]


@pytest.fixture(scope="module")
def gif_as_mp4(gif_frames, tmp_path_factory):
    return write_video(gif_frames, tmp_path_factory.mktemp("mp4") / "clip.mp4", codec="h264")


def processor(**overrides) -> VideoClipProcessor:
    return VideoClipProcessor(**{**SMALL, **overrides})


def gradient_video(height: int, width: int, frames: int = 3) -> np.ndarray:
    """Pixel value = column index (or row index on the green channel): crops reveal their offsets."""
    video = np.zeros((frames, height, width, 3), dtype=np.uint8)
    video[..., 0] = np.arange(width)[None, None, :]
    video[..., 1] = np.arange(height)[None, :, None]
    return video


RAW = dict(do_normalize=False, do_rescale=False)  # pixel values out as they went in


# ----------------------------------------------------------------------------------------------- inputs


def test_every_input_type_gives_the_same_pixel_values(sample_gif, gif_frames):
    proc = processor()
    expected = proc(str(sample_gif))["pixel_values"]
    assert expected.shape == (1, 4, 3, 80, 80) and expected.dtype == torch.float32
    same = {
        "pathlib.Path": sample_gif,
        "bytes": sample_gif.read_bytes(),
        "file object": io.BytesIO(sample_gif.read_bytes()),
        "numpy (T, H, W, C) uint8": gif_frames,
        "numpy (T, C, H, W) uint8": np.ascontiguousarray(gif_frames.transpose(0, 3, 1, 2)),
        "numpy float in [0, 1]": gif_frames.astype(np.float32) / 255,
        "torch tensor": torch.from_numpy(gif_frames),
        "torch float (T, C, H, W)": torch.from_numpy(gif_frames).permute(0, 3, 1, 2).double() / 255,
        "list of PIL frames": [PIL.Image.fromarray(frame) for frame in gif_frames],
        "list of numpy frames": list(gif_frames),
        "read-only numpy": np.lib.stride_tricks.as_strided(gif_frames, writeable=False),
    }
    for name, video in same.items():
        got = proc(video)["pixel_values"]
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0, msg=name)


def test_arrays_take_their_frame_rate_from_video_metadata(sample_gif, gif_frames):
    proc = TimeSformerVideoProcessor(size={"shortest_edge": 112}, crop_size={"height": 112, "width": 112})
    from_path = proc(sample_gif, return_metadata=True)
    from_array = proc(gif_frames, video_metadata={"fps": 25.0}, return_metadata=True)
    torch.testing.assert_close(from_array["pixel_values"], from_path["pixel_values"], atol=1e-5, rtol=0)
    assert from_array["video_metadata"][0].frames_indices == from_path["video_metadata"][0].frames_indices
    # Without a frame rate the 8 x 32 clip is counted in raw frames (256 of them): a different clip.
    raw = proc(gif_frames, return_metadata=True)["video_metadata"][0].frames_indices
    assert raw == [0, 36, 72, 78, 78, 78, 78, 78]


def test_batches(sample_gif, gif_frames):
    proc = processor()
    single = proc(gif_frames)["pixel_values"][0]
    reversed_video = np.ascontiguousarray(gif_frames[::-1])
    for batch in ([sample_gif, reversed_video], np.stack([gif_frames, reversed_video])):
        pixel_values = proc(batch, return_tensors="pt")["pixel_values"]
        assert pixel_values.shape == (2, 4, 3, 80, 80)
        torch.testing.assert_close(pixel_values[0], single, atol=1e-5, rtol=0)
    frames_lists = [[PIL.Image.fromarray(frame) for frame in video] for video in (gif_frames, reversed_video)]
    torch.testing.assert_close(proc(frames_lists)["pixel_values"][0], single, atol=1e-5, rtol=0)
    assert isinstance(proc([sample_gif], return_tensors="np")["pixel_values"], np.ndarray)


def test_mp4_and_gif_give_close_pixel_values(sample_gif, gif_as_mp4):
    proc = TimeSformerVideoProcessor()
    from_gif = proc(sample_gif)["pixel_values"]
    from_mp4 = proc(gif_as_mp4)["pixel_values"]
    assert from_mp4.shape == from_gif.shape
    assert (from_mp4 - from_gif).abs().mean() < 10 / 255 / 0.225  # lossy H.264: a few grey levels


def test_only_sampled_frames_are_decoded(sample_gif, monkeypatch):
    decoded = []
    real_frames = video_io._pyav_frames

    def spy(source, container, stream, index, chosen, name):
        decoded.append(chosen.tolist())
        return real_frames(source, container, stream, index, chosen, name)

    monkeypatch.setattr(video_io, "_pyav_frames", spy)
    out = processor(num_frames=8, frame_sample_rate=4)(sample_gif, return_metadata=True)
    (sampled,) = [info.frames_indices for info in out["video_metadata"]]
    assert decoded == [sorted(set(sampled))] and len(sampled) == 8


def test_pipeline_call_with_a_path(sample_gif):
    # What pipeline("video-classification") does: path, the config's num_frames, sampling on, tensors out.
    out = TimeSformerVideoProcessor()(str(sample_gif), num_frames=8, do_sample_frames=True, return_tensors="pt")
    assert list(out.keys()) == ["pixel_values"] and out["pixel_values"].shape == (1, 8, 3, 224, 224)


def test_presampled_frames_pass_through_unchanged(gif_frames):
    clip = gif_frames[:6]
    out = processor(do_sample_frames=False, **RAW)(clip, return_metadata=True)
    assert out["pixel_values"].shape == (1, 6, 3, 80, 80)
    assert out["video_metadata"][0].frames_indices == list(range(6))


# ---------------------------------------------------------------------------------------------- recipes


def test_i3d_recipe_on_the_real_clip(sample_gif):
    out = I3DVideoProcessor()(sample_gif, return_metadata=True)
    pixel_values = out["pixel_values"]
    assert pixel_values.shape == (1, 64, 3, 224, 224)
    assert -1 <= pixel_values.min() < -0.9 and 0.9 < pixel_values.max() <= 1
    # 64 consecutive frames, centred in the 79: floor(15 / 2) = 7 .. 70.
    assert out["video_metadata"][0].frames_indices == list(range(7, 71))


def test_i3d_loops_short_videos(gif_frames):
    out = I3DVideoProcessor()(gif_frames[:10], return_metadata=True)
    assert out["pixel_values"].shape == (1, 64, 3, 224, 224)
    assert out["video_metadata"][0].frames_indices == [i % 10 for i in range(64)]
    torch.testing.assert_close(out["pixel_values"][0, 10], out["pixel_values"][0, 0])


def test_timesformer_recipe_on_the_real_clip(sample_gif):
    out = TimeSformerVideoProcessor()(sample_gif, return_metadata=True)
    assert out["pixel_values"].shape == (1, 8, 3, 224, 224)
    # 8 x 32 at 30 fps on a 25 fps clip spans 213 frames; past the 79th frame the last one repeats (clamp).
    assert out["video_metadata"][0].frames_indices == [0, 30, 60, 78, 78, 78, 78, 78]
    three_crops = TimeSformerVideoProcessor()(sample_gif, num_crops=3)["pixel_values"]
    assert three_crops.shape == (1, 3, 8, 3, 224, 224)  # 224x224 frames: the three crops coincide
    torch.testing.assert_close(three_crops[:, 1], out["pixel_values"])


def test_spatial_pipeline_follows_the_original_order():
    """TimeSformer normalises uint8/255 first, then resizes in float (F.interpolate, bilinear, no antialias),
    then crops at ceil((H - h) / 2): our fused order must give the same numbers."""
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, size=(8, 90, 121, 3), dtype=np.uint8)
    proc = TimeSformerVideoProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    ours = proc(video, do_sample_frames=False, num_crops=3)["pixel_values"][0]

    frames = (torch.from_numpy(video).float() / 255 - 0.45) / 0.225
    frames = frames.permute(0, 3, 1, 2)
    new_width = math.floor(121 / 90 * 64)
    frames = F.interpolate(frames, size=(64, new_width), mode="bilinear", align_corners=False)
    offsets = [0, math.ceil((new_width - 64) / 2), new_width - 64]
    reference = torch.stack([frames[..., :, left : left + 64] for left in offsets])
    torch.testing.assert_close(ours, reference, atol=2e-5, rtol=0)


# ------------------------------------------------------------------------------------------------ views


def test_multi_view_shapes_and_order(gif_frames):
    proc = processor(num_clips=2, num_crops=3)
    out = proc(gif_frames, return_metadata=True)
    assert out["pixel_values"].shape == (1, 6, 4, 3, 80, 80)
    indices = out["video_metadata"][0].frames_indices
    assert len(indices) == 8 and indices[:4] != indices[4:]  # two temporal views
    # Views are clip-major: views 0-2 share clip 0's frames, with the centre crop in the middle.
    single_clip = processor()(gif_frames, num_crops=3)["pixel_values"]
    assert single_clip.shape == (1, 3, 4, 3, 80, 80)
    batch = proc([gif_frames, gif_frames])["pixel_values"]
    assert batch.shape == (2, 6, 4, 3, 80, 80)


@pytest.mark.parametrize("height, width", [(60, 100), (100, 60)])
def test_three_crops_cover_both_ends_and_the_centre(height, width):
    video = gradient_video(height, width)
    proc = VideoClipProcessor(
        num_frames=3, size={"shortest_edge": 60}, crop_size={"height": 60, "width": 60}, num_crops=3, **RAW
    )
    crops = proc(video, do_sample_frames=False)["pixel_values"][0]  # (3, T, C, 60, 60)
    long_side_channel = 0 if width > height else 1  # red = column, green = row
    first_pixel = [int(crop[0, long_side_channel, 0, 0]) for crop in crops]
    last_pixel = [int(crop[0, long_side_channel, -1, -1]) for crop in crops]
    assert first_pixel == [0, 20, 40]  # left/top, centre, right/bottom
    assert last_pixel[-1] == 99  # the last crop reaches the far end of the long side


def test_centre_crop_offset_rounds_up_like_slowfast():
    video = gradient_video(60, 101)
    proc = VideoClipProcessor(num_frames=1, size={"shortest_edge": 60}, crop_size={"height": 60, "width": 60}, **RAW)
    crop = proc(video, do_sample_frames=False)["pixel_values"][0]
    assert int(crop[0, 0, 0, 0]) == math.ceil((101 - 60) / 2)


def test_short_side_resize_keeps_the_aspect_ratio_with_floor():
    video = gradient_video(90, 121)
    proc = VideoClipProcessor(num_frames=1, size={"shortest_edge": 64}, do_center_crop=False, **RAW)
    assert proc(video, do_sample_frames=False)["pixel_values"].shape == (1, 3, 3, 64, 86)  # floor(121*64/90)


def test_bgr_reverses_the_channels(gif_frames):
    rgb = processor()(gif_frames)["pixel_values"]
    bgr = processor(channel_order="bgr")(gif_frames)["pixel_values"]
    mean = torch.tensor(VideoClipProcessor.image_mean).view(3, 1, 1)
    std = torch.tensor(VideoClipProcessor.image_std).view(3, 1, 1)
    torch.testing.assert_close(bgr * std + mean, (rgb * std + mean).flip(-3), atol=1e-5, rtol=0)


def test_optical_flow_arrays(gif_frames):
    flow = np.ascontiguousarray(gif_frames[..., :2])
    proc = I3DVideoProcessor(num_channels=2, image_mean=[0.5, 0.5], image_std=[0.5, 0.5], num_frames=16)
    pixel_values = proc(flow)["pixel_values"]
    assert pixel_values.shape == (1, 16, 2, 224, 224)
    rgb = I3DVideoProcessor(num_frames=16)(gif_frames)["pixel_values"]
    torch.testing.assert_close(pixel_values, rgb[:, :, :2], atol=1e-5, rtol=0)


# --------------------------------------------------------------------------------------------- training


def test_training_is_random_seedable_and_shaped(gif_frames):
    proc = processor()
    first = proc(gif_frames, training=True, seed=0, return_metadata=True)
    again = proc(gif_frames, training=True, seed=0, return_metadata=True)
    other = proc(gif_frames, training=True, seed=1, return_metadata=True)
    assert first["pixel_values"].shape == (1, 4, 3, 80, 80)
    torch.testing.assert_close(first["pixel_values"], again["pixel_values"], atol=0, rtol=0)
    assert not torch.equal(first["pixel_values"], other["pixel_values"])
    # Training takes one clip even when evaluation would take several views.
    assert proc(gif_frames, training=True, num_clips=3, num_crops=3)["pixel_values"].shape == (1, 4, 3, 80, 80)
    # The same call without training is deterministic.
    torch.testing.assert_close(proc(gif_frames)["pixel_values"], proc(gif_frames)["pixel_values"], atol=0, rtol=0)


def test_flip_is_off_by_default_and_mirrors_when_on():
    video = gradient_video(64, 64, frames=4)
    proc = VideoClipProcessor(
        num_frames=4,
        crop_size={"height": 64, "width": 64},
        random_resized_crop_scale=(1.0, 1.0),
        random_resized_crop_ratio=(1.0, 1.0),
        **RAW,
    )
    for seed in range(8):
        unflipped = proc(video, training=True, seed=seed)["pixel_values"][0, 0, 0, 0]
        assert unflipped[0] < unflipped[-1]  # column values still increase left to right
    flips = [
        bool(proc(video, training=True, seed=seed, do_flip=True)["pixel_values"][0, 0, 0, 0, 0] > 0)
        for seed in range(16)
    ]
    assert any(flips) and not all(flips)


def test_random_resized_crop_boxes_stay_inside_the_frame():
    from hf_videomodels.video_processing_utils import random_resized_crop_box

    generator = torch.Generator().manual_seed(0)
    for height, width in [(240, 320), (100, 30), (17, 500)]:
        for _ in range(200):
            top, left, crop_height, crop_width = random_resized_crop_box(
                height, width, (0.25, 1.0), (3 / 4, 4 / 3), generator
            )
            assert 0 <= top and top + crop_height <= height and 0 <= left and left + crop_width <= width
            assert crop_height > 0 and crop_width > 0


# ----------------------------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        processor()(str(tmp_path / "missing.mp4"))


def test_corrupt_file(tmp_path):
    corrupt = tmp_path / "random.mp4"
    corrupt.write_bytes(np.random.default_rng(1).bytes(2048))
    with pytest.raises(VideoDecodingError, match="random.mp4"):
        processor()(corrupt)


@pytest.mark.parametrize(
    "video, error, message",
    [
        (np.zeros((0, 32, 32, 3), np.uint8), ValueError, "no frames"),
        (np.zeros((32, 32, 3), np.uint8), ValueError, "4-D"),
        (np.zeros((2, 4, 32, 32, 3, 1), np.uint8), ValueError, "4-D"),
        (np.zeros((4, 32, 32, 5), np.uint8), ValueError, "expected 3 channels"),
        (np.zeros((4, 32, 32, 3), np.int32), TypeError, "unsupported video dtype int32"),
        (torch.zeros((4, 32, 32, 3), dtype=torch.int64), TypeError, "unsupported video dtype torch.int64"),
        (np.full((4, 32, 32, 3), 200.0, np.float32), ValueError, r"values in \[0, 1\]"),
        ([], ValueError, "empty"),
        (PIL.Image.new("RGB", (8, 8)), TypeError, "single image"),
        (42, TypeError, "int"),
        ([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)], ValueError, "same shape"),
    ],
)
def test_bad_inputs(video, error, message):
    with pytest.raises(error, match=message):
        processor()(video)


def test_flow_processor_refuses_files(sample_gif):
    proc = I3DVideoProcessor(num_channels=2, image_mean=[0.5, 0.5], image_std=[0.5, 0.5])
    with pytest.raises(ValueError, match="num_channels=2"):
        proc(sample_gif)


def test_short_videos_are_not_an_error(gif_frames):
    for short_video in ("clamp", "loop"):
        out = processor(num_frames=16, short_video=short_video)(gif_frames[:3])
        assert out["pixel_values"].shape == (1, 16, 3, 80, 80)


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(num_crops=2), "num_crops"),
        (dict(sampling="random"), "sampling"),
        (dict(short_video="pad"), "short_video"),
        (dict(num_frames=0), "num_frames"),
        (dict(sampling="segments", num_clips=2), "num_clips must be 1"),
        (dict(image_mean=[0.5, 0.5]), "image_mean needs 3 values"),
        (dict(num_channels=2, channel_order="bgr", image_mean=[0.5] * 2, image_std=[0.5] * 2), "bgr"),
        (dict(num_channels=2, do_flip=True, image_mean=[0.5] * 2, image_std=[0.5] * 2), "flow"),
        (dict(random_resized_crop_scale=(0.5, 2.0)), "random_resized_crop_scale"),
        (dict(crop_size={"height": 200, "width": 200}), "larger than the resized frames"),
    ],
)
def test_bad_settings_fail_at_construction_or_call(settings, message, gif_frames):
    with pytest.raises(ValueError, match=message):
        processor(**settings)(gif_frames)


def test_call_time_settings_are_checked(gif_frames):
    proc = processor()
    with pytest.raises(ValueError, match="num_crops"):
        proc(gif_frames, num_crops=5)
    with pytest.raises(TypeError, match="unexpected keyword argument.*num_frame"):
        proc(gif_frames, num_frame=8)


# ------------------------------------------------------------------------------------------- save / load


NON_DEFAULT = dict(
    num_frames=12,
    sampling="segments",
    frame_sample_rate=3,
    target_fps=15,
    short_video="loop",
    clip_alignment="start",
    num_crops=3,
    size={"shortest_edge": 128},
    crop_size={"height": 112, "width": 100},
    do_normalize=True,
    image_mean=[0.1, 0.2, 0.3],
    image_std=[0.4, 0.5, 0.6],
    channel_order="bgr",
    antialias=True,
    random_resized_crop_scale=(0.25, 1.0),
    random_resized_crop_ratio=(0.5, 2.0),
    do_flip=True,
)


class _ProcessorTestConfig(PreTrainedConfig):
    model_type = "hfvm_video_processing_test"


def test_save_and_load_round_trip(tmp_path, gif_frames):
    original = TimeSformerVideoProcessor(**NON_DEFAULT, training=True, seed=3)
    original.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "video_preprocessor_config.json").read_text())
    assert saved["video_processor_type"] == "TimeSformerVideoProcessor"
    for name, value in NON_DEFAULT.items():
        assert saved[name] == (list(value) if isinstance(value, tuple) else value), name
    assert "training" not in saved and "seed" not in saved  # call state, not configuration

    loaded = TimeSformerVideoProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == original.to_dict()
    assert loaded.random_resized_crop_scale == (0.25, 1.0) and loaded.training is False
    torch.testing.assert_close(loaded(gif_frames)["pixel_values"], original(gif_frames, training=False)["pixel_values"])

    AutoVideoProcessor.register(_ProcessorTestConfig, TimeSformerVideoProcessor, exist_ok=True)
    auto_loaded = AutoVideoProcessor.from_pretrained(tmp_path)
    assert type(auto_loaded) is TimeSformerVideoProcessor and auto_loaded.to_dict() == original.to_dict()


def test_from_pretrained_overrides(tmp_path):
    I3DVideoProcessor().save_pretrained(tmp_path)
    loaded = I3DVideoProcessor.from_pretrained(tmp_path, num_frames=32, short_video="clamp")
    assert loaded.num_frames == 32 and loaded.short_video == "clamp" and loaded.size.shortest_edge == 256
