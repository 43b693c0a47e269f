"""Which frames of a video a model sees: frame index sampling as pure functions of the video's length.

Three recipes cover the classic video models; all return int64 numpy arrays of frame indices (in temporal
order, possibly repeated) and never look at pixels, so a caller can choose frames from a video's metadata
and decode only those.

**Clip sampling** (:func:`clip_indices`) reproduces the SlowFast / TimeSformer decoder
(``decoder.get_start_end_idx`` followed by ``decoder.temporal_sampling``):

- a clip spans ``clip_size = num_frames * sample_rate`` source frames; with ``fps`` and ``target_fps`` given,
  ``clip_size`` is scaled by ``fps / target_fps``, as the originals do to sample every video as if it ran at
  ``target_fps`` (30 for the Kinetics recipes);
- ``delta = max(total - clip_size, 0)`` is the room for the clip's start;
- training: the start is drawn uniformly from ``[0, delta]`` (a float, as ``random.uniform`` gives);
- evaluation, ``alignment="start"`` (SlowFast's default, used by TimeSformer's test protocol): view ``i`` of
  ``n`` starts at ``delta * i / n``, so a single view starts at the first frame;
- evaluation, ``alignment="centre"`` (SlowFast's ``USE_OFFSET_SAMPLING``): a single view starts at
  ``floor(delta / 2)`` (the centred clip); ``n > 1`` views start at ``i * floor(delta / (n - 1))``, spread
  from the first frame to the last;
- ``alignment="mmaction"`` (mmaction2's ``SampleFrames``, used by Video Swin) and ``alignment="dmvr"``
  (DeepMind's DMVR ``sample_sequence`` / ``sample_linspace_sequence``, used by Scenic's ViViT) place clips by
  their own code's rules, below, and take frames exactly ``sample_rate`` apart: ``start + sample_rate * k``,
  no linspace. They sample raw frames (``fps`` / ``target_fps`` are refused);
- otherwise the ``num_frames`` positions are ``linspace(start, start + clip_size - 1, num_frames)`` computed in
  float32 and truncated to integers. So the real spacing is ``(clip_size - 1) / (num_frames - 1)``, slightly
  more than ``sample_rate`` (8 frames "at rate 32" are 36.4 frames apart and span 256 frames);
- videos shorter than a clip (``delta == 0``, start 0): ``short_video="clamp"`` clamps positions past the end
  to the last frame, which is what SlowFast / TimeSformer do (``torch.clamp`` in ``temporal_sampling``);
  ``short_video="loop"`` wraps them around to the start (index modulo length), which is how DeepMind's I3D
  ("Quo Vadis", sec. 3.5) fills its 64-frame clips from short videos: "looping the video as many times as
  necessary".

**Exact-stride clips** (``alignment="mmaction"`` or ``"dmvr"``), with ``T`` the video's frames, ``n`` the clip's
frames and ``s`` the stride:

- mmaction2 (``SampleFrames(clip_len=n, frame_interval=s)``): the room for a start is ``room = T - n * s + 1``;
  training draws the start uniformly from ``0 .. room - 1`` (``np.random.randint(room)``); evaluation cuts the
  room into ``num_clips`` intervals of ``room / num_clips`` and view ``i`` starts at the middle of interval
  ``i``, truncated (``int(i * interval + interval / 2)``); a video with ``room <= 0`` starts at 0;
- DMVR: training draws the start from ``0 .. max(T - (n - 1) * s, 1) - 1`` (the clip's last frame, not its
  last stride, must fit); a single evaluation view is the centred window, start ``max(T - n * s, 0) // 2``;
  ``num_clips > 1`` views start at ``tf.linspace(0, max(T - n * s, 0), num_clips)`` computed in float32 and
  truncated, so the first view starts at frame 0 and the last at ``T - n * s``;
- DMVR fills a clip longer than the video by repeating the whole video (``tf.tile`` then ``gather``), which is
  ``short_video="loop"``; mmaction2's Video Swin configs use ``out_of_bound_opt="loop"`` as well.

**Segment sampling** (:func:`segment_indices`) is TSN's: the video is cut into ``num_frames`` equal segments
and one frame is taken from each, in the exact form SlowFast / TimeSformer use for Something-Something v2
(``ssv2.py``): segment ``i`` spans ``[round(s * i), round(s * (i + 1))]`` with ``s = (total - 1) / num_frames``
(numpy's round-half-to-even); training picks a uniformly random frame in each (inclusive) span, evaluation
its middle ``(start + end) // 2``. A video with fewer frames than segments repeats frames: no special case
is needed, and the clip always covers the whole video.

**TSN's own segment sampling** (:func:`tsn_segment_indices`, ``sampling="tsn"``) is the original TSN code's
(yjxiong/tsn-pytorch ``TSNDataSet``, one frame per segment), which differs in detail: evaluation takes frame
``int(tick / 2 + tick * i)`` with ``tick = total / num_frames``; training cuts the video into ``num_frames``
segments of ``total // num_frames`` frames from the start (the last ``total % num_frames`` frames are never drawn)
and picks a random frame in each. For a video shorter than ``num_frames`` the original trains on frame 0
repeated; here training takes the evaluation frames instead (every frame, spread evenly), as mmaction2 does.

Randomness comes from an optional ``torch.Generator`` (``None``: torch's global generator, which a
``DataLoader`` seeds per worker), so training samples are reproducible with a seeded generator and
evaluation samples are deterministic.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

ClipAlignment = Literal["start", "centre", "mmaction", "dmvr"]
ShortVideo = Literal["clamp", "loop"]
Sampling = Literal["clip", "segments", "tsn"]

CLIP_ALIGNMENTS = ("start", "centre", "mmaction", "dmvr")
# Alignments whose clips are exactly `sample_rate` frames apart, in raw frames, placed by their own code's rules.
EXACT_STRIDE_ALIGNMENTS = ("mmaction", "dmvr")
SHORT_VIDEO_MODES = ("clamp", "loop")
SAMPLING_MODES = ("clip", "segments", "tsn")


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _uniform(generator: torch.Generator | None) -> float:
    return float(torch.rand((), generator=generator, dtype=torch.float64))


def clip_indices(
    total_num_frames: int,
    num_frames: int,
    sample_rate: int = 1,
    *,
    training: bool = False,
    clip_index: int = 0,
    num_clips: int = 1,
    alignment: ClipAlignment = "centre",
    short_video: ShortVideo = "clamp",
    fps: float | None = None,
    target_fps: float | None = None,
    generator: torch.Generator | None = None,
) -> np.ndarray:
    """Indices of one clip of ``num_frames`` frames taken every ``sample_rate`` frames (SlowFast recipe).

    At training the clip starts at a random position; at evaluation it is view ``clip_index`` of ``num_clips``
    placed by ``alignment``. See the module docstring for the exact formulas and short-video handling.
    """
    _check_positive_int("total_num_frames", total_num_frames)
    _check_positive_int("num_frames", num_frames)
    _check_positive_int("num_clips", num_clips)
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate!r}")
    _check_choice("alignment", alignment, CLIP_ALIGNMENTS)
    _check_choice("short_video", short_video, SHORT_VIDEO_MODES)
    if not 0 <= clip_index < num_clips:
        raise ValueError(f"clip_index must be in [0, {num_clips}), got {clip_index}")

    if alignment in EXACT_STRIDE_ALIGNMENTS:
        if target_fps is not None:
            raise ValueError(f"alignment={alignment!r} samples raw frames, as its original does; drop target_fps")
        _check_positive_int("sample_rate", sample_rate)
        start_of = _mmaction_start if alignment == "mmaction" else _dmvr_start
        start = start_of(total_num_frames, num_frames, sample_rate, training, clip_index, num_clips, generator)
        positions = start + np.arange(num_frames, dtype=np.int64) * sample_rate
        if short_video == "clamp":
            return np.minimum(positions, total_num_frames - 1)
        return positions % total_num_frames

    clip_size = num_frames * sample_rate
    if fps is not None and target_fps is not None:
        # Sample as if the video ran at target_fps: a 25 fps video covers fewer source frames per clip.
        clip_size = clip_size * fps / target_fps
    delta = max(total_num_frames - clip_size, 0)
    if training:
        start = delta * _uniform(generator)
    elif alignment == "start":
        start = delta * clip_index / num_clips
    elif num_clips == 1:
        start = math.floor(delta / 2)
    else:
        start = clip_index * math.floor(delta / (num_clips - 1))

    # float32 linspace + truncation, exactly as the originals compute it (float64 can truncate differently).
    positions = torch.linspace(start, start + clip_size - 1, num_frames, dtype=torch.float32)
    if short_video == "clamp":
        indices = positions.clamp(0, total_num_frames - 1).long()
    else:
        indices = positions.long() % total_num_frames
    return indices.numpy()


def _random_below(high: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(high, (), generator=generator))


def _mmaction_start(total, num_frames, sample_rate, training, clip_index, num_clips, generator) -> int:
    """mmaction2's ``SampleFrames`` clip start (``_get_train_clips`` with one clip / ``_get_test_clips``)."""
    room = total - num_frames * sample_rate + 1
    if room <= 0:
        return 0
    if training:
        return _random_below(room, generator)
    interval = room / num_clips  # float64, as numpy computes it in the original
    return int(clip_index * interval + interval / 2)


