"""The video processor every architecture of the package subclasses: frame sampling, decoding, spatial views.

``VideoClipProcessor`` turns videos into the ``pixel_values`` the models take, following the recipes of the
original code bases (see :mod:`hf_videomodels.sampling` for the temporal side):

1. **Input.** A path / URL / bytes / binary file (decoded with :mod:`hf_videomodels.video_io`), a numpy array
   or torch tensor ``(frames, height, width, channels)`` or ``(frames, channels, height, width)``, or a list
   of PIL frames; one video or a batch (a list of them, or a 5-D array). ``uint8`` pixels are 0-255; floating
   point pixels must already be in [0, 1] (torchvision's convention), unless ``do_rescale=False``, in which
   case any float values pass through (e.g. optical flow already scaled). Frames are RGB (decoders return
   RGB; arrays and PIL frames are taken as RGB). The channel axis is found by size (``num_channels``): last
   if it fits, else second; pass ``input_data_format`` when both fit. Arrays have no frame rate: pass
   ``video_metadata={"fps": ...}`` when ``target_fps`` is set, or the clip is measured in raw frames.
2. **Temporal sampling** (``do_sample_frames``, default True): ``sampling="clip"`` takes ``num_frames``
   frames every ``frame_sample_rate`` frames (optionally rescaled to ``target_fps``), ``short_video`` says how
   videos shorter than a clip are filled ("clamp" repeats the last frame, SlowFast/TimeSformer; "loop" wraps
   around, DeepMind I3D), ``clip_alignment`` places evaluation views ("start" or "centre"), or takes clips
   exactly ``frame_sample_rate`` apart as mmaction2 ("mmaction", Video Swin) or DMVR ("dmvr", ViViT) does;
   ``sampling="segments"`` takes one frame per equal segment (SlowFast's form of TSN's sampling),
   ``sampling="tsn"`` the original TSN code's form of it. Indices are chosen from the metadata
   first and only those frames are decoded. Pass ``do_sample_frames=False`` for frames that are already the
   clip. ``num_clips`` temporal views are taken at evaluation.
3. **Spatial views.** Evaluation: the short side is resized to ``size["shortest_edge"]`` (long side
   ``floor(long * S / short)``, skipped when the short side already is S, as SlowFast's
   ``random_short_side_scale_jitter``; ``short_side_resize="scale_factor"`` samples both axes at the one ratio
   ``S / short``, as ig65m-pytorch's ``F.interpolate(scale_factor=...)``), or to a fixed ``{"height": H, "width": W}`` (C3D, R(2+1)D), in float32 with ``resample`` (bilinear) and ``antialias`` (off by
   default: the originals use ``F.interpolate`` / ``cv2.resize``, which do not antialias), then
   ``num_crops`` crops of ``crop_size``: 1 = centre, 3 = the two ends and the centre of the long side
   (left/centre/right for landscape frames, top/centre/bottom for portrait; SlowFast's ``uniform_crop``,
   whose centre offset rounds up: ``ceil((H - h) / 2)``). Training (``training=True``): one random clip, an
   Inception-style random resized crop (area fraction ``random_resized_crop_scale``, aspect ratio
   ``random_resized_crop_ratio``, the same box for every frame), resized to ``crop_size``, and a horizontal
   flip with probability 0.5 when ``do_flip`` (off by default: mirroring swaps "left"/"right" and so breaks
   direction-sensitive classes such as Something-Something's "pushing something from left to right"; it is
   also wrong for optical flow, whose x component would need negating, so it is refused there).
4. **Pixels.** ``channel_order="bgr"`` reverses the channels for models trained on BGR frames; then the
   fused rescale + normalise ``(x * rescale_factor - mean) / std`` in the model's channel order.

Output: ``BatchFeature`` with float32 ``pixel_values`` ``(batch, frames, channels, height, width)``, or
``(batch, views, frames, channels, height, width)`` with ``views = num_clips * num_crops`` (clip-major, as
SlowFast numbers its test views) when there is more than one view; the models average per-view logits.
``view_fusion`` records how the checkpoint's original test code combines the views' scores ("logits": their
logits averaged; "softmax": their class probabilities averaged): ``hf-videomodels evaluate`` and the pipeline
follow it (the model's own forward, given 6-D input, averages logits).

``seed`` (call-time) makes training samples reproducible; ``training`` and ``seed`` are call state and are not
saved by ``save_pretrained``.

Who owns which setting
----------------------
**The saved video processor owns every preprocessing setting**: frames (``num_frames``), sampling
(``sampling``, ``frame_sample_rate``, ``target_fps``, ``short_video``, ``clip_alignment``), views
(``num_clips``, ``num_crops``), ``size``, ``crop_size``, channel order and ``image_mean`` / ``image_std``.
The model config's ``num_frames`` and ``image_size`` only describe what the network was built and trained
for; both architectures accept other clip lengths and sizes (TimeSformer resizes its time and position tables,
I3D is convolutional), so the config never overrides the processor. An argument given at call time, to the
processor or to ``pipeline("video-classification", ...)`` (at construction or per call), overrides the
processor for that call only. When the processor and the config disagree, the pipeline uses the processor's
value and says so once in the log. :meth:`VideoClipProcessor.for_model_config` (and
:meth:`VideoClipProcessor.matched_to_config` for a loaded processor) derive frames, crop and resize from a
config, as training does; an explicit setting that contradicts the config is kept, with a warning.

A clip that repeats more than half of its frames (a short video under a long clip: TimeSformer's 8 x 32 clip
on a 79-frame video samples ``[0, 30, 60, 78, 78, 78, 78, 78]``) is the original recipe and is kept; the
processor logs a warning the first time it happens (once per processor instance).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import PIL.Image
import torch
from huggingface_hub.dataclasses import validate_typed_dict
from torch.nn import functional as F
from transformers.feature_extraction_utils import BatchFeature
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling
from transformers.processing_utils import Unpack, VideosKwargs
from transformers.utils import logging
from transformers.video_processing_utils import BaseVideoProcessor
from transformers.video_utils import VideoMetadata

from .errors import UserInputError, suggest
from .layers.patch_embed import pair
from .sampling import (
    CLIP_ALIGNMENTS,
    EXACT_STRIDE_ALIGNMENTS,
    SAMPLING_MODES,
    SHORT_VIDEO_MODES,
    repeated_frame_count,
    sample_views,
)
from .video_io import VideoSource, read_video

logger = logging.get_logger(__name__)

# Settings that describe one call, not the processor: never written by save_pretrained.
CALL_STATE = ("training", "seed")
# Set on an instance once it has warned about a clip of mostly repeated frames; not a setting either.
_REPEAT_WARNING_GIVEN = "_repeat_warning_given"
_CHOICES = {
    "sampling": SAMPLING_MODES,
    "short_video": SHORT_VIDEO_MODES,
    "clip_alignment": CLIP_ALIGNMENTS,
    "channel_order": ("rgb", "bgr"),
    "num_crops": (1, 3),
    "short_side_resize": ("size", "scale_factor"),
    "view_fusion": ("logits", "softmax"),
}
_POSITIVE_INTS = ("num_frames", "frame_sample_rate", "num_clips", "num_channels")
_INTERPOLATION = {
    PILImageResampling.NEAREST: "nearest",
    PILImageResampling.BILINEAR: "bilinear",
    PILImageResampling.BICUBIC: "bicubic",
}


class VideoClipKwargs(VideosKwargs, total=False):
    """Keyword arguments of :class:`VideoClipProcessor` on top of transformers' ``VideosKwargs``.

    sampling: "clip" (``num_frames`` frames every ``frame_sample_rate`` frames), "segments" (one per segment) or
        "tsn" (one per segment, as the original TSN code picks it).
    frame_sample_rate: distance between sampled frames of a clip, in source frames (at ``target_fps``).
    target_fps: sample as if the video ran at this rate (SlowFast's ``DATA.TARGET_FPS``); None: raw frames.
    short_video: "clamp" (repeat the last frame) or "loop" (wrap around) when a clip is longer than the video.
    clip_alignment: where evaluation clips sit: "start" (view i of n at ``delta * i / n``), "centre", or
        "mmaction" / "dmvr" (mmaction2's / DMVR's clips, at training too: frames exactly ``frame_sample_rate``
        apart, raw frames; see :mod:`hf_videomodels.sampling`).
    num_clips: temporal views at evaluation. num_crops: spatial views at evaluation, 1 (centre) or 3.
    view_fusion: how evaluation combines the views' scores: "logits" (average the logits) or "softmax" (average
        the class probabilities), as the checkpoint's original test code does (see ``hf_videomodels.evaluation``).
    channel_order: "rgb" or "bgr", the channel order the model was trained on.
    num_channels: 3 for RGB frames, 2 for optical flow (x, y) given as arrays.
    antialias: antialias when resizing (the originals do not).
    short_side_resize: how a short-side resize maps pixels: "size" (to the output size, each axis by its own
        ratio, as SlowFast / torchvision) or "scale_factor" (``F.interpolate(scale_factor=S / short)``: one ratio
        for both axes, so the long side's last fraction of a pixel is dropped, as ig65m-pytorch).
    training: random clip + random resized crop (+ flip if ``do_flip``) instead of the evaluation views.
    seed: seed for the training randomness of this call (None: torch's global generator).
    random_resized_crop_scale / random_resized_crop_ratio: area fraction and aspect-ratio ranges of the crop.
    do_flip: random horizontal flip at training.
    """

    sampling: Literal["clip", "segments", "tsn"] | None
    frame_sample_rate: int | None
    target_fps: int | float | None
    short_video: Literal["clamp", "loop"] | None
    clip_alignment: Literal["start", "centre", "mmaction", "dmvr"] | None
    num_clips: int | None
    num_crops: int | None
    view_fusion: Literal["logits", "softmax"] | None
    channel_order: Literal["rgb", "bgr"] | None
    num_channels: int | None
    antialias: bool | None
    short_side_resize: Literal["size", "scale_factor"] | None
    training: bool | None
    seed: int | None
    random_resized_crop_scale: tuple[float, float] | list[float] | None
    random_resized_crop_ratio: tuple[float, float] | list[float] | None
    do_flip: bool | None


class VideoClipProcessor(BaseVideoProcessor):
    """Samples, decodes, crops and normalises videos for the package's models (see the module docstring)."""

    valid_kwargs = VideoClipKwargs
    model_input_names = ["pixel_values"]

    do_sample_frames = True
    num_frames = 16
    sampling = "clip"
    frame_sample_rate = 1
    target_fps = None
    short_video = "clamp"
    clip_alignment = "centre"
    num_clips = 1
    num_crops = 1
    view_fusion = "logits"
    do_resize = True
    size = {"shortest_edge": 256}
    default_to_square = False
    resample = PILImageResampling.BILINEAR
    antialias = False
    short_side_resize = "size"
    do_center_crop = True
    crop_size = {"height": 224, "width": 224}
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    do_convert_rgb = True
    channel_order = "rgb"
    num_channels = 3
    training = False
    seed = None
    random_resized_crop_scale = (0.08, 1.0)
    random_resized_crop_ratio = (3 / 4, 4 / 3)
    do_flip = False

    def __init__(self, **kwargs: Unpack[VideoClipKwargs]) -> None:
        super().__init__(**kwargs)
        self._check_options({name: getattr(self, name, None) for name in self.valid_kwargs.__annotations__})

    # ------------------------------------------------------------------------------------ model configs

    @classmethod
    def for_model_config(cls, config, **overrides: Unpack[VideoClipKwargs]) -> VideoClipProcessor:
        """The class's recipe, sized for ``config``: ``num_frames`` from ``config.num_frames``, ``crop_size``
        from ``config.image_size`` (an int or ``(height, width)``), ``size["shortest_edge"]`` scaled from the
        crop by the recipe's own resize/crop ratio (I3D 256/224, TimeSformer 224/224), ``num_channels`` from
        ``config.num_channels``; then the explicit ``overrides``. An override that contradicts the config (e.g.
        a 224 crop for a 64-pixel model) is kept, with a warning naming both values."""
        return cls().matched_to_config(config, **overrides)

    def matched_to_config(self, config, **overrides: Unpack[VideoClipKwargs]) -> VideoClipProcessor:
        """A new processor with this one's settings but frames, crop, resize and channels taken from
        ``config`` as :meth:`for_model_config` describes (the resize keeps this processor's resize/crop ratio),
        then the explicit ``overrides``."""
        crop_height, crop_width = pair(config.image_size)
        channels = config.num_channels
        derived = {
            "num_frames": config.num_frames,
            "crop_size": {"height": crop_height, "width": crop_width},
            "num_channels": channels,
        }
        for name in ("image_mean", "image_std"):
            value = getattr(self, name)
            # A per-channel constant (0.5 for I3D) carries over to another channel count (the flow stream's 2).
            if isinstance(value, Sequence) and len(value) != channels and len(set(value)) == 1:
                derived[name] = [value[0]] * channels
        settings = {key: value for key, value in self.to_dict().items() if key != "video_processor_type"}
        processor = type(self)(**{**settings, **derived, **overrides})
        if "size" not in overrides:  # resize for the crop actually used (the config's, or an explicit one)
            recipe_crop = max(self.crop_size.height, self.crop_size.width)
            final_crop = max(processor.crop_size.height, processor.crop_size.width)
            if self.size.shortest_edge is not None:
                derived["size"] = {"shortest_edge": round(final_crop * (self.size.shortest_edge / recipe_crop))}
            else:  # a fixed-size resize (C3D's 128 x 171) scales both sides
                height, width = (round(final_crop * (side / recipe_crop)) for side in (self.size.height, self.size.width))
                derived["size"] = {"height": height, "width": width}
            processor = type(self)(**{**settings, **derived, **overrides})
        if processor.num_channels != channels:
            raise UserInputError(
                f"num_channels={processor.num_channels} was asked for, but the model takes {channels} channels"
            )
        for difference in config_disagreements(processor, config):
            logger.warning_once(f"{type(self).__name__}: {difference}; the explicit processor setting is kept")
        return processor

    # ------------------------------------------------------------------------------------------- options

    def _standardize_kwargs(self, **kwargs) -> dict:
        kwargs = super()._standardize_kwargs(**kwargs)
        # JSON turns tuples into lists; keep one form so a save/load round trip compares equal.
        for name in ("random_resized_crop_scale", "random_resized_crop_ratio"):
            if isinstance(kwargs.get(name), list):
                kwargs[name] = tuple(kwargs[name])
        return kwargs

    def _merge_options(self, kwargs: dict) -> dict[str, Any]:
        names = self.valid_kwargs.__annotations__
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            described = ", ".join(f"{name!r}{suggest(name, names)}" for name in unknown)
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) {described}")
        validate_typed_dict(self.valid_kwargs, kwargs)
        # None means "the processor's setting", so callers can forward optional arguments unchanged.
        options = {name: kwargs[name] if kwargs.get(name) is not None else getattr(self, name, None) for name in names}
        options = self._standardize_kwargs(**options)
        self._check_options(options)
        return options

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        """Reject settings that cannot work, with the setting's name, before any video is touched."""
        for name, choices in _CHOICES.items():
            if options[name] not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {options[name]!r}")
        for name in _POSITIVE_INTS:
            value = options[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if options["target_fps"] is not None and not options["target_fps"] > 0:
            raise ValueError(f"target_fps must be positive or None, got {options['target_fps']!r}")
        if options.get("fps") is not None:
            raise ValueError("fps sampling is not supported; use frame_sample_rate (and target_fps) instead")
        if options["clip_alignment"] in EXACT_STRIDE_ALIGNMENTS and options["target_fps"] is not None:
            alignment = options["clip_alignment"]
            raise ValueError(f"clip_alignment={alignment!r} samples raw frames: target_fps must be None")
        if options["sampling"] in ("segments", "tsn") and options["num_clips"] != 1:
            raise ValueError("segment sampling covers the whole video in one temporal view: num_clips must be 1")
        if options["do_resize"] and fixed_or_short_side(options["size"]) is None:
            expected = "{'shortest_edge': S} or {'height': H, 'width': W}"
            raise ValueError(f"size must be {expected}, got {options['size']!r}")
        if options["crop_size"] is None or options["crop_size"].height is None or options["crop_size"].width is None:
            raise ValueError(f"crop_size must be {{'height': H, 'width': W}}, got {options['crop_size']!r}")
        channels = options["num_channels"]
        if options["do_normalize"]:
            for name in ("image_mean", "image_std"):
                value = options[name]
                if isinstance(value, Sequence) and len(value) != channels:
                    raise ValueError(f"{name} needs {channels} values (num_channels), got {value!r}")
        if options["channel_order"] == "bgr" and channels != 3:
            raise ValueError(f"channel_order='bgr' needs num_channels=3, got {channels}")
        if options["do_flip"] and channels != 3:
            raise ValueError("do_flip is refused for optical flow (num_channels != 3): the x flow would need negating")
        scale, ratio = options["random_resized_crop_scale"], options["random_resized_crop_ratio"]
        if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"random_resized_crop_scale must be (low, high) with 0 < low <= high <= 1, got {scale!r}")
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"random_resized_crop_ratio must be (low, high) with 0 < low <= high, got {ratio!r}")
        if options["resample"] not in _INTERPOLATION:
            choices = [str(mode) for mode in _INTERPOLATION]
            raise ValueError(f"resample must be one of {choices}, got {options['resample']!r}")

    def to_dict(self) -> dict[str, Any]:
        output = super().to_dict()
        for name in (*CALL_STATE, _REPEAT_WARNING_GIVEN):
            output.pop(name, None)
        return output

    # ---------------------------------------------------------------------------------------- preprocess

    def preprocess(
        self,
        videos: VideoSource | np.ndarray | torch.Tensor | list,
        *,
        num_frames: int | None = None,
        sampling: Literal["clip", "segments", "tsn"] | None = None,
        frame_sample_rate: int | None = None,
        target_fps: float | None = None,
        short_video: Literal["clamp", "loop"] | None = None,
        clip_alignment: Literal["start", "centre", "mmaction", "dmvr"] | None = None,
        num_clips: int | None = None,
        num_crops: int | None = None,
        do_sample_frames: bool | None = None,
        size: dict[str, int] | None = None,
        crop_size: dict[str, int] | None = None,
        training: bool | None = None,
        seed: int | None = None,
        video_metadata: VideoMetadata | dict | list | None = None,
        return_metadata: bool | None = None,
        return_tensors: str | None = None,
        **kwargs: Unpack[VideoClipKwargs],
    ) -> BatchFeature:
        """Turn one video or a batch into ``pixel_values`` (see the module docstring for inputs and steps).

        Every option defaults to ``None``, which means this processor's saved setting; a value given here
        applies to this call only.

        Args:
            videos: a path, URL, bytes or binary file; a ``(frames, height, width, channels)`` (or channels
                second) array / tensor; a list of PIL frames; or a list of those (a batch).
            num_frames: frames per clip.
            sampling: ``"clip"`` (``num_frames`` frames every ``frame_sample_rate`` frames), ``"segments"``
                (one frame from each of ``num_frames`` equal segments of the whole video) or ``"tsn"`` (the same,
                in the original TSN code's arithmetic).
            frame_sample_rate: distance between a clip's frames, in source frames (at ``target_fps``).
            target_fps: sample as if the video ran at this frame rate (``None``: its own frames).
            short_video: ``"clamp"`` (repeat the last frame) or ``"loop"`` for videos shorter than a clip.
            clip_alignment: where evaluation clips sit: ``"start"`` or ``"centre"``; ``"mmaction"`` or
                ``"dmvr"`` for those code bases' exact-stride clips.
            num_clips: temporal views at evaluation.
            num_crops: spatial views at evaluation: 1 (centre) or 3 (both ends and the centre of the long side).
            do_sample_frames: ``False`` when the frames given already are the clip.
            size: ``{"shortest_edge": S}``, the short side after resizing, or ``{"height": H, "width": W}``, a
                fixed-size resize that changes the aspect ratio (C3D, R(2+1)D).
            crop_size: ``{"height": H, "width": W}`` of each crop.
            training: one random clip and a random resized crop instead of the evaluation views.
            seed: seed of this call's training randomness.
            video_metadata: ``{"fps": ...}`` (one per video, or one for all) for arrays, which carry no rate.
            return_metadata: also return each video's metadata with the sampled ``frames_indices``.
            return_tensors: ``"pt"`` for torch tensors.
            **kwargs: any other setting of :class:`VideoClipKwargs` (``channel_order``, ``image_mean``,
                ``image_std``, ``do_flip``, ``antialias``, ...).

        Returns:
            ``BatchFeature`` with ``pixel_values`` ``(batch, frames, channels, height, width)``, or
            ``(batch, views, frames, channels, height, width)`` with several views.
        """
        # Here locals() holds exactly the parameters: the named options given join the other settings.
        given = {key: value for key, value in locals().items() if key not in ("self", "videos", "kwargs")}
        options = self._merge_options({**{key: value for key, value in given.items() if value is not None}, **kwargs})
        generator = None if options["seed"] is None else torch.Generator().manual_seed(options["seed"])
        batch = split_batch(videos)
        metadata = _metadata_per_video(options["video_metadata"], len(batch))
        clips, infos = [], []
        for video, info in zip(batch, metadata):
            frames, views, info = self._load_views(video, info, options, generator)
            clips.append(self._spatial_views(frames, views, options, generator))
            infos.append(info)
        if len({clip.shape for clip in clips}) > 1:
            shapes = sorted({tuple(clip.shape) for clip in clips})
            raise ValueError(f"the videos of a batch must give pixel values of one shape, got {shapes}")
        pixel_values = torch.stack(clips)
        if pixel_values.shape[1] == 1:
            pixel_values = pixel_values.squeeze(1)
        data: dict[str, Any] = {"pixel_values": pixel_values}
        if options["return_metadata"]:
            data["video_metadata"] = infos
        return BatchFeature(data=data, tensor_type=options["return_tensors"])

    # One documented signature for both spellings, so help() and IDEs show the options on calls too.
    __call__ = preprocess

    def _sample_views(self, metadata: VideoMetadata, options: dict, generator) -> list[np.ndarray]:
        if not options["do_sample_frames"]:
            if options["num_clips"] != 1:
                raise ValueError("num_clips > 1 needs do_sample_frames=True")
            return [np.arange(metadata.total_num_frames)]
        views = sample_views(
            metadata.total_num_frames,
            options["num_frames"],
            sampling=options["sampling"],
            sample_rate=options["frame_sample_rate"],
            num_clips=options["num_clips"],
            training=options["training"],
            alignment=options["clip_alignment"],
            short_video=options["short_video"],
            fps=metadata.fps,
            target_fps=options["target_fps"],
            generator=generator,
        )
        self._warn_once_if_mostly_repeats(views, metadata.total_num_frames, options)
        return views

    def _warn_once_if_mostly_repeats(self, views: list[np.ndarray], total_num_frames: int, options: dict) -> None:
        """The originals keep such clips (a short video under a long clip), so this only tells the user, once
        per processor instance, which frames were sampled and how to get more distinct ones."""
        if self.__dict__.get(_REPEAT_WARNING_GIVEN):
            return
        mostly_repeats = [view for view in views if 2 * repeated_frame_count(view) > len(view)]
        if not mostly_repeats:
            return
        setattr(self, _REPEAT_WARNING_GIVEN, True)
        view = mostly_repeats[0]
        recipe = ", ".join(f"{name}={options[name]!r}" for name in ("num_frames", "sampling", "frame_sample_rate"))
        logger.warning(
            f"{type(self).__name__}: {repeated_frame_count(view)} of the {len(view)} frames sampled from a "
            f"{total_num_frames}-frame video repeat another frame (indices {view.tolist()}): the video is short "
            f"for this clip ({recipe}, target_fps={options['target_fps']!r}). This is the original recipe and is "
            "kept; for more distinct frames lower num_frames or frame_sample_rate, or use sampling='segments'. "
            "(Shown once per processor.)"
        )

    def _load_views(self, video, metadata: VideoMetadata | None, options: dict, generator):
        """Decode or take the sampled frames of one video, each frame once.

        Returns ``(frames, views, metadata)``: frames ``(N, C, H, W)`` (uint8, or float as given), and per
        temporal view the positions of its frames in ``frames``.
        """
        views: list[np.ndarray] = []

        def choose(info: VideoMetadata) -> np.ndarray:
            views.clear()  # read_video chooses again if a container over-reported its frame count
            views.extend(self._sample_views(info, options, generator))
            return np.unique(np.concatenate(views))

        if is_video_source(video):
            if options["num_channels"] != 3:
                raise ValueError(
                    f"a processor with num_channels={options['num_channels']} (optical flow) takes arrays, "
                    "not video files: decoding yields RGB frames"
                )
            frames, metadata = read_video(video, indices=choose)
            frames = torch.from_numpy(frames).permute(0, 3, 1, 2)
            wanted = np.asarray(metadata.frames_indices)
        else:
            frames = frames_to_tensor(video, options["num_channels"], options["input_data_format"])
            if metadata is None:
                metadata = VideoMetadata(total_num_frames=frames.shape[0])
            metadata.total_num_frames, metadata.height, metadata.width = frames.shape[0], *frames.shape[-2:]
            wanted = choose(metadata)
            frames = frames[torch.from_numpy(wanted)]
            if frames.is_floating_point() and options["do_rescale"]:
                check_unit_range(frames)
        metadata.frames_indices = np.concatenate(views).tolist()  # every view's frames, view after view
        return frames, [np.searchsorted(wanted, view) for view in views], metadata

    # ------------------------------------------------------------------------------------------- spatial

    def _spatial_views(self, frames: torch.Tensor, views: list[np.ndarray], options: dict, generator):
        """``(views, T, C, h, w)`` float32 pixel values of one video's sampled frames."""
        scale = options["rescale_factor"] if options["do_rescale"] and not frames.is_floating_point() else 1.0
        if options["device"] is not None:
            frames = frames.to(options["device"])
        frames = frames.float()  # resize in float, like the originals (no uint8 rounding)
        if options["channel_order"] == "bgr":
            frames = frames.flip(1)
        gain, shift = pixel_affine(options, scale, frames.shape[1], frames.device)
        mode, antialias = _INTERPOLATION[options["resample"]], options["antialias"]
        crop_height, crop_width = options["crop_size"].height, options["crop_size"].width

        if options["training"]:
            clip = frames[torch.from_numpy(views[0])]
            scale_range, ratio_range = options["random_resized_crop_scale"], options["random_resized_crop_ratio"]
            top, left, height, width = random_resized_crop_box(*clip.shape[-2:], scale_range, ratio_range, generator)
            clip = clip[..., top : top + height, left : left + width]
            clip = resize(clip, (crop_height, crop_width), mode, antialias)
            if options["do_flip"] and float(torch.rand((), generator=generator)) < 0.5:
                clip = clip.flip(-1)
            return torch.addcmul(shift, clip, gain)[None]

        if options["do_resize"]:
            frames = resize_as_options_say(frames, fixed_or_short_side(options["size"]), options)
        boxes, crop_height, crop_width = evaluation_crops(*frames.shape[-2:], options)
        shape = (len(views) * len(boxes), len(views[0]), frames.shape[1], crop_height, crop_width)
        out = torch.empty(shape, device=frames.device)
        for view_index, (view, (top, left)) in enumerate(itertools.product(views, boxes)):
            crop = frames[torch.from_numpy(view), :, top : top + crop_height, left : left + crop_width]
            torch.addcmul(shift, crop, gain, out=out[view_index])  # rescale + normalise in one pass
        return out


