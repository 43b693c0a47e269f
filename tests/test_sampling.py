"""Frame index sampling: the SlowFast clip recipe, TSN segments, short videos, views and seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hf_videomodels.sampling import clip_indices, sample_views, segment_indices


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------------------------- clips


def test_clip_positions_match_the_slowfast_arithmetic():
    # 8 frames "at rate 32" span 256 frames: linspace(0, 255, 8) truncated, 36.4 frames apart.
    np.testing.assert_array_equal(clip_indices(300, 8, 32, alignment="start"), [0, 36, 72, 109, 145, 182, 218, 255])
    # The centred clip starts at floor((300 - 256) / 2) = 22.
    np.testing.assert_array_equal(clip_indices(300, 8, 32, alignment="centre"), [22, 58, 94, 131, 167, 204, 240, 277])


@pytest.mark.parametrize("total, num_frames, rate", [(300, 8, 32), (250, 64, 1), (1000, 16, 4), (97, 5, 3)])
def test_clip_length_rate_and_centring_at_eval(total, num_frames, rate):
    indices = clip_indices(total, num_frames, rate)
    assert indices.shape == (num_frames,) and indices.dtype == np.int64
    assert np.all(np.diff(indices) > 0)
    span = num_frames * rate - 1
    assert indices[-1] - indices[0] in (span - 1, span)  # truncation of float positions
    start = math.floor((total - num_frames * rate) / 2)
    assert indices[0] == start
    # Centred: the room left before the clip equals the room after it, up to one frame.
    assert abs(indices[0] - (total - 1 - indices[-1])) <= 1
    if rate == 1:
        np.testing.assert_array_equal(indices, np.arange(start, start + num_frames))


def test_target_fps_stretches_the_clip_to_real_time():
    # 8 frames at rate 32 on a 30 fps grid; a 25 fps video covers 8 * 32 * 25 / 30 = 213.3 source frames.
    indices = clip_indices(1000, 8, 32, alignment="start", fps=25.0, target_fps=30)
    assert indices[0] == 0 and indices[-1] == int(8 * 32 * 25 / 30 - 1)
    same_rate = clip_indices(1000, 8, 32, alignment="start", fps=30.0, target_fps=30)
    np.testing.assert_array_equal(same_rate, clip_indices(1000, 8, 32, alignment="start"))


def test_start_alignment_places_views_at_delta_i_over_n():
    total, num_frames, rate, num_clips = 500, 8, 8, 4
    delta = total - num_frames * rate
    views = sample_views(total, num_frames, sample_rate=rate, num_clips=num_clips, alignment="start")
    assert [int(view[0]) for view in views] == [int(delta * i / num_clips) for i in range(num_clips)]


def test_centre_alignment_spreads_views_from_first_to_last_frame():
    total, num_frames, rate = 500, 8, 8
    views = sample_views(total, num_frames, sample_rate=rate, num_clips=3, alignment="centre")
    assert len(views) == 3 and all(view.shape == (num_frames,) for view in views)
    assert views[0][0] == 0
    assert total - 1 - views[-1][-1] <= 2  # floor(delta / 2) steps can leave a frame or two at the end
    starts = [int(view[0]) for view in views]
    assert starts == sorted(starts) and starts[1] - starts[0] == starts[2] - starts[1]


def test_training_clips_are_random_within_bounds_and_seedable():
    draws = [clip_indices(300, 8, 8, training=True, generator=seeded(seed)) for seed in range(50)]
    for indices in draws:
        assert indices.min() >= 0 and indices.max() <= 299
        assert indices[-1] - indices[0] in (62, 63)
    assert len({int(indices[0]) for indices in draws}) > 20  # the start really varies
    np.testing.assert_array_equal(
        clip_indices(300, 8, 8, training=True, generator=seeded(7)),
        clip_indices(300, 8, 8, training=True, generator=seeded(7)),
    )
    # Evaluation ignores the generator: deterministic.
    np.testing.assert_array_equal(clip_indices(300, 8, 8, generator=seeded(1)), clip_indices(300, 8, 8))


def test_short_video_clamp_repeats_the_last_frame():
    indices = clip_indices(10, 8, 2, short_video="clamp")
    np.testing.assert_array_equal(indices, [0, 2, 4, 6, 8, 9, 9, 9])  # linspace(0, 15, 8), clamped to 9


def test_short_video_loop_wraps_around_like_deepmind_i3d():
    np.testing.assert_array_equal(clip_indices(10, 25, 1, short_video="loop"), np.arange(25) % 10)
    np.testing.assert_array_equal(clip_indices(10, 8, 2, short_video="loop"), [0, 2, 4, 6, 8, 0, 2, 5])
    # Training on a short video has no room to move: same as evaluation.
    np.testing.assert_array_equal(
        clip_indices(10, 25, 1, short_video="loop", training=True, generator=seeded(0)), np.arange(25) % 10
    )


def test_single_frame_video():
    np.testing.assert_array_equal(clip_indices(1, 4, 8), [0, 0, 0, 0])
    np.testing.assert_array_equal(segment_indices(1, 4), [0, 0, 0, 0])


# ------------------------------------------------------------------------ exact-stride clips (mmaction2, DMVR)
# 32 frames at stride 2, as ViViT (DMVR) and Video Swin (mmaction2) sample Kinetics; indices worked out by hand.


def exact_clip(start: int, total: int, num_frames: int = 32, stride: int = 2) -> list[int]:
    return [(start + stride * k) % total for k in range(num_frames)]


def test_dmvr_single_view_is_the_centred_window():
    # sample_sequence(random=False): start (T - 32 * 2) // 2, frames exactly 2 apart (no linspace step of 3).
    assert clip_indices(300, 32, 2, alignment="dmvr").tolist() == exact_clip(118, 300)
    assert clip_indices(301, 32, 2, alignment="dmvr").tolist() == exact_clip(118, 301)
    assert clip_indices(70, 32, 2, alignment="dmvr").tolist() == list(range(3, 67, 2))


def test_dmvr_test_views_start_at_a_float32_linspace():
    # sample_linspace_sequence: starts tf.linspace(0., T - 64, 4) cast to int32. T = 300: 236 / 3 = 78.67, so
    # 0, 78, 157, 236 (SlowFast's "centre" spacing, i * floor(236 / 3), would give 0, 78, 156, 234).
    views = sample_views(300, 32, sample_rate=2, num_clips=4, alignment="dmvr", short_video="loop")
    assert [view.tolist() for view in views] == [exact_clip(start, 300) for start in (0, 78, 157, 236)]
    views = sample_views(71, 32, sample_rate=2, num_clips=3, alignment="dmvr", short_video="loop")
    assert [int(view[0]) for view in views] == [0, 3, 7]  # linspace(0, 7, 3) = 0, 3.5, 7


def test_dmvr_short_videos_repeat_from_the_start():
    # A 40-frame video tiled until 64 frames exist: frames 0, 2, ..., 38, then 0, 2, ..., 22; every view alike.
    views = sample_views(40, 32, sample_rate=2, num_clips=4, alignment="dmvr", short_video="loop")
    assert all(view.tolist() == list(range(0, 40, 2)) + list(range(0, 24, 2)) for view in views)
    # 63 frames hold a 32 x 2 clip (its last frame is 62): no repeat at evaluation or training.
    assert clip_indices(63, 32, 2, alignment="dmvr", short_video="loop").tolist() == list(range(0, 63, 2))
    for seed in range(5):
        indices = clip_indices(63, 32, 2, alignment="dmvr", short_video="loop", training=True, generator=seeded(seed))
        assert indices.tolist() == list(range(0, 63, 2))
        short = clip_indices(50, 32, 2, alignment="dmvr", short_video="loop", training=True, generator=seeded(seed))
        assert short.tolist() == exact_clip(0, 50)


@pytest.mark.parametrize(
    "alignment, last_start",
    # DMVR draws from 0 .. T - (32 - 1) * 2 - 1 = 37 on 100 frames (the last frame must fit, not the last stride);
    # mmaction2 from 0 .. T - 32 * 2 = 36.
    [("dmvr", 37), ("mmaction", 36)],
)
def test_exact_stride_training_starts(alignment, last_start):
    draws = [
        clip_indices(100, 32, 2, alignment=alignment, training=True, short_video="loop", generator=seeded(seed))
        for seed in range(400)
    ]
    assert all(indices.tolist() == exact_clip(int(indices[0]), 100) for indices in draws)
    assert {int(indices[0]) for indices in draws} == set(range(last_start + 1))
    np.testing.assert_array_equal(
        clip_indices(100, 32, 2, alignment=alignment, training=True, generator=seeded(3)),
        clip_indices(100, 32, 2, alignment=alignment, training=True, generator=seeded(3)),
    )


@pytest.mark.parametrize("total", [1, 30, 63, 64, 65, 127, 300, 301, 1000, 1001])
@pytest.mark.parametrize("num_clips", [1, 2, 3, 4, 10])
def test_mmaction_test_clips_follow_sample_frames(total, num_clips):
    # _get_test_clips in numpy's own form: offsets (arange(n) * avg + avg / 2).astype(int), 0 when T < 64.
    room = total - 64 + 1
    average = room / float(num_clips)
    offsets = (np.arange(num_clips) * average + average / 2.0).astype(int) if total > 63 else np.zeros(num_clips, int)
    expected = np.mod(offsets[:, None] + np.arange(32)[None, :] * 2, total)  # out_of_bound_opt="loop"
    views = sample_views(total, 32, sample_rate=2, num_clips=num_clips, alignment="mmaction", short_video="loop")
    np.testing.assert_array_equal(np.stack(views), expected)


def test_exact_stride_alignments_refuse_target_fps():
    for alignment in ("mmaction", "dmvr"):
        with pytest.raises(ValueError, match="raw frames"):
            clip_indices(300, 32, 2, alignment=alignment, fps=25.0, target_fps=30)


# -------------------------------------------------------------------------------------------- segments


def test_segment_middles_follow_the_ssv2_recipe():
    # s = 78 / 8 = 9.75; bounds round(s * i) with numpy's half-to-even: 0 10 20 29 39 49 58 68 78.
    np.testing.assert_array_equal(segment_indices(79, 8), [5, 15, 24, 34, 44, 53, 63, 73])


@pytest.mark.parametrize("total", [3, 8, 79, 1000])
def test_segments_cover_the_whole_video(total):
    num_frames = 8
    bounds = np.round((total - 1) / num_frames * np.arange(num_frames + 1)).astype(int)
    eval_indices = segment_indices(total, num_frames)
    assert eval_indices.shape == (num_frames,)
    assert np.all(np.diff(eval_indices) >= 0)
    assert np.all((bounds[:-1] <= eval_indices) & (eval_indices <= bounds[1:]))
    assert bounds[0] == 0 and bounds[-1] == total - 1  # the segments tile the video end to end
    for seed in range(20):
        train_indices = segment_indices(total, num_frames, training=True, generator=seeded(seed))
        assert np.all((bounds[:-1] <= train_indices) & (train_indices <= bounds[1:]))


def test_training_segments_are_random_and_seedable():
    draws = {tuple(segment_indices(1000, 8, training=True, generator=seeded(seed))) for seed in range(10)}
    assert len(draws) == 10
    np.testing.assert_array_equal(
        segment_indices(1000, 8, training=True, generator=seeded(3)),
        segment_indices(1000, 8, training=True, generator=seeded(3)),
    )


def test_training_segments_reach_both_ends_of_each_segment():
    # randint(start, end) is inclusive: with 3 frames and 1 segment, 0, 1 and 2 all occur.
    seen = {int(segment_indices(3, 1, training=True, generator=seeded(seed))[0]) for seed in range(200)}
    assert seen == {0, 1, 2}


# ----------------------------------------------------------------------------------------------- views


def test_views_at_training_are_one_random_clip():
    views = sample_views(300, 8, sample_rate=4, num_clips=5, training=True, generator=seeded(0))
    assert len(views) == 1 and views[0].shape == (8,)


def test_segments_have_a_single_temporal_view():
    assert len(sample_views(100, 8, sampling="segments")) == 1
    with pytest.raises(ValueError, match="single temporal view"):
        sample_views(100, 8, sampling="segments", num_clips=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(total_num_frames=0, num_frames=8), "total_num_frames"),
        (dict(total_num_frames=10, num_frames=0), "num_frames"),
        (dict(total_num_frames=10, num_frames=4, sample_rate=0), "sample_rate"),
        (dict(total_num_frames=10, num_frames=4, short_video="repeat"), "short_video"),
        (dict(total_num_frames=10, num_frames=4, alignment="middle"), "alignment"),
        (dict(total_num_frames=10, num_frames=4, clip_index=2, num_clips=2), "clip_index"),
    ],
)
def test_invalid_clip_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        clip_indices(**kwargs)
