"""One table of the package's architectures, and their registration with transformers' Auto classes.

Adding an architecture: its folder ``models/<folder>/`` defines ``ARCHITECTURE`` (an :class:`Architecture`)
in its ``__init__``, and one line in ``ARCHITECTURE_FOLDERS`` below names it. The CLI help, the package's
exports, training from scratch, the model-card generator and the benchmarks read this table.

This module imports only the standard library at its top, so the command line can list the architectures
before torch and transformers load.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import UserInputError

# Display name -> folder under models/. One line per architecture (a family such as VideoResNet is one line).
ARCHITECTURE_FOLDERS = {
    "TSN": "tsn",
    "C3D": "c3d",
    "VideoResNet": "video_resnet",
    "I3D": "i3d",
    "LRCN": "lrcn",
    "SlowFast": "slowfast",
    "ViT per frame": "vit_frames",
    "ViViT": "vivit",
    "TimeSformer": "timesformer",
    "Swin": "swin",
    "VideoSwin": "video_swin",
    "RAFT": "raft",
    "TwoStream": "two_stream",
}


@dataclass(frozen=True)
class Architecture:
    """What the package knows about one architecture (one ``model_type``).

    ``classification_class`` is None for a model that does not classify (RAFT estimates optical flow): it then
    registers with ``AutoModel`` only. ``small_config``: config overrides for a small model that trains in minutes
    on two CPU cores on the demo's 16-frame 64-pixel motion clips (used by the temporal benchmark);
    ``small_processor_config`` the matching video-processor overrides, if the processor needs more than
    ``for_model_config`` derives.
    """

    name: str
    config_class: type
    model_class: type
    classification_class: type | None
    video_processor_class: type
    small_config: Mapping = field(default_factory=dict)
    small_processor_config: Mapping = field(default_factory=dict)

    @property
    def classes(self) -> tuple[type, ...]:
        found = (self.config_class, self.model_class, self.classification_class, self.video_processor_class)
        return tuple(cls for cls in found if cls is not None)


@functools.cache
def architectures() -> tuple[Architecture, ...]:
    """Every registered architecture, in the table's order (imports their folders, so torch and transformers)."""
    found = []
    for name, folder in ARCHITECTURE_FOLDERS.items():
        arch = importlib.import_module(f"{__package__}.models.{folder}").ARCHITECTURE
        if arch.name != name:
            raise RuntimeError(f"models/{folder} defines architecture {arch.name!r}, registered as {name!r}")
        found.append(arch)
    return tuple(found)


def __getattr__(name: str):
    # ARCHITECTURES and BY_MODEL_TYPE are built on first use, keeping this module's import light.
    if name == "ARCHITECTURES":
        return architectures()
    if name == "BY_MODEL_TYPE":
        return {arch.config_class.model_type: arch for arch in architectures()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_architectures() -> None:
    from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification, AutoVideoProcessor
    from transformers.models.auto import modeling_auto

    for arch in architectures():
        model_type = arch.config_class.model_type
        AutoConfig.register(model_type, arch.config_class, exist_ok=True)
        AutoModel.register(arch.config_class, arch.model_class, exist_ok=True)
        AutoVideoProcessor.register(arch.config_class, arch.video_processor_class, exist_ok=True)
        if arch.classification_class is None:
            continue
        AutoModelForVideoClassification.register(arch.config_class, arch.classification_class, exist_ok=True)
        # The video-classification pipeline checks model classes against this name table (not the registry
        # above) and logs a spurious "not supported" error otherwise.
        modeling_auto.MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES.setdefault(
            model_type, arch.classification_class.__name__
        )


def register_pipeline() -> None:
    """Make ``pipeline("video-classification")`` build ``VideoClipClassificationPipeline``
    (:mod:`hf_videomodels.pipeline`), which keeps the saved video processor's settings for the package's
    models and behaves exactly like transformers' pipeline for every other model."""
    from transformers.pipelines import PIPELINE_REGISTRY

    from .pipeline import VideoClipClassificationPipeline

    # The task's entry is edited in place: register_pipeline() would log an "overwriting" warning on every
    # import and mark the class as a custom pipeline to be written into saved configs.
    PIPELINE_REGISTRY.supported_tasks["video-classification"]["impl"] = VideoClipClassificationPipeline


def find_architecture(name: str) -> Architecture:
    """Look an architecture up by its name ("I3D", "timesformer") or model_type ("hfvm_i3d")."""
    wanted = name.lower().removeprefix("hfvm_")
    for arch in architectures():
        if wanted in (arch.name.lower(), arch.config_class.model_type.removeprefix("hfvm_")):
            return arch
    known = list(ARCHITECTURE_FOLDERS)
    by_lower_name = {known_name.lower(): known_name for known_name in known}
    close = difflib.get_close_matches(wanted, by_lower_name, n=1)  # case-blind, so "i3dd" finds I3D
    hint = f" (did you mean {by_lower_name[close[0]]!r}?)" if close else ""
    raise UserInputError(f"unknown architecture {name!r}{hint}; known: {', '.join(known)}")