# ------------------------------------------------------------------------------------------ model config


def model_input_tensors(processor_output) -> dict[str, torch.Tensor]:
    """The model inputs of a processor call's output: every tensor it holds (two-stream's processor adds
    ``flow_values`` and ``flow_frames`` to ``pixel_values``), each batched over the videos given."""
    return {name: value for name, value in processor_output.items() if isinstance(value, torch.Tensor)}


def config_disagreements(processor: VideoClipProcessor, config, skip=()) -> list[str]:
    """Where ``processor``'s input differs from what ``config``'s network was built for (clip length, crop
    size), one readable line each; settings named in ``skip`` (given explicitly by a caller) are not compared."""
    found = []
    if "num_frames" not in skip and getattr(config, "num_frames", None) not in (None, processor.num_frames):
        found.append(
            f"the video processor samples num_frames={processor.num_frames} but the model config has "
            f"num_frames={config.num_frames}"
        )
    image_size = getattr(config, "image_size", None)
    crop = (processor.crop_size.height, processor.crop_size.width)
    if "crop_size" not in skip and image_size is not None and crop != pair(image_size):
        found.append(
            f"the video processor crops {crop[0]}x{crop[1]} but the model config has image_size={image_size!r}"
        )
    return found


# ---------------------------------------------------------------------------------------------- inputs


