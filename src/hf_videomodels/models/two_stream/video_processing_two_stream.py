"""Video processor for two-stream models: the RGB stream's frames, and the RGB frames the flow model needs."""

from __future__ import annotations

from typing import Literal

import numpy as np
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import Unpack
from transformers.video_utils import VideoMetadata

from ...sampling import sample_views
from ...video_processing_utils import VideoClipKwargs, VideoClipProcessor
from ..tsn.video_processing_tsn import TSNVideoProcessor

FLOW_SETTINGS = ("flow_mode", "flow_num_frames", "flow_stack_length")
# Call options that set the RGB stream's pixel scaling (or its clip length), not the flow model's frames.
RGB_ONLY_OPTIONS = (
    "num_frames", "image_mean", "image_std", "channel_order", "do_normalize", "do_rescale", "rescale_factor",
    "return_metadata",
)
# RAFT's input scaling, 2 * x / 255 - 1: x / 255 normalised with mean 0.5 and std 0.5.
RAFT_MEAN, RAFT_STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


class TwoStreamKwargs(VideoClipKwargs, total=False):
    """:class:`VideoClipKwargs` plus the flow stream's temporal layout.

    flow_mode: "stacked" (``flow_num_frames`` segments of ``flow_stack_length`` + 1 consecutive frames, Simonyan &
        Zisserman / TSN) or "clip" (``flow_num_frames`` + 1 consecutive frames, one flow field per frame, I3D).
    flow_num_frames: frames of the flow stream's input (segments for "stacked", flow fields for "clip").
    flow_stack_length: L, the flow fields stacked per segment ("stacked").
    """

    flow_mode: Literal["clip", "stacked"] | None
    flow_num_frames: int | None
    flow_stack_length: int | None


def flow_frame_views(
    total_num_frames: int, options: dict, generator=None, fps: float | None = None
) -> list[np.ndarray]:
    """Indices of the frames the flow model needs, per temporal view (see :class:`TwoStreamKwargs`).

    "stacked": segment starts chosen like the RGB stream's segments (``options["sampling"]``: "tsn" or "segments";
    a clip recipe uses "segments") over the ``total - L`` positions where a whole stack fits, as TSN samples its
    flow stacks, then L + 1 consecutive frames from each start. "clip": consecutive frames (sample rate 1, since
    flow is between neighbouring frames) placed like the RGB clip, one view per ``num_clips``.
    """
    count, stack = options["flow_num_frames"], options["flow_stack_length"]
    if options["flow_mode"] == "stacked":
        sampling = options["sampling"] if options["sampling"] in ("tsn", "segments") else "segments"
        (starts,) = sample_views(
            max(total_num_frames - stack, 1), count, sampling=sampling, training=options["training"], generator=generator
        )
        frames = starts[:, None] + np.arange(stack + 1)
        return [np.minimum(frames.reshape(-1), total_num_frames - 1)]
    return sample_views(
        total_num_frames,
        count + 1,
        sampling="clip",
        num_clips=options["num_clips"] if options["sampling"] == "clip" else 1,
        training=options["training"],
        alignment=options["clip_alignment"],
        short_video=options["short_video"],
        fps=fps,
        target_fps=options["target_fps"],
        generator=generator,
    )


class FlowFramesProcessor(VideoClipProcessor):
    """The frames for the flow model: sampled by :func:`flow_frame_views`, resized and cropped like the RGB
    stream's frames, scaled to [-1, 1] as RAFT expects. Used inside :class:`TwoStreamVideoProcessor`."""

    valid_kwargs = TwoStreamKwargs
    image_mean = RAFT_MEAN
    image_std = RAFT_STD
    flow_mode = "stacked"
    flow_num_frames = 8
    flow_stack_length = 5

    def _sample_views(self, metadata: VideoMetadata, options: dict, generator) -> list[np.ndarray]:
        if not options["do_sample_frames"]:
            return super()._sample_views(metadata, options, generator)
        return flow_frame_views(metadata.total_num_frames, options, generator, fps=metadata.fps)


