from ...registration import Architecture
from .configuration_video_swin import SWIN_SIZES, VideoSwinConfig
from .modeling_video_swin import VideoSwinForVideoClassification, VideoSwinModel, VideoSwinPreTrainedModel
from .video_processing_video_swin import VideoSwinVideoProcessor
from .inflation import video_swin_from_image_swin

ARCHITECTURE = Architecture(
    "VideoSwin",
    VideoSwinConfig,
    VideoSwinModel,
    VideoSwinForVideoClassification,
    VideoSwinVideoProcessor,
    # A narrow two-stage Swin (0.14 M parameters) for 16 x 64 x 64 clips: patches (2, 8, 8) give 8 x 8 x 8
    # tokens, then 8 x 4 x 4, windows (4, 4, 4); no stochastic depth for a run of ~100 steps.
    # Weights drawn with std 0.1 instead of Swin-T's 0.02, which at width 32 leaves ~100 steps on the motion clips
    # near chance (measured: 0.30 held-out; 0.97 with 0.1).
    small_config={
        "initializer_range": 0.1,
        "patch_size": [2, 8, 8],
        "embed_dim": 32,
        "depths": [2, 2],
        "num_heads": [2, 4],
        "window_size": [4, 4, 4],
        "drop_path_rate": 0.0,
        "classifier_dropout": 0.2,
    },
    small_processor_config={"num_clips": 1, "num_crops": 1},
)

__all__ = [
    "SWIN_SIZES",
    "VideoSwinConfig",
    "VideoSwinForVideoClassification",
    "VideoSwinModel",
    "VideoSwinPreTrainedModel",
    "VideoSwinVideoProcessor",
    "video_swin_from_image_swin",
]
