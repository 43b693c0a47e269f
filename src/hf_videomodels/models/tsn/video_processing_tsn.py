"""Video processor for TSN: segment sampling, then ImageNet-style frames for the per-frame ResNet."""

from __future__ import annotations

from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from ...video_processing_utils import VideoClipProcessor


class TSNVideoProcessor(VideoClipProcessor):
    """Frames as TSN samples them, each preprocessed as the ImageNet ResNet expects:

    - **segment sampling** (Wang et al., sec. 3.2): the video is split into ``num_frames`` (K, default 8) equal
      segments and one frame is taken from each, so the clip always spans the whole video: a random frame of each
      segment for training, its middle frame for evaluation, in the original TSN code's arithmetic
      (``sampling="tsn"``, see :mod:`hf_videomodels.sampling`; ``"segments"`` is SlowFast's form of it);
    - short side resized to 256 (bilinear), then a 224x224 centre crop;
    - ``x / 255`` normalised with ImageNet's mean and std, RGB.

    A converted ImageNet checkpoint saves its own resize, crop, interpolation, antialiasing and normalisation
    (torchvision's ResNet-50 V2 weights resize to 232, timm's use their ``crop_pct`` and bicubic resizing).
    """

    num_frames = 8
    sampling = "tsn"
    size = {"shortest_edge": 256}
    crop_size = {"height": 224, "width": 224}
    image_mean = list(IMAGENET_DEFAULT_MEAN)
    image_std = list(IMAGENET_DEFAULT_STD)


__all__ = ["TSNVideoProcessor"]