def is_video_source(video) -> bool:
    return isinstance(video, (str, os.PathLike, bytes, bytearray)) or (
        hasattr(video, "read") and hasattr(video, "seek")
    )


def _is_frame(item) -> bool:
    return isinstance(item, PIL.Image.Image) or (isinstance(item, (np.ndarray, torch.Tensor)) and item.ndim == 3)


def split_batch(videos) -> list:
    """The videos of a call, one entry each: a source, a 4-D array/tensor, or a list of frames."""
    if is_video_source(videos):
        return [videos]
    if isinstance(videos, (np.ndarray, torch.Tensor)):
        if videos.ndim == 4:
            return [videos]
        if videos.ndim == 5:
            return list(videos)
        raise ValueError(
            "a video array must be 4-D (frames, height, width, channels) or (frames, channels, height, width), "
            f"or 5-D for a batch; got shape {tuple(videos.shape)}"
        )
    if isinstance(videos, PIL.Image.Image):
        raise TypeError("a single image is not a video: pass a list of PIL frames")
    if isinstance(videos, (list, tuple)):
        if len(videos) == 0:
            raise ValueError("no video given (empty list)")
        if all(_is_frame(item) for item in videos):
            return [list(videos)]
        batch = []
        for item in videos:
            if isinstance(item, (list, tuple)) and item and all(_is_frame(frame) for frame in item):
                batch.append(list(item))
            elif is_video_source(item) or isinstance(item, (np.ndarray, torch.Tensor)):
                batch.append(item)
            else:
                raise ValueError(f"cannot read a video from a {type(item).__name__} inside a batch")
        return batch
    raise TypeError(f"cannot read a video from a {type(videos).__name__}")


