"""Video processor for SlowFast: the Kinetics input recipe of PySlowFast's model zoo."""

from __future__ import annotations

from ...video_processing_utils import VideoClipProcessor


class SlowFastVideoProcessor(VideoClipProcessor):
    """Frames as PySlowFast's Kinetics SlowFast models (``SLOWFAST_8x8_R50``, ``SLOWFAST_4x16_R50``, ...) expect them:

    - one clip at the **Fast** pathway's rate: 32 frames every 2 frames of a video resampled to 30 fps
      (``DATA.NUM_FRAMES 32``, ``SAMPLING_RATE 2``, ``TARGET_FPS 30``; 64 frames for the 16x8 models); the model
      takes the Slow pathway's frames from it. Short videos repeat their last frame (clamp), as PySlowFast's
      decoder does; evaluation clip ``i`` of ``n`` starts at ``delta * i / n`` (``clip_alignment="start"``);
    - ``x / 255`` normalised with mean 0.45 and std 0.225 on every channel, RGB;
    - short side resized to 256 (bilinear, no antialiasing), then a 224x224 crop.

    The model zoo's accuracies are 10 clips x 3 crops (left / centre / right) per video: ``num_clips=10,
    num_crops=3`` gives those 30 views (the converters save it), and the model averages their logits. The class
    default is the single centre view, a thirtieth of the cost. (PySlowFast's test config crops
    256x256 (``TEST_CROP_SIZE``); ``crop_size={"height": 256, "width": 256}`` reproduces that crop, with the
    logits of the head's 2x2 pool positions averaged as pytorchvideo does, where PySlowFast averages their
    softmax.)
    """

    num_frames = 32
    frame_sample_rate = 2
    target_fps = 30
    short_video = "clamp"
    clip_alignment = "start"
    num_clips = 1
    num_crops = 1
    size = {"shortest_edge": 256}
    crop_size = {"height": 224, "width": 224}
    image_mean = [0.45, 0.45, 0.45]
    image_std = [0.225, 0.225, 0.225]


__all__ = ["SlowFastVideoProcessor"]
