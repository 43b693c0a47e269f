"""Video processor for C3D: the preprocessing of DavideA/c3d-pytorch's predict script."""

from __future__ import annotations

from ...video_processing_utils import VideoClipProcessor


class C3DVideoProcessor(VideoClipProcessor):
    """Frames as the Sports-1M C3D port (github.com/DavideA/c3d-pytorch, ``predict.py``) feeds them:

    - 16 consecutive frames (the port classifies a folder of 16 frames; here the clip is centred in the video,
      and a shorter video repeats its last frame);
    - every frame resized to a **fixed** 112 x 200 (height x width, bilinear, no antialiasing: scikit-image's
      ``resize`` of 2017, order 1), whatever its aspect ratio, then the centre 112 x 112 crop (columns 44:156);
    - RGB channel order, **raw 0-255 values**: no scaling and no mean subtraction (written here as
      ``x / 255`` normalised with mean 0 and std 1/255, which gives back ``x`` exactly, also for float frames
      given in [0, 1]).
    """

    num_frames = 16
    frame_sample_rate = 1
    clip_alignment = "centre"
    size = {"height": 112, "width": 200}
    crop_size = {"height": 112, "width": 112}
    image_mean = [0.0, 0.0, 0.0]
    image_std = [1 / 255, 1 / 255, 1 / 255]
    num_channels = 3


__all__ = ["C3DVideoProcessor"]
