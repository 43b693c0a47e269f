"""Video processor for Swin (2D) per frame: the ImageNet evaluation recipe of the Swin image models."""

from __future__ import annotations

from transformers.image_utils import PILImageResampling

from ...video_processing_utils import VideoClipProcessor


class SwinVideoProcessor(VideoClipProcessor):
    """Frames as the ImageNet Swin models expect them: RGB ``x / 255`` normalised with the ImageNet mean and
    std, short side resized to 256 (bicubic, as timm's and transformers' Swin evaluation: ``crop_pct`` 0.875),
    a 224x224 centre crop. Frames: 8, one from each of 8 equal segments of the video (TSN's sampling, as
    the per-frame models of the temporal table use)."""

    num_frames = 8
    sampling = "segments"
    size = {"shortest_edge": 256}
    resample = PILImageResampling.BICUBIC
    crop_size = {"height": 224, "width": 224}


__all__ = ["SwinVideoProcessor"]
