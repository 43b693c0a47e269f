"""Video processor for I3D: DeepMind's Kinetics-I3D input recipe."""

from __future__ import annotations

from ...video_processing_utils import VideoClipProcessor


class I3DVideoProcessor(VideoClipProcessor):
    """Frames as DeepMind's Kinetics-I3D expects them (github.com/google-deepmind/kinetics-i3d, "Quo Vadis"):

    - RGB scaled to [-1, 1]: ``x / 255`` normalised with mean 0.5 and std 0.5 (pytorch-i3d's ``x / 255 * 2 - 1``);
    - short side resized to 256 (bilinear, no antialiasing), then a 224x224 centre crop;
    - one 64-frame clip at the video's own frame rate (``frame_sample_rate=1``), centred at evaluation and
      started at random at training; videos shorter than 64 frames are **looped** ("looping the video as many
      times as necessary", Carreira & Zisserman, sec. 3.5).

    For the optical-flow stream set ``num_channels=2`` (flow given as (x, y) arrays, uint8-coded as in the
    original's flow JPEGs or floats in [0, 1]) with two-value ``image_mean``/``image_std`` of 0.5.
    """

    num_frames = 64
    frame_sample_rate = 1
    short_video = "loop"
    clip_alignment = "centre"
    size = {"shortest_edge": 256}
    crop_size = {"height": 224, "width": 224}
    image_mean = [0.5, 0.5, 0.5]
    image_std = [0.5, 0.5, 0.5]
    num_channels = 3


__all__ = ["I3DVideoProcessor"]
