"""Video processor for RAFT: consecutive frame pairs, scaled to [-1, 1] and padded to a multiple of 8."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch.nn import functional as F
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import Unpack

from ...video_processing_utils import VideoClipKwargs, VideoClipProcessor

# The original InputPadder's two layouts: "sintel" centres the padding, "kitti" puts the vertical padding at the
# bottom (both centre it horizontally).
PADDING_MODES = ("sintel", "kitti")
MULTIPLE = 8


def raft_padding(height: int, width: int, mode: str = "sintel") -> tuple[int, int, int, int]:
    """``(left, right, top, bottom)`` padding that brings ``height x width`` to multiples of 8, laid out as the
    original ``InputPadder`` (the odd pixel goes right / bottom)."""
    if mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {mode!r}")
    pad_height, pad_width = -height % MULTIPLE, -width % MULTIPLE
    left = pad_width // 2
    top = pad_height // 2 if mode == "sintel" else 0
    return left, pad_width - left, top, pad_height - top


def pad_frames(frames: torch.Tensor, padding: Sequence[int]) -> torch.Tensor:
    """``(N, C, H, W)`` frames padded by ``(left, right, top, bottom)``, repeating the edge pixels (``InputPadder``)."""
    if not any(padding):
        return frames
    return F.pad(frames, tuple(int(p) for p in padding), mode="replicate")


def crop_padding(flow: torch.Tensor, padding: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """``(..., H, W)`` cut back to the size before :func:`pad_frames` (``InputPadder.unpad``)."""
    left, right, top, bottom = (int(p) for p in padding)
    height, width = flow.shape[-2:]
    return flow[..., top : height - bottom, left : width - right]


class RaftVideoKwargs(VideoClipKwargs, total=False):
    """``VideoClipKwargs`` plus padding_mode: "sintel" (centred) or "kitti" (vertical padding at the bottom)."""

    padding_mode: Literal["sintel", "kitti"] | None


class RaftVideoProcessor(VideoClipProcessor):
    """Frame pairs as princeton-vl/RAFT's ``demo.py`` / ``evaluate.py`` feed them:

    - frames at their own size (no resize, no crop), RGB scaled to [-1, 1] as ``2 * x / 255 - 1`` (rescale 1/255,
      then mean 0.5 and std 0.5);
    - ``num_frames`` consecutive frames per video (2 by default: one pair, from the middle of the video; set
      ``do_sample_frames=False`` to take every frame given), turned into the ``num_frames - 1`` pairs of
      consecutive frames;
    - padded to a multiple of 8 by repeating the edge pixels, as the original ``InputPadder``: centred
      (``padding_mode="sintel"``, also the original's default) or with the vertical padding at the bottom
      (``"kitti"``).

    Returns ``pixel_values`` ``(batch * (num_frames - 1), 2, 3, H', W')`` (the pairs of the first video first) and
    ``padding`` ``(left, right, top, bottom)``; :meth:`post_process_flow` (or passing ``padding`` to the model)
    crops the flow back to the frames' size.
    """

    valid_kwargs = RaftVideoKwargs
    model_input_names = ["pixel_values"]

    num_frames = 2
    frame_sample_rate = 1
    clip_alignment = "centre"
    do_resize = False
    do_center_crop = False
    image_mean = [0.5, 0.5, 0.5]
    image_std = [0.5, 0.5, 0.5]
    padding_mode = "sintel"

    def __init__(self, **kwargs: Unpack[RaftVideoKwargs]) -> None:
        super().__init__(**kwargs)

    @staticmethod
    def _check_options(options: dict) -> None:
        VideoClipProcessor._check_options(options)
        if options.get("padding_mode") not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {options.get('padding_mode')!r}")
        if options["num_frames"] < 2:
            raise ValueError(f"RAFT needs pairs of frames: num_frames must be at least 2, got {options['num_frames']}")
        if options["num_clips"] != 1 or options["num_crops"] != 1:
            raise ValueError("RAFT takes every frame whole: num_clips and num_crops must be 1")
        if options["training"]:
            raise ValueError(
                "RaftVideoProcessor has no training augmentation: a random crop or flip of the frames would need the "
                "same transform of the flow labels. Crop frames and flow together before the processor"
            )

    def matched_to_config(self, config, **overrides: Unpack[RaftVideoKwargs]) -> RaftVideoProcessor:
        """RAFT runs at the frames' own size, so nothing is derived from the config: a copy with ``overrides``."""
        settings = {key: value for key, value in self.to_dict().items() if key != "video_processor_type"}
        return type(self)(**{**settings, **overrides})

    def preprocess(self, videos, **kwargs: Unpack[RaftVideoKwargs]) -> BatchFeature:
        """Frame pairs of one video or a batch (see the class docstring); every option of
        :meth:`VideoClipProcessor.preprocess` applies, plus ``padding_mode``."""
        return_tensors = kwargs.pop("return_tensors", None)
        padding_mode = kwargs.get("padding_mode") or self.padding_mode
        features = super().preprocess(videos, **kwargs)
        frames = features["pixel_values"]  # (batch, frames, 3, H, W)
        if frames.shape[1] < 2:
            raise ValueError(f"a video gave {frames.shape[1]} frame; RAFT needs at least 2 for a pair")
        padding = raft_padding(*frames.shape[-2:], padding_mode)
        pairs = torch.stack([frames[:, :-1], frames[:, 1:]], dim=2).flatten(0, 1)
        pairs = pad_frames(pairs.flatten(0, 1), padding).unflatten(0, pairs.shape[:2])
        data = {"pixel_values": pairs, "padding": torch.tensor(padding)}
        if "video_metadata" in features:
            data["video_metadata"] = features["video_metadata"]
        return BatchFeature(data=data, tensor_type=return_tensors)

    __call__ = preprocess

    @staticmethod
    def post_process_flow(flow: torch.Tensor, padding: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Flow ``(..., 2, H', W')`` of padded pairs cut back to the frames' own size (``InputPadder.unpad``)."""
        return crop_padding(flow, padding)


__all__ = ["RaftVideoProcessor"]
