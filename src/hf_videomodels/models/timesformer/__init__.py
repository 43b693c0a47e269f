from ...registration import Architecture
from .configuration_timesformer import TimeSformerConfig
from .modeling_timesformer import TimeSformerForVideoClassification, TimeSformerModel, TimeSformerPreTrainedModel
from .video_processing_timesformer import TimeSformerVideoProcessor

ARCHITECTURE = Architecture(
    "TimeSformer",
    TimeSformerConfig,
    TimeSformerModel,
    TimeSformerForVideoClassification,
    TimeSformerVideoProcessor,
    # Divided space-time attention at a width of 64 (0.2 M parameters): 8x8-pixel patches give an 8x8 grid per
    # frame, fine enough that the demo's square (12-20 pixels, 3-5 pixels a frame) moves across patches. Weights
    # drawn with std 0.1 (about 1/sqrt(width)) as the other small transformers, not ViT-B's 0.02.
    small_config={
        "initializer_range": 0.1,
        "patch_size": 8,
        "hidden_size": 64,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "attention_type": "divided_space_time",
    },
)

__all__ = [
    "TimeSformerConfig",
    "TimeSformerForVideoClassification",
    "TimeSformerModel",
    "TimeSformerPreTrainedModel",
    "TimeSformerVideoProcessor",
]