def _metadata_per_video(video_metadata, count: int) -> list[VideoMetadata | None]:
    """Copies of the caller's metadata (one entry per video, or one for all): arrays carry no frame rate, and
    ``target_fps`` sampling needs it. The frame count and size are always taken from the array itself."""
    if video_metadata is None:
        return [None] * count
    entries = video_metadata if isinstance(video_metadata, (list, tuple)) else [video_metadata] * count
    if len(entries) != count:
        raise ValueError(f"got {count} videos but {len(entries)} video_metadata entries")
    return [VideoMetadata(**{"total_num_frames": 0, **dict(entry)}) for entry in entries]


def frames_to_tensor(video, num_channels: int, input_data_format=None) -> torch.Tensor:
    """A validated ``(T, C, H, W)`` tensor (uint8 or float, not copied when possible) from an array, tensor
    or list of frames; clear errors for empty videos, wrong shapes, channels and dtypes."""
    if isinstance(video, list):
        if any(isinstance(frame, PIL.Image.Image) for frame in video):
            if num_channels != 3:
                raise ValueError(f"PIL frames are RGB images but num_channels={num_channels}")
            video = [np.asarray(frame.convert("RGB")) for frame in video]
        video = [frame if isinstance(frame, torch.Tensor) else torch.from_numpy(np.array(frame)) for frame in video]
        shapes = {tuple(frame.shape) for frame in video}
        if len(shapes) > 1:
            raise ValueError(f"all frames of a video must have the same shape, got {sorted(shapes)}")
        video = torch.stack(video)
    elif isinstance(video, np.ndarray):
        if video.dtype == object or not (video.dtype == np.uint8 or np.issubdtype(video.dtype, np.floating)):
            raise TypeError(f"unsupported video dtype {video.dtype}: use uint8 (0-255) or floating point (0-1)")
        video = torch.from_numpy(video if video.flags.writeable else video.copy())
    if video.ndim != 4:
        raise ValueError(f"a video must be 4-D (frames, height, width, channels); got shape {tuple(video.shape)}")
    if not (video.dtype == torch.uint8 or video.is_floating_point()):
        raise TypeError(f"unsupported video dtype {video.dtype}: use uint8 (0-255) or floating point (0-1)")
    if video.shape[0] == 0:
        raise ValueError(f"the video has no frames (shape {tuple(video.shape)})")
    layout = getattr(input_data_format, "value", input_data_format)  # ChannelDimension or its string
    if layout is None:
        layout = "channels_last" if video.shape[-1] == num_channels else "channels_first"
    if layout.endswith("last") and video.shape[-1] == num_channels:
        return video.permute(0, 3, 1, 2)
    if layout.endswith("first") and video.shape[1] == num_channels:
        return video
    raise ValueError(
        f"expected {num_channels} channels, last (frames, height, width, {num_channels}) or second "
        f"(frames, {num_channels}, height, width); got shape {tuple(video.shape)}"
    )


