"""Video processor for LRCN on an ImageNet ResNet."""

from __future__ import annotations

from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from ...video_processing_utils import VideoClipProcessor


class LRCNVideoProcessor(VideoClipProcessor):
    """Frames as an LRCN whose CNN starts from an ImageNet ResNet expects them:

    - one clip of 16 consecutive frames (LRCN's 16-frame clips; ``frame_sample_rate=1``), centred in the video
      at evaluation and placed at random in training; short videos repeat their last frame;
    - short side resized to 256 (bilinear), then a 224x224 centre crop: the ImageNet evaluation transform the
      ResNet was trained for (LRCN's CaffeNet took 227x227 crops of 240x320 frames);
    - RGB ``x / 255`` normalised with the ImageNet mean and std.

    Other clip lengths work as they are (the LSTM takes any number of frames); ``num_clips`` > 1 averages the
    logits of several clips, as LRCN's evaluation averaged 16-frame clips over a video.
    """

    num_frames = 16
    frame_sample_rate = 1
    short_video = "clamp"
    clip_alignment = "centre"
    size = {"shortest_edge": 256}
    crop_size = {"height": 224, "width": 224}
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD


__all__ = ["LRCNVideoProcessor"]