class TwoStreamVideoProcessor(VideoClipProcessor):
    """Preprocessing of a two-stream model, from one video:

    - ``pixel_values``: the RGB stream's clip, with the RGB stream's recipe (this processor's own settings: by
      default TSN's 8 segments, short side 256, centre crop 224, ImageNet normalisation);
    - ``flow_frames``: the consecutive RGB frames from which the model's flow model (RAFT) computes the flow stream's
      input, laid out by ``flow_mode`` / ``flow_num_frames`` / ``flow_stack_length`` (default: 8 segments of 5 + 1
      frames, TSN's flow stacks), resized and cropped like ``pixel_values`` and scaled to [-1, 1].

    Precomputed flow is given to the model directly as ``flow_values``. :meth:`for_model_config` builds the
    processor of a :class:`TwoStreamConfig`: the RGB stream architecture's own recipe, and the flow layout.
    """

    valid_kwargs = TwoStreamKwargs
    model_input_names = ["pixel_values", "flow_frames"]

    # The RGB side defaults to TSN's recipe, for the default config's RGB stream.
    num_frames, sampling, size, crop_size, image_mean, image_std = (
        getattr(TSNVideoProcessor, name) for name in ("num_frames", "sampling", "size", "crop_size", "image_mean", "image_std")
    )
    flow_mode = "stacked"
    flow_num_frames = 8
    flow_stack_length = 5

    def __init__(self, **kwargs: Unpack[TwoStreamKwargs]) -> None:
        super().__init__(**kwargs)
        self._check_flow_options({name: getattr(self, name) for name in FLOW_SETTINGS})

    @staticmethod
    def _check_flow_options(options: dict) -> None:
        if options["flow_mode"] not in ("clip", "stacked"):
            raise ValueError(f"flow_mode must be 'clip' or 'stacked', got {options['flow_mode']!r}")
        for name in ("flow_num_frames", "flow_stack_length"):
            value = options[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    # ------------------------------------------------------------------------------------ model configs

    @classmethod
    def for_model_config(cls, config, **overrides: Unpack[TwoStreamKwargs]) -> TwoStreamVideoProcessor:
        """The RGB stream architecture's own recipe (I3D's, TSN's, ...) sized for ``config.rgb_config``, with the
        flow layout of ``config`` (``flow_mode``, the flow stream's frames and stack length); then ``overrides``."""
        from ...registration import BY_MODEL_TYPE

        rgb_recipe = BY_MODEL_TYPE[config.rgb_config.model_type].video_processor_class()
        settings = {key: value for key, value in rgb_recipe.to_dict().items() if key != "video_processor_type"}
        return cls(**settings).matched_to_config(config, **overrides)

    def matched_to_config(self, config, **overrides: Unpack[TwoStreamKwargs]) -> TwoStreamVideoProcessor:
        """This processor's settings with the RGB side matched to ``config.rgb_config`` (frames, crop, resize; see
        :meth:`VideoClipProcessor.matched_to_config`) and the flow layout taken from ``config``."""
        flow_layout = {
            "flow_mode": config.flow_mode,
            "flow_num_frames": config.flow_config.num_frames,
            "flow_stack_length": config.flow_stack_length,
        }
        return super().matched_to_config(config.rgb_config, **{**flow_layout, **overrides})

    def flow_frames_processor(self, **flow_layout) -> FlowFramesProcessor:
        """The processor of ``flow_frames``: this one's sampling and spatial settings (and ``flow_layout``
        overrides), RAFT's scaling."""
        settings = {key: value for key, value in self.to_dict().items() if key != "video_processor_type"}
        settings.update(flow_layout)
        settings.update(image_mean=RAFT_MEAN, image_std=RAFT_STD, do_normalize=True, do_rescale=True, channel_order="rgb")
        return FlowFramesProcessor(**settings)

    # ---------------------------------------------------------------------------------------- preprocess

    def preprocess(self, videos, **kwargs: Unpack[TwoStreamKwargs]) -> BatchFeature:
        """``pixel_values`` (the RGB stream's input) and ``flow_frames`` (the flow model's frames) of one video
        or a batch; every option of :meth:`VideoClipProcessor.preprocess`, plus the flow layout
        (:class:`TwoStreamKwargs`), for this call. Several views (``num_clips``, ``num_crops``) give 6-D tensors
        for both, view for view."""
        flow_layout = {name: kwargs.pop(name) for name in FLOW_SETTINGS if kwargs.get(name) is not None}
        rgb = super().preprocess(videos, **kwargs)
        frames_processor = self.flow_frames_processor(**flow_layout)
        # The RGB stream's pixel scaling does not apply to RAFT's frames; everything else (views, sizes, call
        # state) does.
        flow_kwargs = {key: value for key, value in kwargs.items() if key not in RGB_ONLY_OPTIONS}
        rgb["flow_frames"] = frames_processor.preprocess(videos, **flow_kwargs)["pixel_values"]
        return rgb

    __call__ = preprocess


__all__ = ["FlowFramesProcessor", "TwoStreamVideoProcessor"]