def check_unit_range(frames: torch.Tensor) -> None:
    low, high = float(frames.min()), float(frames.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"floating point videos must hold values in [0, 1] (got [{low:g}, {high:g}]); pass uint8 for 0-255 "
            "pixels, or do_rescale=False if the values are already scaled"
        )


# --------------------------------------------------------------------------------------------- spatial


def resize(frames: torch.Tensor, size: tuple[int, int], mode: str, antialias: bool) -> torch.Tensor:
    if tuple(frames.shape[-2:]) == tuple(size):
        return frames
    align = None if mode == "nearest" else False
    return F.interpolate(frames, size=size, mode=mode, align_corners=align, antialias=antialias and mode != "nearest")


def fixed_or_short_side(size) -> tuple[int, int] | int | None:
    """A processor's ``size``: ``(height, width)`` for a fixed-size resize (C3D, R(2+1)D's 128 x 171, which
    change the aspect ratio), the short side for ``{"shortest_edge": S}``, None when neither is given."""
    if size is None:
        return None
    if size.height is not None and size.width is not None:
        return (size.height, size.width)
    return size.shortest_edge


def resize_short_side(
    frames: torch.Tensor, short_side: int, mode: str, antialias: bool, by: str = "size"
) -> torch.Tensor:
    """Short side to ``short_side``, long side ``floor(long / short * short_side)`` (SlowFast's arithmetic).

    ``by="scale_factor"`` resizes with ``F.interpolate(scale_factor=short_side / short)`` instead: the same output
    size, but both axes sample the input at that one ratio (ig65m-pytorch's ``Resize``)."""
    height, width = frames.shape[-2:]
    if min(height, width) == short_side:
        return frames
    if by == "scale_factor":
        align = None if mode == "nearest" else False
        scale = float(short_side) / min(height, width)
        return F.interpolate(
            frames, scale_factor=scale, mode=mode, align_corners=align, antialias=antialias and mode != "nearest"
        )
    if width < height:
        size = (math.floor(float(height) / width * short_side), short_side)
    else:
        size = (short_side, math.floor(float(width) / height * short_side))
    return resize(frames, size, mode, antialias)


