from .configuration_timesformer import TimeSformerConfig
from .modeling_timesformer import TimeSformerForVideoClassification, TimeSformerModel, TimeSformerPreTrainedModel
from .video_processing_timesformer import TimeSformerVideoProcessor

__all__ = [
    "TimeSformerConfig",
    "TimeSformerForVideoClassification",
    "TimeSformerModel",
    "TimeSformerPreTrainedModel",
    "TimeSformerVideoProcessor",
]
