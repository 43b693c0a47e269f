from ...registration import Architecture
from .configuration_vit_frames import ViTFramesConfig
from .modeling_vit_frames import ViTFramesForVideoClassification, ViTFramesModel, ViTFramesPreTrainedModel
from .video_processing_vit_frames import ViTFramesVideoProcessor

ARCHITECTURE = Architecture(
    "ViT per frame",
    ViTFramesConfig,
    ViTFramesModel,
    ViTFramesForVideoClassification,
    ViTFramesVideoProcessor,
    # ViT-Tiny-like width on 64-pixel frames cut into 8-pixel patches (8 x 8 grid), 4 blocks: ~0.6 M parameters.
    # Weights drawn with std 0.1 as ViViT's small config (0.02 is tuned for width 768), so the per-frame baseline
    # is trained as well as the video transformers.
    small_config={
        "initializer_range": 0.1,
        "image_size": 64,
        "patch_size": 8,
        "num_frames": 16,
        "hidden_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 192,
        "layer_norm_eps": 1e-6,
    },
)

__all__ = [
    "ViTFramesConfig",
    "ViTFramesForVideoClassification",
    "ViTFramesModel",
    "ViTFramesPreTrainedModel",
    "ViTFramesVideoProcessor",
]
