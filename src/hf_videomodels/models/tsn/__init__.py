from ...registration import Architecture
from .configuration_tsn import TSNConfig
from .modeling_tsn import TSNForVideoClassification, TSNModel, TSNPreTrainedModel
from .video_processing_tsn import TSNVideoProcessor

ARCHITECTURE = Architecture(
    "TSN",
    TSNConfig,
    TSNModel,
    TSNForVideoClassification,
    TSNVideoProcessor,
    # ResNet-18 topology at a quarter of its widths (0.7 M parameters) on 64-pixel frames. Each frame is seen
    # alone and the frame logits are averaged, so the model cannot tell the direction of motion: the per-frame
    # baseline of the temporal benchmark, expected near chance there.
    small_config={
        "depth": 18,
        "stem_channels": 16,
        "stage_channels": [16, 32, 64, 128],
        "image_size": 64,
        "num_frames": 16,
        "dropout_prob": 0.2,
    },
)

__all__ = ["TSNConfig", "TSNForVideoClassification", "TSNModel", "TSNPreTrainedModel", "TSNVideoProcessor"]
