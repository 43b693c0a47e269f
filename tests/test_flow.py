"""hf_videomodels.flow: the colour wheel against torchvision's, the flow of frame pairs through RAFT's
``clip_flow``, and the on-disk flow cache (a second call does not recompute; a changed parameter does)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torchvision.utils import flow_to_image

from hf_videomodels.flow import (
    FlowCache,
    color_wheel,
    color_wheel_key,
    flow_to_color,
    frame_pair_flow,
    raft_pixels,
    video_flow,
)
from hf_videomodels.video_io import write_video

from .flow_test_utils import CountingFlow, torchvision_raft_small


def uniform_flow(x: float, y: float, size: int = 4) -> torch.Tensor:
    return torch.tensor([x, y]).view(2, 1, 1).expand(2, size, size).clone()


# ------------------------------------------------------------------------------------------------ colours


def test_color_wheel_is_the_middlebury_one():
    wheel = color_wheel()
    assert wheel.shape == (55, 3)
    # Segment starts: red, yellow, green, cyan, blue, magenta at hues 0, 15, 21, 25, 36, 49.
    starts = {0: (255, 0, 0), 15: (255, 255, 0), 21: (0, 255, 0), 25: (0, 255, 255), 36: (0, 0, 255), 49: (255, 0, 255)}
    for index, rgb in starts.items():
        assert tuple(wheel[index].int().tolist()) == rgb
    assert tuple(wheel[1].int().tolist()) == (255, 17, 0)  # floor(255 / 15) on the way to yellow


def test_matches_torchvision_flow_to_image_on_random_flow():
    generator = torch.Generator().manual_seed(0)
    batch = torch.randn(3, 2, 17, 23, generator=generator) * 5
    expected = flow_to_image(batch).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(flow_to_color(batch), expected)  # one scale for the batch, as torchvision
    single = batch[1]
    np.testing.assert_array_equal(flow_to_color(single), flow_to_image(single).permute(1, 2, 0).numpy())
    np.testing.assert_array_equal(flow_to_color(single.numpy()), flow_to_color(single))  # numpy in, same out


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        ((1.0, 0.0), (255, 0, 0)),  # right: red
        ((0.0, 1.0), (255, 229, 0)),  # down (image y): yellow, hue 13.5 of 55
        ((-1.0, 0.0), (0, 209, 255)),  # left: cyan-blue, hue 27
        ((0.0, -1.0), (88, 0, 255)),  # up: blue-violet, hue 40.5 (at 1 - 1e-7 of full length: torchvision's scale)
    ],
)
def test_exact_directions(direction, expected):
    color = flow_to_color(uniform_flow(*direction))
    assert color.shape == (4, 4, 3) and color.dtype == np.uint8
    assert tuple(color[0, 0].tolist()) == expected
    reference = flow_to_image(uniform_flow(*direction)).permute(1, 2, 0)
    assert tuple(reference[0, 0].tolist()) == expected


def test_length_sets_saturation_and_overlong_flow_is_darkened():
    assert tuple(flow_to_color(uniform_flow(0, 0), max_magnitude=1.0)[0, 0].tolist()) == (255, 255, 255)
    half = flow_to_color(uniform_flow(0.5, 0), max_magnitude=1.0)[0, 0]
    assert tuple(half.tolist()) == (255, 127, 127)  # halfway from white to red
    overlong = flow_to_color(uniform_flow(3, 0), max_magnitude=1.0)[0, 0]
    assert tuple(overlong.tolist()) == (191, 0, 0)  # full red, darkened to 0.75
    # Without max_magnitude the longest vector of the input is full colour.
    field = torch.cat([uniform_flow(2, 0), uniform_flow(1, 0)], dim=2)
    colors = flow_to_color(field)
    assert tuple(colors[0, 0].tolist()) == (255, 0, 0) and tuple(colors[0, -1].tolist()) == (255, 127, 127)


def test_color_wheel_key_and_bad_shapes():
    key = color_wheel_key(21)
    assert key.shape == (21, 21, 3)
    right = key[10, 20].tolist()
    assert right[0] == 255 and max(right[1:]) < 50  # right of the centre: red (the wheel's seam, either side)
    assert tuple(key[10, 10].tolist()) == (255, 255, 255)  # the centre: no motion
    with pytest.raises(ValueError, match=r"\(2, H, W\)"):
        flow_to_color(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="max_magnitude"):
        flow_to_color(torch.zeros(2, 4, 4), max_magnitude=0)


# ------------------------------------------------------------------------------------------ pairs via RAFT


@pytest.fixture(scope="module")
def raft():
    return torchvision_raft_small()


def random_frames(count: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, height, width), generator=generator, dtype=torch.uint8)


def test_frame_pair_flow_equals_torchvision_raft_per_pair(raft):
    # torchvision's RAFT needs 128 pixels; sizes that are not multiples of 8 are padded and cropped back.
    frames = random_frames(3, 132, 140)
    flow = frame_pair_flow(frames, raft, [1, 0, 1], num_iterations=2)
    assert flow.shape == (3, 2, 132, 140)
    # The same pairs through torchvision's model itself, padded as RAFT's InputPadder pads.
    padded = torch.nn.functional.pad(raft_pixels(frames), (2, 2, 2, 2), mode="replicate")
    with torch.no_grad():
        for row, start in enumerate([1, 0, 1]):
            expected = raft.raft(padded[start : start + 1], padded[start + 1 : start + 2], num_flow_updates=2)[-1]
            torch.testing.assert_close(flow[row], expected[0, :, 2:-2, 2:-2], atol=1e-4, rtol=1e-4)


def test_frame_pair_flow_batches_consecutive_pairs_and_reports_progress(raft):
    frames = random_frames(6, 128, 128)
    counting = CountingFlow(raft)
    done = []
    flow = frame_pair_flow(frames, counting, None, num_iterations=1, batch_size=2, progress=done.append)
    assert flow.shape == (5, 2, 128, 128)
    assert done == [2, 2, 1] and counting.pairs == 5  # each pair once, in runs of at most 2
    counting.pairs = 0
    frame_pair_flow(frames, counting, [4, 0, 4, 1], num_iterations=1)
    assert counting.pairs == 3  # repeats computed once
    with pytest.raises(ValueError, match=r"in \[0, 4\]"):
        frame_pair_flow(frames, raft, [5])
    with pytest.raises(ValueError, match="at least 2 frames"):
        frame_pair_flow(frames[:1], raft)


# --------------------------------------------------------------------------------------------------- cache


def test_flow_cache_round_trip_is_atomic(tmp_path):
    cache = FlowCache(tmp_path / "cache")
    key = FlowCache.key(video={"path": "a"}, num_iterations=12)
    assert key == FlowCache.key(num_iterations=12, video={"path": "a"})  # order of the parts does not matter
    assert key != FlowCache.key(video={"path": "a"}, num_iterations=6)
    assert cache.load(key) is None
    cache.store(key, np.ones((2, 2, 3, 3), np.float32))
    cache.store(key, np.zeros((1, 2, 3, 3), np.float32))  # replaces the whole file
    np.testing.assert_array_equal(cache.load(key), np.zeros((1, 2, 3, 3), np.float32))
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [f"{key}.npy"]  # no temporary left


@pytest.fixture
def small_video(tmp_path):
    frames = np.zeros((5, 128, 128, 3), np.uint8)
    for index in range(5):  # a bright square moving right
        frames[index, 40:72, 20 + 6 * index : 52 + 6 * index] = 255
    return write_video(frames, tmp_path / "moving.avi", codec="mjpeg")


def test_video_flow_is_cached_and_recomputed_when_a_parameter_changes(raft, small_video, tmp_path):
    counting = CountingFlow(raft)
    cache_dir = tmp_path / "flow-cache"
    settings = dict(num_iterations=2, cache_dir=cache_dir)
    first = video_flow(small_video, counting, **settings)
    assert first.shape == (4, 2, 128, 128) and counting.pairs == 4
    again = video_flow(small_video, counting, **settings)
    assert counting.pairs == 4  # read back, not recomputed
    torch.testing.assert_close(again, first, rtol=0, atol=0)
    assert len(list(cache_dir.glob("*.npy"))) == 1

    video_flow(small_video, counting, num_iterations=1, cache_dir=cache_dir)
    assert counting.pairs == 8  # iterations are part of the key

    def larger(frames):
        return torch.nn.functional.interpolate(frames, size=(136, 144), mode="bilinear")

    resized = video_flow(small_video, counting, resize=larger, resize_key="136x144", **settings)
    assert counting.pairs == 12 and resized.shape == (4, 2, 136, 144)

    other_weights = CountingFlow(torchvision_raft_small(seed=1))
    video_flow(small_video, other_weights, **settings)
    assert other_weights.pairs == 4  # other weights, other key

    stat = os.stat(small_video)
    os.utime(small_video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    video_flow(small_video, counting, **settings)
    assert counting.pairs == 16  # the file changed
    assert len(list(cache_dir.glob("*.npy"))) == 5

    video_flow(small_video, counting, num_iterations=2)
    assert counting.pairs == 20  # no cache folder: always computed
