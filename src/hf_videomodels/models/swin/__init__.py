from ...registration import Architecture
from .configuration_swin import SwinConfig
from .modeling_swin import SwinForVideoClassification, SwinModel, SwinPreTrainedModel
from .video_processing_swin import SwinVideoProcessor

ARCHITECTURE = Architecture(
    "Swin",
    SwinConfig,
    SwinModel,
    SwinForVideoClassification,
    SwinVideoProcessor,
    # A narrow two-stage Swin per frame (0.2 M parameters) for 16 frames of 64 x 64: patch 4 gives 16 x 16
    # tokens, then 8 x 8, windows 4 x 4; frame logits averaged (it sees no motion, a baseline).
    small_config={
        "embed_dim": 32,
        "depths": [2, 2],
        "num_heads": [2, 4],
        "window_size": [4, 4],
        "num_frames": 16,
        "drop_path_rate": 0.0,
        "classifier_dropout": 0.2,
    },
)

__all__ = ["SwinConfig", "SwinForVideoClassification", "SwinModel", "SwinPreTrainedModel", "SwinVideoProcessor"]
