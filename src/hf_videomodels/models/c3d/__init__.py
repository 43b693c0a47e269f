from ...registration import Architecture
from .configuration_c3d import C3DConfig
from .modeling_c3d import C3DForVideoClassification, C3DModel, C3DPreTrainedModel
from .video_processing_c3d import C3DVideoProcessor

ARCHITECTURE = Architecture(
    "C3D",
    C3DConfig,
    C3DModel,
    C3DForVideoClassification,
    C3DVideoProcessor,
    # An eighth of C3D's channels; for 16 x 64 x 64 clips pool5 is 64 x 1 x 3 x 3, so fc6 takes 576 values.
    small_config={
        "conv_channels": [8, 16, 32, 32, 64, 64, 64, 64],
        "fc_size": 256,
        "dropout_prob": 0.2,
    },
    # The port's 112 x 200 resize, scaled to a 64 crop, would stretch the square 64-pixel clips to 64 x 114 and
    # cut their sides off; resize them to themselves instead.
    small_processor_config={"size": {"height": 64, "width": 64}},
)

__all__ = ["C3DConfig", "C3DForVideoClassification", "C3DModel", "C3DPreTrainedModel", "C3DVideoProcessor"]
