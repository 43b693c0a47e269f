"""Video processor for ViViT: Scenic's Kinetics evaluation input (``scenic/projects/vivit`` configs, DMVR)."""

from __future__ import annotations

from ...video_processing_utils import VideoClipProcessor


class ViViTVideoProcessor(VideoClipProcessor):
    """Frames as Scenic's ViViT Kinetics configs feed them (``dataset_configs`` of ``vivit_base_k400.py``):

    - 32 frames, one every 2 (``num_frames=32``, ``stride=2``) in the video's own frame rate;
    - short side resized to 256 (``min_resize``), then 224x224 crops; the published accuracy uses 4 clips x
      3 crops (``do_multicrop_test``, ``log_test_epochs``): ``num_clips=4, num_crops=3`` gives those 12 views
      (the model averages their logits). The default, 1 clip x 1 crop, is the central view;
    - values ``2 * x / 255 - 1`` in [-1, 1] (``zero_centering``), RGB: mean 0.5 and std 0.5.

    Frames are chosen exactly as DMVR does for Scenic (``clip_alignment="dmvr"``): exactly 2 frames apart, from
    a random start at training, the centred window for one evaluation view (start ``(T - 64) // 2``), and
    ``tf.linspace(0, T - 64, 4)`` starts for 4 views; a video shorter than the clip is repeated from its start
    (``short_video="loop"``), as DMVR tiles it.
    """

    num_frames = 32
    frame_sample_rate = 2
    short_video = "loop"
    clip_alignment = "dmvr"
    size = {"shortest_edge": 256}
    crop_size = {"height": 224, "width": 224}
    image_mean = [0.5, 0.5, 0.5]
    image_std = [0.5, 0.5, 0.5]


__all__ = ["ViViTVideoProcessor"]
