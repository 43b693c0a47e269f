from ...registration import Architecture
from .configuration_video_resnet import DEPTHS, VideoResNetConfig
from .modeling_video_resnet import (
    VideoResNetForVideoClassification,
    VideoResNetModel,
    VideoResNetPreTrainedModel,
)
from .video_processing_video_resnet import VideoResNetVideoProcessor

ARCHITECTURE = Architecture(
    "VideoResNet",
    VideoResNetConfig,
    VideoResNetModel,
    VideoResNetForVideoClassification,
    VideoResNetVideoProcessor,
    # R(2+1)D-10 with a quarter of the channels (0.8 M parameters): its separate 3x1x1 temporal convolutions are
    # what tells the demo's motion directions apart on 16x64x64 clips.
    small_config={
        "convolution": "2plus1d",
        "stem_type": "2plus1d",
        "stem_channels": 16,
        "stem_mid_channels": 12,
        "depths": [1, 1, 1, 1],
        "hidden_sizes": [16, 32, 64, 128],
        "image_size": 64,
        "dropout_prob": 0.2,
    },
)

__all__ = [
    "DEPTHS",
    "VideoResNetConfig",
    "VideoResNetForVideoClassification",
    "VideoResNetModel",
    "VideoResNetPreTrainedModel",
    "VideoResNetVideoProcessor",
]
