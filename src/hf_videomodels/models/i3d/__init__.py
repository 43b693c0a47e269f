from ...registration import Architecture
from .configuration_i3d import INCEPTION_V1_CHANNELS, I3DConfig
from .modeling_i3d import I3DForVideoClassification, I3DModel, I3DPreTrainedModel
from .video_processing_i3d import I3DVideoProcessor

ARCHITECTURE = Architecture(
    "I3D",
    I3DConfig,
    I3DModel,
    I3DForVideoClassification,
    I3DVideoProcessor,
    # A quarter of Inception-V1's channels (0.8 M parameters). BatchNorm momentum is PyTorch's 0.1 instead of the
    # published TF 0.01: with only ~100 steps the slower running averages would not settle before evaluation.
    small_config={
        "stem_channels": [16, 16, 48],
        "inception_channels": [[max(4, c // 4) for c in block] for block in INCEPTION_V1_CHANNELS],
        "pooler_kernel_size": [1, 2, 2],
        "dropout_prob": 0.2,
        "batch_norm_momentum": 0.1,
    },
)

__all__ = ["I3DConfig", "I3DForVideoClassification", "I3DModel", "I3DPreTrainedModel", "I3DVideoProcessor"]
