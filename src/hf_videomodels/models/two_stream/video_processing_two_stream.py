"""Video processor for two-stream models: the RGB stream's frames, and the RGB frames the flow model needs."""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import Unpack
from transformers.video_utils import VideoMetadata

from ...flow_processing import FlowVideoProcessor
from ...sampling import sample_views
from ...video_processing_utils import VideoClipKwargs, VideoClipProcessor
from ..tsn.video_processing_tsn import TSNVideoProcessor

FLOW_SETTINGS = ("flow_mode", "flow_num_frames", "flow_stack_length", "flow_bound")
# Call options of the RGB stream's clip (its length and frame spacing; flow is between neighbouring frames) and
# pixel scaling, which the flow side does not take.
RGB_ONLY_OPTIONS = (
    "num_frames",
    "frame_sample_rate",
    "target_fps",
    "num_channels",
    "image_mean",
    "image_std",
    "channel_order",
    "do_normalize",
    "do_rescale",
    "rescale_factor",
    "return_metadata",
)
# The settings the flow processor shares with this one (spatial views, short videos, clip placement).
FLOW_PROCESSOR_SETTINGS = (
    "do_sample_frames",
    "short_video",
    "clip_alignment",
    "num_clips",
    "num_crops",
    "do_resize",
    "size",
    "resample",
    "antialias",
    "short_side_resize",
    "do_center_crop",
    "crop_size",
    "random_resized_crop_scale",
    "random_resized_crop_ratio",
)
# A flow model kept on the processor, and its cache folder: state of this process, never saved.
KEPT_FLOW_MODEL = ("flow_model", "flow_cache_dir")
# RAFT's input scaling, 2 * x / 255 - 1: x / 255 normalised with mean 0.5 and std 0.5.
RAFT_MEAN, RAFT_STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


class TwoStreamKwargs(VideoClipKwargs, total=False):
    """:class:`VideoClipKwargs` plus the flow stream's temporal layout.

    flow_mode: "stacked" (``flow_num_frames`` segments of ``flow_stack_length`` + 1 consecutive frames, Simonyan &
        Zisserman / TSN) or "clip" (``flow_num_frames`` + 1 consecutive frames, one flow field per frame, I3D).
    flow_num_frames: frames of the flow stream's input (segments for "stacked", flow fields for "clip").
    flow_stack_length: L, the flow fields stacked per segment ("stacked").
    flow_bound: flow computed or read here is clipped to +-flow_bound pixels and divided by it (the model's
        ``config.flow_bound``, which RAFT inside the model uses).
    flow_model: a flow model kept on the processor (a ``RaftModel`` or its folder, or a ``FarnebackFlow``): every
        call then computes ``flow_values`` here, as if ``flow_model`` were passed to :meth:`preprocess` (training's
        data transform calls the processor with the videos alone). Not saved.
    flow_cache_dir: a folder for the flow computed with the kept ``flow_model``. Not saved.
    """

    flow_mode: Literal["clip", "stacked"] | None
    flow_num_frames: int | None
    flow_stack_length: int | None
    flow_bound: float | None
    flow_model: Any
    flow_cache_dir: str | os.PathLike | None


