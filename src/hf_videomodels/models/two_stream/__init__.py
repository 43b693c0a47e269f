from ...registration import Architecture
from .configuration_two_stream import TwoStreamConfig
from .modeling_two_stream import TwoStreamForVideoClassification, TwoStreamModel, TwoStreamPreTrainedModel
from .video_processing_two_stream import TwoStreamVideoProcessor

# No small_config: the temporal benchmark trains from video files, and its flow stream would need a flow model
# with trained weights (a RAFT of random weights computes no motion); it lists two-stream as skipped.
ARCHITECTURE = Architecture(
    "TwoStream",
    TwoStreamConfig,
    TwoStreamModel,
    TwoStreamForVideoClassification,
    TwoStreamVideoProcessor,
)

__all__ = [
    "TwoStreamConfig",
    "TwoStreamForVideoClassification",
    "TwoStreamModel",
    "TwoStreamPreTrainedModel",
    "TwoStreamVideoProcessor",
]
