"""hf_videomodels: classic video-understanding architectures as Hugging Face transformers models.

Importing the package registers every architecture's config, bare model, video-classification model and
video processor with transformers' Auto classes, so ``AutoModelForVideoClassification.from_pretrained`` and
``pipeline("video-classification", ...)`` work on folders and Hub repos written by this package. It also makes
that pipeline keep the saved video processor's settings (see :mod:`hf_videomodels.pipeline`).
"""

from .flow_processing import FlowVideoProcessor, register_flow_video_processor
from .pipeline import VideoClipClassificationPipeline
from .registration import ARCHITECTURE_FOLDERS, architectures, register_architectures, register_pipeline
from .video_io import VideoDecodingError, probe_video, read_video
from .video_processing_utils import VideoClipProcessor

__version__ = "0.1.0"

ARCHITECTURES = architectures()
# Every architecture's config, bare model, classification model and video processor, by class name
# (hf_videomodels.I3DConfig, ...), from the registration table, so adding an architecture needs no line here.
globals().update({cls.__name__: cls for arch in ARCHITECTURES for cls in arch.classes})

register_architectures()
register_flow_video_processor()
register_pipeline()

__all__ = [
    "ARCHITECTURES",
    "ARCHITECTURE_FOLDERS",
    *(cls.__name__ for arch in ARCHITECTURES for cls in arch.classes),
    "FlowVideoProcessor",
    "VideoClipClassificationPipeline",
    "VideoClipProcessor",
    "VideoDecodingError",
    "probe_video",
    "read_video",
]
