"""Video processor for Video Swin: the Kinetics recipe of SwinTransformer/Video-Swin-Transformer."""

from __future__ import annotations

from ...video_processing_utils import VideoClipProcessor


class VideoSwinVideoProcessor(VideoClipProcessor):
    """Frames as the released Kinetics-400/600 Video Swin models expect them (mmaction2 configs
    ``swin_*_patch244_window877_kinetics*``):

    - RGB on the 0-255 scale normalised with ImageNet mean (123.675, 116.28, 103.53) and std
      (58.395, 57.12, 57.375), i.e. ``x / 255`` with the usual ImageNet mean and std;
    - 32 frames, exactly 2 apart (``SampleFrames(clip_len=32, frame_interval=2)``), on the video's own frames,
      the clips placed as mmaction2 places them (``clip_alignment="mmaction"``: a random start in
      ``0 .. T - 64`` at training; test clip ``i`` of 4 at the middle of the ``i``-th quarter of the room for a
      clip); short videos loop (``out_of_bound_opt="loop"``);
    - short side resized to 224, then 224x224 crops. The published accuracy uses 4 clips x 3 crops
      (``ThreeCrop``), the test protocol this processor gives: ``num_clips=4, num_crops=3``, whose 12 views
      the model averages. ``num_clips=1, num_crops=1, size={"shortest_edge": 256}`` is the original's
      validation view (short side 256, centre crop 224).

    The SSv2 model (``swin_base_patch244_window1677_sthv2``) saves its own settings: 32 frames, one per
    equal segment (``frame_uniform``, ``sampling="segments"``), 1 clip x 3 crops; it was trained without
    horizontal flips, which matter for its left/right classes.
    """

    num_frames = 32
    frame_sample_rate = 2
    short_video = "loop"
    clip_alignment = "mmaction"
    num_clips = 4
    num_crops = 3
    size = {"shortest_edge": 224}
    crop_size = {"height": 224, "width": 224}


__all__ = ["VideoSwinVideoProcessor"]
