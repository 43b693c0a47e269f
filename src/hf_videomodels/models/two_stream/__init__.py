from ...registration import Architecture
from ..tsn import ARCHITECTURE as TSN
from .configuration_two_stream import TwoStreamConfig
from .modeling_two_stream import TwoStreamForVideoClassification, TwoStreamModel, TwoStreamPreTrainedModel
from .video_processing_two_stream import TwoStreamVideoProcessor

# The small model of the temporal benchmark: TSN's small config as the RGB stream, and as the flow stream on
# flow clips (2 channels: each frame's flow field to the next frame, the 15 of a 16-frame clip; the benchmark's
# "TSN flow stream" row). The benchmark gives its processor a classical flow estimator (a RAFT of random weights
# computes no motion).
ARCHITECTURE = Architecture(
    "TwoStream",
    TwoStreamConfig,
    TwoStreamModel,
    TwoStreamForVideoClassification,
    TwoStreamVideoProcessor,
    small_config={
        "rgb_config": {"model_type": TSN.config_class.model_type, **TSN.small_config},
        "flow_config": {
            "model_type": TSN.config_class.model_type,
            **TSN.small_config,
            "num_channels": 2,
            "num_frames": 15,
        },
        "flow_mode": "clip",
    },
)

__all__ = [
    "TwoStreamConfig",
    "TwoStreamForVideoClassification",
    "TwoStreamModel",
    "TwoStreamPreTrainedModel",
    "TwoStreamVideoProcessor",
]
