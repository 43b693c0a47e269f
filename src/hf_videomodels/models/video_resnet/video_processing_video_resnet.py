"""Video processor for the video ResNets: the transforms torchvision publishes with its Kinetics-400 weights."""

from __future__ import annotations

from ...video_processing_utils import VideoClipProcessor

# torchvision's VideoClassification preset (the Kinetics-400 statistics of the R(2+1)D paper's code, VMZ).
KINETICS_MEAN = [0.43216, 0.394666, 0.37645]
KINETICS_STD = [0.22803, 0.22145, 0.216989]


class VideoResNetVideoProcessor(VideoClipProcessor):
    """Frames as torchvision's ``r3d_18`` / ``mc3_18`` / ``r2plus1d_18`` Kinetics-400 weights expect them
    (``torchvision.transforms._presets.VideoClassification(crop_size=(112, 112), resize_size=(128, 171))``):

    - every frame resized to 128x171 (a fixed size: the aspect ratio changes), bilinear, no antialiasing
      (torchvision hard-codes ``antialias=False`` for these weights);
    - a 112x112 centre crop;
    - ``x / 255`` normalised with torchvision's Kinetics mean (0.43216, 0.394666, 0.37645) and std
      (0.22803, 0.22145, 0.216989);
    - 16 consecutive frames at 15 fps (``target_fps=15``, the frame rate of torchvision's reference training and
      evaluation), one centred clip. torchvision's reported accuracy averages 5 clips per video: set
      ``num_clips=5``.

    torchvision resizes uint8 frames and rounds back to uint8; this processor resizes in float32, so values differ
    by at most half a grey level before normalisation.
    """

    num_frames = 16
    frame_sample_rate = 1
    target_fps = 15
    clip_alignment = "centre"
    size = {"height": 128, "width": 171}
    crop_size = {"height": 112, "width": 112}
    image_mean = KINETICS_MEAN
    image_std = KINETICS_STD
    num_channels = 3


__all__ = ["KINETICS_MEAN", "KINETICS_STD", "VideoResNetVideoProcessor"]
