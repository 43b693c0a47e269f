"""Video processor for ViT per frame: the image preprocessing of ``google/vit-base-patch16-224`` on frames."""

from __future__ import annotations

from ...video_processing_utils import VideoClipProcessor


class ViTFramesVideoProcessor(VideoClipProcessor):
    """Frames as transformers' ``ViTImageProcessor`` prepares images for ``google/vit-base-patch16-224``:

    - every frame resized to 224x224 (bilinear, aspect ratio not kept), no crop;
    - ``x / 255`` normalised with mean 0.5 and std 0.5, RGB;
    - 8 frames, one from the middle of each of 8 equal segments of the video (TSN's sampling, the usual
      protocol of per-frame baselines).

    timm checkpoints carry their own mean/std (ImageNet's for most ``vit_*`` ports), written by the converter.
    """

    num_frames = 8
    sampling = "segments"
    size = {"height": 224, "width": 224}
    crop_size = {"height": 224, "width": 224}
    image_mean = [0.5, 0.5, 0.5]
    image_std = [0.5, 0.5, 0.5]


__all__ = ["ViTFramesVideoProcessor"]