def resize_as_options_say(frames: torch.Tensor, target: tuple[int, int] | int, options: dict) -> torch.Tensor:
    """Resize to ``(height, width)`` or a short side ``int`` with the processor's interpolation settings."""
    mode, antialias = _INTERPOLATION[options["resample"]], options["antialias"]
    if isinstance(target, tuple):
        return resize(frames, target, mode, antialias)
    return resize_short_side(frames, target, mode, antialias, options["short_side_resize"])


def evaluation_crops(height: int, width: int, options: dict) -> tuple[list[tuple[int, int]], int, int]:
    """``([(top, left), ...], crop_height, crop_width)`` of the evaluation views of ``height x width`` frames:
    ``num_crops`` crops of ``crop_size`` with ``do_center_crop``, else the whole frame."""
    crop_height, crop_width = options["crop_size"].height, options["crop_size"].width
    if options["do_center_crop"]:
        return crop_offsets(height, width, crop_height, crop_width, options["num_crops"]), crop_height, crop_width
    if options["num_crops"] == 1:
        return [(0, 0)], height, width
    raise ValueError("num_crops=3 needs do_center_crop=True")


def crop_offsets(height: int, width: int, crop_height: int, crop_width: int, num_crops: int) -> list[tuple[int, int]]:
    """``(top, left)`` of the centre crop, or of the three crops along the long side (SlowFast's ``uniform_crop``)."""
    if crop_height > height or crop_width > width:
        raise ValueError(
            f"crop_size {crop_height}x{crop_width} is larger than the resized frames ({height}x{width}); "
            "raise size['shortest_edge'] or lower crop_size"
        )
    top, left = math.ceil((height - crop_height) / 2), math.ceil((width - crop_width) / 2)
    if num_crops == 1:
        return [(top, left)]
    if height > width:
        return [(0, left), (top, left), (height - crop_height, left)]
    return [(top, 0), (top, left), (top, width - crop_width)]


