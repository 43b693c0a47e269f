from ...registration import Architecture
from .configuration_vivit import MODEL_VARIANTS, ViViTConfig
from .modeling_vivit import ViViTForVideoClassification, ViViTModel, ViViTPreTrainedModel
from .video_processing_vivit import ViViTVideoProcessor

ARCHITECTURE = Architecture(
    "ViViT",
    ViViTConfig,
    ViViTModel,
    ViViTForVideoClassification,
    ViViTVideoProcessor,
    # Model 1 on 16 frames of 64x64 in 2x8x8 tubelets (8 x 8 x 8 tokens), width 96, 4 blocks: ~0.4 M parameters.
    # The other models: set model_variant (and pooling="gap" for 3 and 4). Weights drawn with std 0.1 (about
    # 1/sqrt(width)) instead of ViT-B's 0.02: at width 96, 0.02 shrinks every Linear's output ~5x, the cls token
    # starts nearly the same for every clip and ~100 steps on the motion clips end near chance (measured: 0.42
    # held-out; 0.98 with 0.1).
    small_config={
        "initializer_range": 0.1,
        "image_size": 64,
        "num_frames": 16,
        "tubelet_size": [2, 8, 8],
        "hidden_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 192,
        "temporal_num_hidden_layers": 2,
        "temporal_num_attention_heads": 4,
        "temporal_intermediate_size": 192,
    },
)

__all__ = [
    "MODEL_VARIANTS",
    "ViViTConfig",
    "ViViTForVideoClassification",
    "ViViTModel",
    "ViViTPreTrainedModel",
    "ViViTVideoProcessor",
]