def flow_frame_views(total_num_frames: int, options: dict, generator=None) -> list[np.ndarray]:
    """Indices of the frames the flow model needs, per temporal view (see :class:`TwoStreamKwargs`).

    "stacked": segment starts chosen like the RGB stream's segments (``options["sampling"]``: "tsn" or "segments";
    a clip recipe uses "segments") over the ``total - L`` positions where a whole stack fits, as TSN samples its
    flow stacks, then L + 1 consecutive frames from each start. "clip": consecutive source frames (sample rate 1 and
    no ``target_fps``, since flow is between neighbouring frames) placed like the RGB clip, one view per ``num_clips``.
    """
    count, stack = options["flow_num_frames"], options["flow_stack_length"]
    if options["flow_mode"] == "stacked":
        sampling = options["sampling"] if options["sampling"] in ("tsn", "segments") else "segments"
        (starts,) = sample_views(
            max(total_num_frames - stack, 1),
            count,
            sampling=sampling,
            training=options["training"],
            generator=generator,
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
    flow_bound = 20.0

    def _sample_views(self, metadata: VideoMetadata, options: dict, generator) -> list[np.ndarray]:
        if not options["do_sample_frames"]:
            return super()._sample_views(metadata, options, generator)
        return flow_frame_views(metadata.total_num_frames, options, generator)


class TwoStreamVideoProcessor(VideoClipProcessor):
    """Preprocessing of a two-stream model, from one video:

    - ``pixel_values``: the RGB stream's clip, with the RGB stream's recipe (this processor's own settings: by
      default TSN's 8 segments, short side 256, centre crop 224, ImageNet normalisation);
    - ``flow_frames``: the consecutive RGB frames from which the model's flow model (RAFT) computes the flow stream's
      input, laid out by ``flow_mode`` / ``flow_num_frames`` / ``flow_stack_length`` (default: 8 segments of 5 + 1
      frames, TSN's flow stacks), resized and cropped like ``pixel_values`` and scaled to [-1, 1];
    - or instead ``flow_values``, the flow stream's input itself, when the call gives precomputed ``flow`` or a
      ``flow_model`` to compute it here (see :meth:`preprocess`; the flow processor caches computed flow).

    :meth:`for_model_config` builds the processor of a :class:`TwoStreamConfig`: the RGB stream architecture's own
    recipe, and the flow layout.
    """

    valid_kwargs = TwoStreamKwargs
    model_input_names = ["pixel_values", "flow_frames"]

    # The RGB side defaults to TSN's recipe, for the default config's RGB stream.
    num_frames, sampling, size, crop_size, image_mean, image_std = (
        getattr(TSNVideoProcessor, name)
        for name in ("num_frames", "sampling", "size", "crop_size", "image_mean", "image_std")
    )
    flow_mode = "stacked"
    flow_num_frames = 8
    flow_stack_length = 5
    flow_bound = 20.0
    flow_model = None
    flow_cache_dir = None

    def __init__(self, **kwargs: Unpack[TwoStreamKwargs]) -> None:
        super().__init__(**kwargs)
        self._check_flow_options({name: getattr(self, name) for name in FLOW_SETTINGS})

    def to_dict(self) -> dict[str, Any]:
        # Held aside rather than popped from the output: the base deep-copies the instance's attributes.
        held = {name: self.__dict__.pop(name) for name in KEPT_FLOW_MODEL if name in self.__dict__}
        try:
            output = super().to_dict()
        finally:
            self.__dict__.update(held)
        for name in KEPT_FLOW_MODEL:
            output.pop(name, None)
        return output

    @staticmethod
    def _check_flow_options(options: dict) -> None:
        if options["flow_mode"] not in ("clip", "stacked"):
            raise ValueError(f"flow_mode must be 'clip' or 'stacked', got {options['flow_mode']!r}")
        for name in ("flow_num_frames", "flow_stack_length"):
            value = options[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not options["flow_bound"] > 0:
            raise ValueError(f"flow_bound must be positive, got {options['flow_bound']!r}")

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
            "flow_bound": config.flow_bound,
        }
        return super().matched_to_config(config.rgb_config, **{**flow_layout, **overrides})

    def flow_frames_processor(self, **flow_layout) -> FlowFramesProcessor:
        """The processor of ``flow_frames``: this one's sampling and spatial settings (and ``flow_layout``
        overrides), RAFT's scaling."""
        settings = {key: value for key, value in self.to_dict().items() if key != "video_processor_type"}
        settings.update(flow_layout)
        settings.update(
            image_mean=RAFT_MEAN, image_std=RAFT_STD, do_normalize=True, do_rescale=True, channel_order="rgb"
        )
        return FlowFramesProcessor(**settings)

    def flow_processor(self, **flow_layout) -> FlowVideoProcessor:
        """The :class:`~hf_videomodels.flow_processing.FlowVideoProcessor` giving ``flow_values`` from precomputed
        flow or from RAFT run here: this processor's sampling and spatial settings and flow layout."""
        settings = {key: value for key, value in self.to_dict().items() if key in FLOW_PROCESSOR_SETTINGS}
        layout = {name: flow_layout.get(name, getattr(self, name)) for name in FLOW_SETTINGS}
        clip = layout["flow_mode"] == "clip"
        return FlowVideoProcessor(
            **settings,
            mode=layout["flow_mode"],
            num_frames=layout["flow_num_frames"],
            flow_length=layout["flow_stack_length"],
            bound=layout["flow_bound"],
            # Flow fields of a clip are consecutive (sample rate 1); stacks start at segments like the RGB frames.
            sampling="clip" if clip else ("segments" if self.sampling == "segments" else "tsn"),
            frame_sample_rate=1,
        )

    # ---------------------------------------------------------------------------------------- preprocess

    def preprocess(
        self, videos, flow=None, flow_model=None, flow_cache_dir=None, **kwargs: Unpack[TwoStreamKwargs]
    ) -> BatchFeature:
        """The two streams' inputs for one video or a batch:

        - ``pixel_values``, the RGB stream's input;
        - ``flow_values``, when the flow is precomputed (``flow``: per video an array ``(frames - 1, 2, H, W)`` in
          pixels, a ``.npy`` file or a folder of x/y flow JPEGs) or computed here (``flow_model``: a ``RaftModel`` or
          its folder, with ``flow_cache_dir`` to keep computed flow on disk), through
          :meth:`flow_processor` (flow computed on the resized frames, then cropped);
        - otherwise ``flow_frames``, the frames the model's own flow model computes the flow from.

        ``flow_model`` and ``flow_cache_dir`` default to those kept on the processor.

        Every option of :meth:`VideoClipProcessor.preprocess`, and the flow layout (:class:`TwoStreamKwargs`), can
        be given for this call. Several views (``num_clips``, ``num_crops``) give 6-D tensors, view for view."""
        flow_model = self.flow_model if flow_model is None else flow_model
        flow_cache_dir = self.flow_cache_dir if flow_cache_dir is None else flow_cache_dir
        flow_layout = {name: kwargs.pop(name) for name in FLOW_SETTINGS if kwargs.get(name) is not None}
        outputs = super().preprocess(videos, **kwargs)
        # The RGB stream's pixel scaling does not apply to the flow side; everything else (views, sizes, call
        # state) does.
        flow_kwargs = {key: value for key, value in kwargs.items() if key not in RGB_ONLY_OPTIONS}
        if flow is not None or flow_model is not None:
            processor = self.flow_processor(**flow_layout)
            source = flow if flow is not None else videos
            flow_options = {"flow_model": flow_model, "flow_cache_dir": flow_cache_dir}
            flow_options = {key: value for key, value in flow_options.items() if value is not None}
            outputs["flow_values"] = processor(source, **flow_kwargs, **flow_options)["flow_values"]
        else:
            frames_processor = self.flow_frames_processor(**flow_layout)
            outputs["flow_frames"] = frames_processor.preprocess(videos, **flow_kwargs)["pixel_values"]
        return outputs

    __call__ = preprocess


__all__ = ["FlowFramesProcessor", "TwoStreamVideoProcessor"]
