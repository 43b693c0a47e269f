from .configuration_i3d import I3DConfig
from .modeling_i3d import I3DForVideoClassification, I3DModel, I3DPreTrainedModel
from .video_processing_i3d import I3DVideoProcessor

__all__ = ["I3DConfig", "I3DForVideoClassification", "I3DModel", "I3DPreTrainedModel", "I3DVideoProcessor"]
