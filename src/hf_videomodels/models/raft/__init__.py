from ...registration import Architecture
from .configuration_raft import RaftConfig
from .modeling_raft import OpticalFlowOutput, RaftModel, RaftPreTrainedModel
from .video_processing_raft import RaftVideoProcessor

# RAFT estimates optical flow: it has no classification model (and no small_config: the temporal benchmark
# trains classifiers).
ARCHITECTURE = Architecture("RAFT", RaftConfig, RaftModel, None, RaftVideoProcessor)

__all__ = ["OpticalFlowOutput", "RaftConfig", "RaftModel", "RaftPreTrainedModel", "RaftVideoProcessor"]
