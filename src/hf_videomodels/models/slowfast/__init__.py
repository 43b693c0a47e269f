from ...registration import Architecture
from .configuration_slowfast import RESNET_DEPTHS, SlowFastConfig
from .modeling_slowfast import (
    SlowFastForVideoClassification,
    SlowFastModel,
    SlowFastPreTrainedModel,
    slow_frame_indices,
)
from .video_processing_slowfast import SlowFastVideoProcessor

ARCHITECTURE = Architecture(
    "SlowFast",
    SlowFastConfig,
    SlowFastModel,
    SlowFastForVideoClassification,
    SlowFastVideoProcessor,
    # R50 topology at a quarter of the width, with a Fast pathway a quarter (not an eighth) of the Slow one: a Fast
    # stem of 4 channels carries the motion (2.3 M parameters). 16 Fast frames and 4 Slow ones (alpha 4) of 64x64
    # pixels: res5 is 2x2, which the head pools whole. Measured on in-memory motion clips (AdamW, lr 1e-3, batches
    # of 16): loss 0.05 after 80 steps; with an eighth-width Fast pathway (1 channel) still 1.0 after 80 steps.
    small_config={
        "num_frames": 16,
        "image_size": 64,
        "width_per_group": 16,
        "beta_inv": 4,
        "dropout_prob": 0.2,
    },
    # Sample the demo's clips frame by frame: PySlowFast's resampling to 30 fps would repeat frames of the
    # low-frame-rate synthetic videos.
    small_processor_config={"target_fps": None},
)

__all__ = [
    "RESNET_DEPTHS",
    "SlowFastConfig",
    "SlowFastForVideoClassification",
    "SlowFastModel",
    "SlowFastPreTrainedModel",
    "SlowFastVideoProcessor",
    "slow_frame_indices",
]
