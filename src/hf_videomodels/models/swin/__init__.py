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
    # A narrow two-stage Swin per frame (0.14 M parameters) for 16 frames of 64 x 64: patch 8 gives 8 x 8
    # tokens, then 4 x 4, windows 4 x 4; frame logits averaged (it sees no motion, a baseline).
    # Weights drawn with std 0.1 as Video Swin's small config (0.02 is tuned for much wider models).
    small_config={
        "initializer_range": 0.1,
        "patch_size": [8, 8],
        "embed_dim": 32,
        "depths": [2, 2],
        "num_heads": [2, 4],
        "window_size": [4, 4],
        "drop_path_rate": 0.0,
        "classifier_dropout": 0.2,
    },
)

__all__ = ["SwinConfig", "SwinForVideoClassification", "SwinModel", "SwinPreTrainedModel", "SwinVideoProcessor"]
