"""``pipeline("video-classification")`` for the package's models: the saved video processor decides.

transformers' ``VideoClassificationPipeline`` always passes ``num_frames=model.config.num_frames`` to the
processor and drops ``frame_sampling_rate`` when a video processor is present. For a
:class:`~hf_videomodels.video_processing_utils.VideoClipProcessor` that would silently replace the saved
recipe, so this subclass passes only what the caller gave (see "Who owns which setting" in
:mod:`hf_videomodels.video_processing_utils`). For every other model it behaves exactly like transformers'
pipeline. Importing ``hf_videomodels`` makes it the pipeline of the "video-classification" task.
"""

from __future__ import annotations

from typing import Any

from transformers.modeling_outputs import ImageClassifierOutput
from transformers.pipelines.video_classification import VideoClassificationPipeline
from transformers.utils import logging

from .errors import UserInputError, check_known_keys
from .modeling_utils import fuse_views, view_logits
from .video_processing_utils import VideoClipKwargs, VideoClipProcessor, config_disagreements

logger = logging.get_logger(__name__)

# The pipeline asks for tensors, forwards only pixel values and places the model itself.
_PIPELINE_CONTROLLED = ("return_tensors", "return_metadata", "device")
PROCESSOR_OPTIONS = tuple(name for name in VideoClipKwargs.__annotations__ if name not in _PIPELINE_CONTROLLED)
_POSTPROCESS_OPTIONS = ("top_k", "function_to_apply")


class VideoClipClassificationPipeline(VideoClassificationPipeline):
    """Video classification whose preprocessing is the model's saved video processor, as saved.

    Any setting of the processor (``num_frames``, ``sampling``, ``frame_sample_rate``, ``num_clips``,
    ``num_crops``, ``clip_alignment``, ...) can be given when the pipeline is built (then it applies to every
    call) or per call, and overrides the saved value; ``frame_sampling_rate``, transformers' name, means
    ``frame_sample_rate``. Nothing else changes the saved recipe: the model config's ``num_frames`` is not
    used, and when it differs from the processor's the log says so once.
    """

    def _owns_preprocessing(self) -> bool:
        return isinstance(self.video_processor, VideoClipProcessor)

    def _sanitize_parameters(
        self, top_k=None, num_frames=None, frame_sampling_rate=None, function_to_apply=None, **options
    ):
        if not self._owns_preprocessing():
            return super()._sanitize_parameters(
                top_k=top_k,
                num_frames=num_frames,
                frame_sampling_rate=frame_sampling_rate,
                function_to_apply=function_to_apply,
                **options,
            )
        check_known_keys(
            options, (*PROCESSOR_OPTIONS, *_POSTPROCESS_OPTIONS, "frame_sampling_rate"), "video-classification option"
        )
        if frame_sampling_rate is not None:
            if options.get("frame_sample_rate") not in (None, frame_sampling_rate):
                raise UserInputError(
                    f"frame_sampling_rate={frame_sampling_rate} and frame_sample_rate={options['frame_sample_rate']} "
                    "name the same setting: give one"
                )
            options["frame_sample_rate"] = frame_sampling_rate
        options["num_frames"] = num_frames
        view_fusion = options.pop("view_fusion", None)  # how the views' scores are combined: not preprocessing
        preprocess_params = {name: value for name, value in options.items() if value is not None}
        _, forward_params, postprocess_params = super()._sanitize_parameters(
            top_k=top_k, function_to_apply=function_to_apply
        )
        if view_fusion is not None:
            forward_params["view_fusion"] = view_fusion
        return preprocess_params, forward_params, postprocess_params

    def __call__(self, inputs, **kwargs: Any):
        """Classify a video (a path or URL) or a list of them.

        Args:
            inputs: the video(s).
            top_k: how many labels to return (default 5).
            function_to_apply: ``"softmax"``, ``"sigmoid"`` or ``"none"`` (default from the config's problem type).
            num_frames, frame_sample_rate (alias ``frame_sampling_rate``), sampling, num_clips, num_crops,
                clip_alignment, ...: any video-processor setting, for this call; by default the saved video
                processor's values are used.
            view_fusion: how several clips / crops are combined: ``"logits"`` (the model averages their logits) or
                ``"softmax"`` (their probabilities are averaged); default: the processor's ``view_fusion``.

        Returns:
            ``[{"label": ..., "score": ...}, ...]`` per video.
        """
        return super().__call__(inputs, **kwargs)

    def preprocess(self, video, **options):
        if not self._owns_preprocessing():
            return super().preprocess(video, **options)
        for difference in config_disagreements(self.video_processor, self.model.config, skip=options):
            logger.warning_once(
                f"{difference}; the video processor's setting is used (it owns preprocessing; the model adapts: "
                "TimeSformer resizes its time and position tables, I3D is convolutional). Pass the setting to the "
                "pipeline, or save a processor with it, to change it."
            )
        return self.video_processor(video, **options, return_tensors="pt").to(self.dtype)

    def _forward(self, model_inputs, view_fusion: str | None = None):
        """Several views with ``view_fusion="softmax"`` (the processor's, or given): the views' probabilities are
        averaged, as ``hf-videomodels evaluate`` does; otherwise the model averages the views' logits itself."""
        if view_fusion is None:
            view_fusion = getattr(self.video_processor, "view_fusion", "logits")
        pixel_values = model_inputs.get("pixel_values")
        if view_fusion == "logits" or pixel_values is None or pixel_values.ndim != 6:
            return super()._forward(model_inputs)
        probabilities = fuse_views(*view_logits(self.model, dict(model_inputs)), view_fusion)
        # postprocess applies a softmax, which gives the averaged probabilities back from their logarithms
        return ImageClassifierOutput(logits=probabilities.log())


__all__ = ["VideoClipClassificationPipeline"]