def random_resized_crop_box(
    height: int, width: int, scale: Sequence[float], ratio: Sequence[float], generator: torch.Generator | None
) -> tuple[int, int, int, int]:
    """``(top, left, crop_height, crop_width)`` of an Inception-style random crop: area fraction in ``scale``,
    aspect ratio (w/h) log-uniform in ``ratio``; ten tries, then the largest centred crop within ``ratio``
    (the algorithm of torchvision's ``RandomResizedCrop``)."""

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))

    def randint(high: int) -> int:
        return int(torch.randint(high, (), generator=generator))

    area = height * width
    for _ in range(10):
        target_area = area * uniform(*scale)
        aspect = math.exp(uniform(math.log(ratio[0]), math.log(ratio[1])))
        crop_width = round(math.sqrt(target_area * aspect))
        crop_height = round(math.sqrt(target_area / aspect))
        if 0 < crop_width <= width and 0 < crop_height <= height:
            return randint(height - crop_height + 1), randint(width - crop_width + 1), crop_height, crop_width
    aspect = width / height
    if aspect < ratio[0]:
        crop_width, crop_height = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        crop_width, crop_height = round(height * ratio[1]), height
    else:
        crop_width, crop_height = width, height
    return (height - crop_height) // 2, (width - crop_width) // 2, crop_height, crop_width


def pixel_affine(options: dict, scale: float, channels: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(gain, shift)``, each ``(C, 1, 1)``, with ``pixels * gain + shift == (pixels * scale - mean) / std``:
    rescale and normalise fused into one multiply-add."""
    if options["do_normalize"]:
        mean = torch.as_tensor(options["image_mean"], dtype=torch.float32, device=device).expand(channels)
        std = torch.as_tensor(options["image_std"], dtype=torch.float32, device=device).expand(channels)
    else:
        mean, std = torch.zeros(channels, device=device), torch.ones(channels, device=device)
    return (scale / std).view(channels, 1, 1), (-mean / std).view(channels, 1, 1)


__all__ = ["VideoClipKwargs", "VideoClipProcessor", "VideoSource", "config_disagreements"]
