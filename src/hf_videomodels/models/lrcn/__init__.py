from ...registration import Architecture
from .configuration_lrcn import LRCNConfig
from .modeling_lrcn import LRCNForVideoClassification, LRCNModel, LRCNPreTrainedModel
from .video_processing_lrcn import LRCNVideoProcessor

ARCHITECTURE = Architecture(
    "LRCN",
    LRCNConfig,
    LRCNModel,
    LRCNForVideoClassification,
    LRCNVideoProcessor,
    # TSN's small per-frame ResNet (ResNet-18 topology at a quarter of its widths) and a 64-unit LSTM. The LSTM
    # reads the frames in order, so unlike the per-frame baseline it can tell the direction of motion.
    small_config={
        "cnn_config": {"depth": 18, "stem_channels": 16, "stage_channels": [16, 32, 64, 128]},
        "num_frames": 16,
        "image_size": 64,
        "lstm_hidden_size": 64,
        "dropout_prob": 0.2,
    },
)

__all__ = ["LRCNConfig", "LRCNForVideoClassification", "LRCNModel", "LRCNPreTrainedModel", "LRCNVideoProcessor"]
