"""hf_videomodels: classic video-understanding architectures as Hugging Face transformers models.

Importing the package registers every architecture's config, bare model, video-classification model and
video processor with transformers' Auto classes, so ``AutoModelForVideoClassification.from_pretrained`` and
``pipeline("video-classification", ...)`` work on folders and Hub repos written by this package. It also makes
that pipeline keep the saved video processor's settings (see :mod:`hf_videomodels.pipeline`).
"""

from .models.i3d import I3DConfig, I3DForVideoClassification, I3DModel, I3DVideoProcessor
from .models.timesformer import (
    TimeSformerConfig,
    TimeSformerForVideoClassification,
    TimeSformerModel,
    TimeSformerVideoProcessor,
)
from .pipeline import VideoClipClassificationPipeline
from .registration import ARCHITECTURES, register_architectures, register_pipeline
from .video_io import VideoDecodingError, probe_video, read_video
from .video_processing_utils import VideoClipProcessor

__version__ = "0.1.0"

register_architectures()
register_pipeline()

__all__ = [
    "ARCHITECTURES",
    "I3DConfig",
    "I3DForVideoClassification",
    "I3DModel",
    "I3DVideoProcessor",
    "TimeSformerConfig",
    "TimeSformerForVideoClassification",
    "TimeSformerModel",
    "TimeSformerVideoProcessor",
    "VideoClipClassificationPipeline",
    "VideoClipProcessor",
    "VideoDecodingError",
    "probe_video",
    "read_video",
]
