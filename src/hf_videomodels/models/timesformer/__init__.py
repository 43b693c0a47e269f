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
)

__all__ = [
    "TimeSformerConfig",
    "TimeSformerForVideoClassification",
    "TimeSformerModel",
    "TimeSformerPreTrainedModel",
    "TimeSformerVideoProcessor",
]
