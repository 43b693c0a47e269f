"""Video processor for TimeSformer: the Kinetics 8x32 input recipe of facebookresearch/TimeSformer."""

from __future__ import annotations

from ...video_processing_utils import VideoClipProcessor


class TimeSformerVideoProcessor(VideoClipProcessor):
    """Frames as facebookresearch/TimeSformer's Kinetics models (``TimeSformer_divST_8x32_224``) expect them:

    - ``x / 255`` normalised with mean 0.45 and std 0.225 on every channel (``DATA.MEAN`` / ``DATA.STD``), RGB;
    - 8 frames spanning ``8 * 32`` frames of a 30 fps video (``SAMPLING_RATE 32``, ``TARGET_FPS 30``: a 25 fps
      video's clip spans 213 frames); short videos repeat their last frame (clamp), as the SlowFast decoder does;
    - the clip starts where the original's single test view starts (``delta * 0 / 1``: the first frame,
      ``clip_alignment="start"``); ``clip_alignment="centre"`` centres it instead;
    - short side resized to 224 (bilinear, no antialiasing, as ``F.interpolate``), then 224x224 crops. The
      published accuracy uses 1 clip x 3 crops (left/centre/right): ``num_crops=3`` gives those views, and the
      model averages their logits. The default, 1 crop, is the centre view of that protocol (the original's
      single-crop validation mode resizes to 256 first: ``size={"shortest_edge": 256}`` reproduces it).

    Other checkpoints set their own values in the saved processor: 96x4 (``num_frames=96,
    frame_sample_rate=4``), 448-pixel HR models, and SSv2 (``sampling="segments"``, ``channel_order="bgr"``,
    since its frames were read with OpenCV and never reordered).
    """

    num_frames = 8
    frame_sample_rate = 32
    target_fps = 30
    short_video = "clamp"
    clip_alignment = "start"
    num_clips = 1
    num_crops = 1
    size = {"shortest_edge": 224}
    crop_size = {"height": 224, "width": 224}
    image_mean = [0.45, 0.45, 0.45]
    image_std = [0.225, 0.225, 0.225]


__all__ = ["TimeSformerVideoProcessor"]
