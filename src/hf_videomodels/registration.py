"""One table of the package's architectures, and their registration with transformers' Auto classes."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForVideoClassification,
    AutoVideoProcessor,
)
from transformers.models.auto import modeling_auto

from .errors import UserInputError


@dataclass(frozen=True)
class Architecture:
    name: str
    config_class: type
    model_class: type
    classification_class: type
    video_processor_class: type


def _architectures() -> tuple[Architecture, ...]:
    from .models import i3d, timesformer

    return (
        Architecture("I3D", i3d.I3DConfig, i3d.I3DModel, i3d.I3DForVideoClassification, i3d.I3DVideoProcessor),
        Architecture(
            "TimeSformer",
            timesformer.TimeSformerConfig,
            timesformer.TimeSformerModel,
            timesformer.TimeSformerForVideoClassification,
            timesformer.TimeSformerVideoProcessor,
        ),
    )


ARCHITECTURES = _architectures()
BY_MODEL_TYPE = {arch.config_class.model_type: arch for arch in ARCHITECTURES}


def register_architectures() -> None:
    for arch in ARCHITECTURES:
        model_type = arch.config_class.model_type
        AutoConfig.register(model_type, arch.config_class, exist_ok=True)
        AutoModel.register(arch.config_class, arch.model_class, exist_ok=True)
        AutoModelForVideoClassification.register(arch.config_class, arch.classification_class, exist_ok=True)
        AutoVideoProcessor.register(arch.config_class, arch.video_processor_class, exist_ok=True)
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
    for arch in ARCHITECTURES:
        if wanted in (arch.name.lower(), arch.config_class.model_type.removeprefix("hfvm_")):
            return arch
    known = [arch.name for arch in ARCHITECTURES]
    by_lower_name = {arch.name.lower(): arch.name for arch in ARCHITECTURES}
    close = difflib.get_close_matches(wanted, by_lower_name, n=1)  # case-blind, so "i3dd" finds I3D
    hint = f" (did you mean {by_lower_name[close[0]]!r}?)" if close else ""
    raise UserInputError(f"unknown architecture {name!r}{hint}; known: {', '.join(known)}")