def _dmvr_start(total, num_frames, sample_rate, training, clip_index, num_clips, generator) -> int:
    """DMVR's clip start (``sample_sequence`` at training / for one view, ``sample_linspace_sequence`` for more)."""
    if training:
        return _random_below(max(total - (num_frames - 1) * sample_rate, 1), generator)
    room = max(total - num_frames * sample_rate, 0)
    if num_clips == 1:
        return room // 2
    if clip_index == num_clips - 1:  # tf.linspace ends exactly at its stop
        return room
    # tf.linspace in float32 (start + step * i), then a cast to int32 that truncates.
    step = np.float32(room) / np.float32(num_clips - 1)
    return int(step * np.float32(clip_index))


def segment_indices(
    total_num_frames: int,
    num_frames: int,
    *,
    training: bool = False,
    generator: torch.Generator | None = None,
) -> np.ndarray:
    """One frame from each of ``num_frames`` equal segments covering the whole video (TSN, as in SlowFast's SSv2).

    Training: a random frame in each segment; evaluation: the middle frame of each segment.
    """
    _check_positive_int("total_num_frames", total_num_frames)
    _check_positive_int("num_frames", num_frames)
    segment_size = (total_num_frames - 1) / num_frames
    bounds = np.round(segment_size * np.arange(num_frames + 1)).astype(np.int64)
    starts, ends = bounds[:-1], bounds[1:]
    if not training:
        return (starts + ends) // 2
    # randint(start, end) inclusive of both ends, like Python's random.randint in the original.
    draws = torch.rand(num_frames, generator=generator, dtype=torch.float64).numpy()
    return starts + np.floor(draws * (ends - starts + 1)).astype(np.int64)


