"""The video processor of every optical-flow stream: ``FlowVideoProcessor`` turns videos into ``flow_values``.

Two layouts, the two ways flow networks take motion:

- ``mode="stacked"`` (Simonyan & Zisserman 2014, TSN): for each of ``num_frames`` segments, the flow of
  ``flow_length`` (L, 10 in the paper) consecutive frame pairs, stacked along the channels as x1, y1, x2, y2, ...
  (the order of TSN's flow stacks and of mmaction2's ``FormatShape("NCHW_Flow")``, which reshapes
  ``(L, 2)`` into ``2L``): ``(batch, segments, 2L, H, W)``, the input of a 2D network with ``num_channels = 2L``
  applied to each segment (a TSN ResNet). Segments are sampled over the ``flow frames - L + 1`` possible stack
  starts, as TSN does with ``new_length``.
- ``mode="clip"`` (I3D's flow stream): one flow frame per time step, ``(batch, frames, 2, H, W)``, sampled like
  an RGB clip over the flow frames.

Flow frame ``t`` is the displacement from video frame ``t`` to ``t + 1`` (a video of T frames has T - 1), in
pixels. Values are clipped to ``+-bound`` (20) and divided by it, so the network sees [-1, 1] (I3D's and TSN's
flow inputs).

Where the flow comes from, per video of a call:

- **computed** by RAFT (``flow_model=``: a ``RaftModel`` or anything with its ``clip_flow``, or a model folder)
  from a video file or RGB frames (uint8 ``(T, H, W, 3)`` arrays, PIL frames). The frames are first resized as
  ``size`` says (I3D computed its TV-L1 flow on frames with a 256-pixel short side), so the flow is in the pixels
  of the network's input; only the pairs the sampled frames need are computed. With ``flow_cache_dir`` (or the
  ``HF_VIDEOMODELS_FLOW_CACHE`` environment variable) the flow of every pair of a video *file* is computed once
  and kept on disk, keyed by the file (path, size, modification time), the model's weights, ``num_iterations``
  and the resize (see :mod:`hf_videomodels.flow`).
- **precomputed**: a float array or tensor ``(flow frames, 2, H, W)`` or ``(flow frames, H, W, 2)`` in pixels, a
  ``.npy`` file of one, or a folder of x/y JPEGs as denseflow / TSN's ``extract_gpu`` write them
  (``flow_x_00001.jpg``, ``flow_y_00001.jpg``, ... one grey image per component and pair, numbered from 1).
  The JPEGs hold ``round(255 * (v + B) / (2B))`` of the flow clipped to ``+-B`` (``jpeg_bound``, 20 as denseflow
  and mmaction2's ``build_rawframes`` use it). mmaction2 reads them back with ``Normalize(mean=128, std=128)``:
  ``(p - 128) / 128`` (``jpeg_decoding="mmaction"``, the default, so models trained there see what they were
  trained on); ``"exact"`` inverts the quantisation, ``p / 255 * 2 - 1`` (pytorch-i3d's reading of its flow
  JPEGs). uint8 arrays are taken as JPEG-coded the same way.

An array is flow when its channel axis (second or last) has 2 entries, RGB frames when it has 3.

Spatial steps are those of :class:`VideoClipProcessor` (short-side or fixed resize, centre / three crops;
training: random resized crop and, with ``do_flip``, a horizontal flip), made flow-aware: a flip mirrors the
field **and negates x** (mmaction2's ``Flip`` inverts the x JPEGs for flow, ``255 - p``, which under its
128 centre is the negation shifted by 1/128). A resize does **not** rescale the
vectors by default (``rescale_flow_on_resize=False``): the originals (mmaction2's ``Resize`` /
``RandomResizedCrop`` on flow JPEGs, TSN's data layer) resize flow images like pictures, so their networks were
trained on vectors in the pixels of the resolution the flow was computed at; ``True`` scales x and y by the
resize factors, for flow that should stay in the output's pixels.

RAFT-computed flow of a crop is the flow of the resized frames, which is what ``size`` describes; crops and
flips then act on the flow as above.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
import PIL.Image
import torch
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import Unpack
from transformers.video_utils import VideoMetadata

from .errors import UserInputError
from .flow import frame_pair_flow, model_device, video_flow
from .video_io import read_video
from .video_processing_utils import (
    VideoClipKwargs,
    VideoClipProcessor,
    evaluation_crops,
    fixed_or_short_side,
    frames_to_tensor,
    is_video_source,
    random_resized_crop_box,
    resize_as_options_say,
)

FLOW_MODES = ("stacked", "clip")
JPEG_DECODINGS = ("mmaction", "exact")
FLOW_CACHE_ENV_VAR = "HF_VIDEOMODELS_FLOW_CACHE"
# Names of the x / y JPEGs of flow frame t (0-based) in a denseflow folder: numbered from 1.
FLOW_JPEG_NAME = "flow_{axis}_{number:05d}.jpg"
_FLOW_JPEG_PATTERN = re.compile(r"flow_([xy])_(\d+)\.jpg")
# Settings that are call state or machine-specific, never written by save_pretrained.
_NOT_SAVED = ("flow_cache_dir", "_loaded_flow_models")


class FlowVideoKwargs(VideoClipKwargs, total=False):
    """Settings of :class:`FlowVideoProcessor` on top of :class:`VideoClipKwargs`.

    mode: "stacked" (L pairs per segment, 2L channels) or "clip" (2 channels per frame).
    flow_length: L, the frame pairs stacked per segment in "stacked" mode.
    bound: flow is clipped to +-bound (pixels) and divided by it.
    flow_model: a RaftModel (anything with ``clip_flow``) or its folder, for flow computed from RGB.
    num_iterations: RAFT's refinement iterations.
    flow_cache_dir: a folder for computed flow (not saved with the processor).
    jpeg_bound: the bound the flow JPEGs were written with.
    jpeg_decoding: "mmaction" ((p - 128) / 128) or "exact" (p / 255 * 2 - 1) for JPEG / uint8 flow.
    rescale_flow_on_resize: scale the vectors by the resize factors (the originals do not).
    """

    mode: Literal["stacked", "clip"] | None
    flow_length: int | None
    bound: int | float | None
    flow_model: Any
    num_iterations: int | None
    flow_cache_dir: str | os.PathLike | None
    jpeg_bound: int | float | None
    jpeg_decoding: Literal["mmaction", "exact"] | None
    rescale_flow_on_resize: bool | None


def scale_flow(flow: torch.Tensor, bound: float) -> torch.Tensor:
    """Flow in pixels -> the network's input: clipped to ``+-bound`` and divided by it, in [-1, 1]."""
    return (flow / bound).clamp(-1, 1)


def stack_flow_pairs(flow: torch.Tensor, flow_length: int) -> torch.Tensor:
    """``(..., segments * L, 2, H, W)`` -> ``(..., segments, 2L, H, W)``, channels x1, y1, x2, y2, ..."""
    *lead, frames, channels, height, width = flow.shape
    if frames % flow_length:
        raise ValueError(f"{frames} flow frames do not split into stacks of flow_length={flow_length}")
    return flow.reshape(*lead, frames // flow_length, flow_length * channels, height, width)


def decode_flow_jpeg(pixels: torch.Tensor, jpeg_bound: float, decoding: str) -> torch.Tensor:
    """JPEG-coded flow (uint8, 0-255) -> flow in pixels (see the module docstring for the two decodings)."""
    pixels = pixels.float()
    unit = (pixels - 128) / 128 if decoding == "mmaction" else pixels * (2 / 255) - 1
    return unit * jpeg_bound


def flow_jpeg_count(folder: Path) -> int:
    """The number of flow frames in a denseflow folder; clear errors for a missing folder, no JPEGs, unequal x/y
    counts or gaps in the numbering."""
    if not folder.is_dir():
        raise UserInputError(f"no such flow folder: {folder}")
    numbers = {"x": set(), "y": set()}
    for path in folder.iterdir():
        match = _FLOW_JPEG_PATTERN.fullmatch(path.name)
        if match:
            numbers[match.group(1)].add(int(match.group(2)))
    x_count, y_count = len(numbers["x"]), len(numbers["y"])
    if not x_count and not y_count:
        raise UserInputError(f"{folder} holds no flow JPEGs (expected flow_x_00001.jpg, flow_y_00001.jpg, ...)")
    if x_count != y_count:
        raise UserInputError(f"{folder} holds {x_count} flow_x JPEGs but {y_count} flow_y JPEGs; they must pair up")
    for axis, found in numbers.items():
        if found != set(range(1, x_count + 1)):
            missing = sorted(set(range(1, x_count + 1)) - found)[:3]
            raise UserInputError(
                f"{folder}: flow_{axis} JPEGs must be numbered 1..{x_count} without gaps; missing "
                f"{', '.join(FLOW_JPEG_NAME.format(axis=axis, number=number) for number in missing)}"
            )
    return x_count


def read_flow_jpegs(folder: Path, indices: np.ndarray) -> torch.Tensor:
    """uint8 ``(len(indices), 2, H, W)``: the x and y JPEGs of the given (0-based) flow frames."""
    frames = []
    for index in indices.tolist():
        pair = []
        for axis in ("x", "y"):
            with PIL.Image.open(folder / FLOW_JPEG_NAME.format(axis=axis, number=index + 1)) as image:
                pair.append(np.asarray(image.convert("L")))
        frames.append(np.stack(pair))
    return torch.from_numpy(np.stack(frames))


def _flow_channel_layout(array) -> str | None:
    """"first" / "last" for ``(F, 2, H, W)`` / ``(F, H, W, 2)`` flow, None when it is not flow (3 channels)."""
    if array.ndim != 4:
        return None
    if array.shape[1] == 2 and array.shape[-1] != 3:
        return "first"
    if array.shape[-1] == 2 and array.shape[1] != 3:
        return "last"
    return None


class FlowVideoProcessor(VideoClipProcessor):
    """Optical-flow input of a flow stream (see the module docstring): ``flow_values`` clipped to ``+-bound`` and
    scaled to [-1, 1], stacked (``mode="stacked"``, ``(batch, segments, 2L, H, W)``) or as a clip
    (``mode="clip"``, ``(batch, frames, 2, H, W)``), with a leading views axis after the batch when there are
    several views, as for RGB.

    Defaults: TSN's flow stream with Simonyan's L = 10: 8 segments (``sampling="tsn"``), short side 256, 224 crop.
    For I3D's flow stream: ``mode="clip", num_frames=64, sampling="clip", short_video="loop"``.

    ``image_mean``, ``image_std``, ``do_rescale`` and ``do_normalize`` are not used: ``bound`` is the scaling.
    """

    valid_kwargs = FlowVideoKwargs
    model_input_names = ["flow_values"]

    mode = "stacked"
    flow_length = 10
    num_frames = 8
    sampling = "tsn"
    num_channels = 2
    bound = 20.0
    flow_model = None
    num_iterations = 12
    flow_cache_dir = None
    jpeg_bound = 20.0
    jpeg_decoding = "mmaction"
    rescale_flow_on_resize = False
    do_rescale = False
    do_normalize = False
    image_mean = [0.0, 0.0]
    image_std = [1.0, 1.0]

    def __init__(self, **kwargs: Unpack[FlowVideoKwargs]) -> None:
        super().__init__(**kwargs)
        self._loaded_flow_models = {}

    # ------------------------------------------------------------------------------------------- options

    def _check_options(self, options: dict[str, Any]) -> None:
        # The base refuses flips for 2-channel input; here a flip negates x, so it is allowed.
        VideoClipProcessor._check_options({**options, "do_flip": False})
        if options["mode"] not in FLOW_MODES:
            raise ValueError(f"mode must be one of {FLOW_MODES}, got {options['mode']!r}")
        if options["jpeg_decoding"] not in JPEG_DECODINGS:
            raise ValueError(f"jpeg_decoding must be one of {JPEG_DECODINGS}, got {options['jpeg_decoding']!r}")
        for name in ("flow_length", "num_iterations"):
            value = options[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("bound", "jpeg_bound"):
            if isinstance(options[name], bool) or not options[name] > 0:
                raise ValueError(f"{name} must be a positive number of pixels, got {options[name]!r}")
        if options["num_channels"] != 2:
            raise ValueError(
                f"flow has 2 channels (x, y), got num_channels={options['num_channels']}; a stacked-flow network "
                "with 2L input channels takes mode='stacked' with flow_length=L"
            )
        if options["target_fps"] is not None:
            raise ValueError("target_fps is not supported for flow: flow frames are pairs of consecutive source frames")

    def to_dict(self) -> dict[str, Any]:
        held = {name: self.__dict__.pop(name) for name in ("flow_model", *_NOT_SAVED) if name in self.__dict__}
        try:
            output = super().to_dict()
        finally:
            self.__dict__.update(held)
        model = held.get("flow_model")
        # A model instance is saved as the folder / Hub id it came from, when it has one.
        if model is not None and not isinstance(model, str):
            model = getattr(model, "name_or_path", None) or None
        output["flow_model"] = model
        return output

    def matched_to_config(self, config, **overrides: Unpack[FlowVideoKwargs]) -> FlowVideoProcessor:
        """Frames and crop from ``config`` as for RGB; the channels decide the layout: a ``num_channels = 2L``
        network takes stacks of L pairs (``mode="stacked"``), a 2-channel one flow clips (``mode="clip"``)."""
        channels = config.num_channels
        mode = overrides.get("mode") or self.mode
        if mode == "stacked":
            if channels % 2:
                raise UserInputError(f"a stacked-flow network takes 2L channels; this one takes {channels}")
            if overrides.get("flow_length") not in (None, channels // 2):
                raise UserInputError(
                    f"flow_length={overrides['flow_length']} gives {2 * overrides['flow_length']} channels, but the "
                    f"model takes {channels}"
                )
            overrides["flow_length"] = channels // 2
        elif channels != 2:
            raise UserInputError(f"mode='clip' gives 2 flow channels per frame, but the model takes {channels}")
        flow_view = SimpleNamespace(num_frames=config.num_frames, image_size=config.image_size, num_channels=2)
        processor = super().matched_to_config(flow_view, **overrides)
        for name in ("flow_model", "flow_cache_dir"):  # not saved settings, so not in to_dict: carried over here
            if overrides.get(name) is None:
                setattr(processor, name, getattr(self, name))
        return processor

    # ---------------------------------------------------------------------------------------- preprocess

    def preprocess(self, videos, **kwargs: Unpack[FlowVideoKwargs]) -> BatchFeature:
        """Turn one video or a batch into ``flow_values`` (see the class and module docstrings).

        ``videos``: video files, RGB frame arrays / PIL frames (flow computed with ``flow_model``), or
        precomputed flow (arrays, ``.npy`` files, x/y JPEG folders); any option of :class:`FlowVideoKwargs` or
        :meth:`VideoClipProcessor.preprocess` applies to this call only.
        """
        data = dict(super().preprocess(videos, **kwargs))
        data["flow_values"] = data.pop("pixel_values")
        return BatchFeature(data=data)

    __call__ = preprocess

    def _flow_model(self, options: dict):
        model = options["flow_model"]
        if model is None:
            raise UserInputError(
                "computing optical flow needs flow_model= (a RaftModel or its folder); or pass precomputed flow "
                "(arrays, .npy files or flow_x/flow_y JPEG folders)"
            )
        if isinstance(model, (str, os.PathLike)):
            if model not in self._loaded_flow_models:
                from transformers import AutoModel

                self._loaded_flow_models[model] = AutoModel.from_pretrained(model).eval()
            model = self._loaded_flow_models[model]
        if not callable(getattr(model, "clip_flow", None)):
            raise UserInputError(f"flow_model must have RAFT's clip_flow method; got a {type(model).__name__}")
        return model

    def _flow_views(self, flow_count: int, options: dict, generator) -> list[np.ndarray]:
        """Per temporal view, the flow frames it takes (for stacks: every stack's L frames, stack after stack)."""
        if flow_count < 1:
            raise UserInputError("optical flow needs a video of at least 2 frames; this one has 1")
        if options["mode"] == "clip":
            return self._sample_views(VideoMetadata(total_num_frames=flow_count), options, generator)
        length = options["flow_length"]
        if not options["do_sample_frames"]:
            if flow_count % length:
                raise UserInputError(
                    f"with do_sample_frames=False the {flow_count} flow frames given must split into stacks of "
                    f"flow_length={length}"
                )
            return [np.arange(flow_count)]
        starts = flow_count - length + 1
        if starts < 1:
            raise UserInputError(
                f"a stack of flow_length={length} frame pairs needs a video of at least {length + 1} frames "
                f"({length} flow frames); this one has {flow_count + 1} frames ({flow_count} flow frames). Lower "
                "flow_length or use mode='clip'"
            )
        views = self._sample_views(VideoMetadata(total_num_frames=starts), options, generator)
        return [(view[:, None] + np.arange(length)).reshape(-1) for view in views]

    def _load_views(self, video, metadata: VideoMetadata | None, options: dict, generator):
        """The flow frames one video's views need: ``(flow (N, 2, H, W) float32 pixels, views, metadata)``, where
        each view holds positions in ``flow`` and ``metadata.frames_indices`` the flow frames of every view."""
        views: list[np.ndarray] = []

        def choose(flow_count: int) -> np.ndarray:
            views[:] = self._flow_views(flow_count, options, generator)
            return np.unique(np.concatenate(views))

        precomputed = self._precomputed_flow(video, options)
        if precomputed is not None:
            count, read = precomputed
            wanted = choose(count)
            flow = read(wanted)
        else:
            wanted, flow = self._computed_flow(video, options, choose)
        if metadata is None:
            metadata = VideoMetadata(total_num_frames=0)
        metadata.frames_indices = np.concatenate(views).tolist()
        return flow, [np.searchsorted(wanted, view) for view in views], metadata

    def _precomputed_flow(self, video, options: dict):
        """``(flow frame count, read(indices) -> float flow)`` for precomputed flow, None for RGB to compute from."""

        def from_array(array):
            layout = _flow_channel_layout(array)
            if layout is None:
                return None

            def read(indices: np.ndarray) -> torch.Tensor:
                flow = torch.as_tensor(np.asarray(array[indices]) if isinstance(array, np.ndarray) else array[indices])
                flow = flow.permute(0, 3, 1, 2) if layout == "last" else flow
                if flow.dtype == torch.uint8:
                    return decode_flow_jpeg(flow, options["jpeg_bound"], options["jpeg_decoding"])
                if not flow.is_floating_point():
                    raise TypeError(f"flow arrays must be float (pixels) or uint8 (JPEG-coded), got {flow.dtype}")
                return flow.float()

            return array.shape[0], read

        if isinstance(video, (np.ndarray, torch.Tensor)):
            return from_array(video)
        if not isinstance(video, (str, os.PathLike)):
            return None
        path = Path(video).expanduser()
        if path.suffix.lower() == ".npy":
            array = np.load(path, mmap_mode="r")
            found = from_array(array)
            if found is None:
                raise UserInputError(
                    f"{path} holds an array of shape {array.shape}, not flow (F, 2, H, W) or (F, H, W, 2)"
                )
            return found
        if path.is_dir() or (not path.exists() and not path.suffix and "://" not in str(video)):
            folder = path
            count = flow_jpeg_count(folder)
            jpeg_options = (options["jpeg_bound"], options["jpeg_decoding"])
            return count, lambda indices: decode_flow_jpeg(read_flow_jpegs(folder, indices), *jpeg_options)
        return None

    def _computed_flow(self, video, options: dict, choose) -> tuple[np.ndarray, torch.Tensor]:
        """RAFT flow of the pairs ``choose`` asks for, from a video source or RGB frames."""
        model = self._flow_model(options)
        iterations = options["num_iterations"]

        def sized(frames: torch.Tensor) -> torch.Tensor:
            frames = frames.float()
            if not options["do_resize"]:
                return frames
            return resize_as_options_say(frames, fixed_or_short_side(options["size"]), options)

        cache_dir = options["flow_cache_dir"] or os.environ.get(FLOW_CACHE_ENV_VAR) or None
        if is_video_source(video) and cache_dir is not None:
            resize_key = {
                name: options[name] for name in ("size", "do_resize", "resample", "antialias", "short_side_resize")
            }
            flow = video_flow(
                video, model, num_iterations=iterations, resize=sized, resize_key=resize_key, cache_dir=cache_dir
            )
            wanted = choose(flow.shape[0])
            return wanted, flow[torch.from_numpy(wanted)]

        if is_video_source(video):
            chosen = {}

            def frames_for_pairs(info: VideoMetadata) -> np.ndarray:
                chosen["flow"] = choose(info.total_num_frames - 1)
                return np.union1d(chosen["flow"], chosen["flow"] + 1)

            frames, info = read_video(video, indices=frames_for_pairs)
            frames = torch.from_numpy(frames).permute(0, 3, 1, 2)
            decoded = np.asarray(info.frames_indices)
            wanted = chosen["flow"]
        else:
            frames = frames_to_tensor(video, 3, options["input_data_format"])
            if frames.is_floating_point():
                frames = frames * 255  # RGB floats are 0-1 (torchvision's convention); RAFT's input is from 0-255
            wanted = choose(frames.shape[0] - 1)
            decoded = np.union1d(wanted, wanted + 1)
            frames = frames[torch.from_numpy(decoded)]
        # Pairs (t, t + 1) are adjacent in the decoded frames, since both are decoded and nothing lies between.
        starts = np.searchsorted(decoded, wanted)
        frames = sized(frames.to(model_device(model)))
        return wanted, frame_pair_flow(frames, model, starts, num_iterations=iterations).cpu()

    # ------------------------------------------------------------------------------------------- spatial

    def _resize_flow(self, flow: torch.Tensor, size, options: dict) -> torch.Tensor:
        """Resize to ``(height, width)`` or a short side ``int``; with ``rescale_flow_on_resize`` the vectors
        are scaled by the resize factors."""
        before = flow.shape[-2:]
        resized = resize_as_options_say(flow, size, options)
        if options["rescale_flow_on_resize"] and resized.shape[-2:] != before:
            factors = torch.tensor([resized.shape[-1] / before[-1], resized.shape[-2] / before[-2]])
            resized = resized * factors.to(resized).view(2, 1, 1)
        return resized

    def _spatial_views(self, flow: torch.Tensor, views: list[np.ndarray], options: dict, generator):
        """``(views, T, 2, h, w)`` (clip) or ``(views, segments, 2L, h, w)`` (stacked) network input."""
        if options["device"] is not None:
            flow = flow.to(options["device"])
        flow = flow.float()
        crop_height, crop_width = options["crop_size"].height, options["crop_size"].width
        if options["training"]:
            clip = flow[torch.from_numpy(views[0])]
            scale_range, ratio_range = options["random_resized_crop_scale"], options["random_resized_crop_ratio"]
            top, left, height, width = random_resized_crop_box(*clip.shape[-2:], scale_range, ratio_range, generator)
            clip = clip[..., top : top + height, left : left + width]
            clip = self._resize_flow(clip, (crop_height, crop_width), options)
            if options["do_flip"] and float(torch.rand((), generator=generator)) < 0.5:
                clip = clip.flip(-1) * torch.tensor([-1.0, 1.0], device=clip.device).view(2, 1, 1)
            out = clip[None]
        else:
            if options["do_resize"]:
                flow = self._resize_flow(flow, fixed_or_short_side(options["size"]), options)
            boxes, crop_height, crop_width = evaluation_crops(*flow.shape[-2:], options)
            out = torch.stack(
                [
                    flow[torch.from_numpy(view), :, top : top + crop_height, left : left + crop_width]
                    for view in views
                    for top, left in boxes
                ]
            )
        out = scale_flow(out, options["bound"])
        return stack_flow_pairs(out, options["flow_length"]) if options["mode"] == "stacked" else out


def register_flow_video_processor() -> None:
    """Let ``AutoVideoProcessor.from_pretrained`` load a saved ``FlowVideoProcessor`` by its class name (a flow
    stream's folder has the RGB architecture's config, whose own processor would otherwise be picked)."""
    from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING

    # Keyed by a name, not a config class: the flow processor belongs to no single architecture.
    VIDEO_PROCESSOR_MAPPING.register("hfvm_flow_input", {"torchvision": FlowVideoProcessor}, exist_ok=True)


__all__ = [
    "FLOW_MODES",
    "FlowVideoKwargs",
    "FlowVideoProcessor",
    "decode_flow_jpeg",
    "register_flow_video_processor",
    "scale_flow",
    "stack_flow_pairs",
]