def tsn_segment_indices(
    total_num_frames: int,
    num_frames: int,
    *,
    training: bool = False,
    generator: torch.Generator | None = None,
) -> np.ndarray:
    """One frame from each of ``num_frames`` segments, exactly as the original TSN code picks them (see the module
    docstring): the segment's middle ``int(tick / 2 + tick * i)`` for evaluation, a random frame of the segment
    ``[i * (total // num_frames), (i + 1) * (total // num_frames))`` for training."""
    _check_positive_int("total_num_frames", total_num_frames)
    _check_positive_int("num_frames", num_frames)
    segment_length = total_num_frames // num_frames
    if not training or segment_length == 0:
        tick = total_num_frames / num_frames
        return np.array([int(tick / 2.0 + tick * i) for i in range(num_frames)], dtype=np.int64)
    draws = torch.randint(segment_length, (num_frames,), generator=generator).numpy()
    return np.arange(num_frames, dtype=np.int64) * segment_length + draws


def sample_views(
    total_num_frames: int,
    num_frames: int,
    *,
    sampling: Sampling = "clip",
    sample_rate: int = 1,
    num_clips: int = 1,
    training: bool = False,
    alignment: ClipAlignment = "centre",
    short_video: ShortVideo = "clamp",
    fps: float | None = None,
    target_fps: float | None = None,
    generator: torch.Generator | None = None,
) -> list[np.ndarray]:
    """The temporal views of one video: ``num_clips`` index arrays at evaluation, one random clip at training.

    Segment sampling already covers the whole video, so it has a single temporal view (SlowFast's SSv2 test
    protocol varies only the spatial crop); asking it for several raises an error.
    """
    _check_choice("sampling", sampling, SAMPLING_MODES)
    _check_positive_int("num_clips", num_clips)
    if sampling in ("segments", "tsn"):
        if num_clips != 1 and not training:
            raise ValueError(
                "segment sampling has a single temporal view (it already covers the whole video); "
                f"got num_clips={num_clips}. Use num_crops for more spatial views."
            )
        segments = segment_indices if sampling == "segments" else tsn_segment_indices
        return [segments(total_num_frames, num_frames, training=training, generator=generator)]
    clip_options = dict(training=training, alignment=alignment, short_video=short_video, fps=fps, target_fps=target_fps)
    if training:
        return [clip_indices(total_num_frames, num_frames, sample_rate, generator=generator, **clip_options)]
    return [
        clip_indices(total_num_frames, num_frames, sample_rate, clip_index=i, num_clips=num_clips, **clip_options)
        for i in range(num_clips)
    ]


def repeated_frame_count(indices: np.ndarray) -> int:
    """How many of a clip's frames show a frame that also appears elsewhere in it: ``[0, 30, 60, 78, 78, 78,
    78, 78]`` has 5 (the five 78s), ``[0, 1, 2]`` has 0."""
    _, counts = np.unique(np.asarray(indices), return_counts=True)
    return int(counts[counts > 1].sum())
