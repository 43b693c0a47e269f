"""Per-frame models: one way to fold frames into the batch, and one consensus over frames.

A per-frame model (TSN's ResNet, ViT or Swin per frame, the CNN of CNN + LSTM, each stream of a two-stream
network) runs a 2D network on every frame. :func:`fold_frames` turns the video batch
``(batch, frames, channels, height, width)`` into the image batch ``(batch * frames, channels, height,
width)`` the 2D network takes (a view, no copy), and :func:`unfold_frames` gives each video its frames back.

:class:`FrameConsensus` combines per-frame vectors (usually logits, as TSN does) into one per video:

- ``"mean"``: TSN's default ("average" segmental consensus);
- ``"max"``: the per-class maximum over frames;
- ``"weighted"``: a learned weighted average (TSN's "weighted average" consensus): one weight per frame
  position, softmax-normalised, starting equal (so it starts as ``"mean"``). It needs a fixed number of frames.

An optional ``mask`` (batch, frames) marks the real frames of clips padded to a common length; padded frames
never change a clip's result.
"""

from __future__ import annotations

import torch
from torch import nn

CONSENSUS_MODES = ("mean", "max", "weighted")


def fold_frames(pixel_values: torch.Tensor) -> torch.Tensor:
    """(batch, frames, C, H, W) -> (batch * frames, C, H, W), frame-major within each video."""
    return pixel_values.flatten(0, 1)


def unfold_frames(per_frame: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(batch * frames, ...) -> (batch, frames, ...), the inverse of :func:`fold_frames`."""
    return per_frame.unflatten(0, (-1, num_frames))


def check_frame_mask(mask: torch.Tensor, batch_size: int, num_frames: int) -> torch.Tensor:
    """A boolean (batch, frames) mask with at least one real frame per clip, or a ValueError saying what is wrong."""
    if tuple(mask.shape) != (batch_size, num_frames):
        raise ValueError(f"the frame mask must be shaped (batch, frames) = ({batch_size}, {num_frames}), got {tuple(mask.shape)}")
    mask = mask.bool()
    if not torch.compiler.is_compiling() and not bool(mask.any(dim=1).all()):
        raise ValueError("every clip needs at least one real frame; a row of the frame mask is all False")
    return mask


class FrameConsensus(nn.Module):
    """(batch, frames, *features) -> (batch, *features) by ``mode`` (see the module docstring).

    Args:
        mode: "mean", "max" or "weighted".
        num_frames: the fixed frame count, needed (only) by "weighted".
    """

    def __init__(self, mode: str = "mean", num_frames: int | None = None):
        super().__init__()
        if mode not in CONSENSUS_MODES:
            raise ValueError(f"unknown consensus {mode!r}; expected one of {CONSENSUS_MODES}")
        self.mode = mode
        if mode == "weighted":
            if not num_frames or num_frames < 1:
                raise ValueError("the 'weighted' consensus learns one weight per frame: give num_frames")
            # Softmax of zeros: equal weights, so a new model starts as the average.
            self.frame_weight_logits = nn.Parameter(torch.zeros(num_frames))

    def forward(self, per_frame: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        batch_size, num_frames = per_frame.shape[:2]
        if mask is not None:
            mask = check_frame_mask(mask, batch_size, num_frames)
            mask = mask.view(batch_size, num_frames, *([1] * (per_frame.ndim - 2)))
        if self.mode == "max":
            if mask is not None:
                per_frame = per_frame.masked_fill(~mask, torch.finfo(per_frame.dtype).min)
            return per_frame.amax(dim=1)
        if self.mode == "mean":
            if mask is None:
                return per_frame.mean(dim=1)
            return (per_frame * mask).sum(dim=1) / mask.sum(dim=1).to(per_frame.dtype)
        if num_frames != self.frame_weight_logits.numel():
            raise ValueError(
                f"the weighted consensus was built for {self.frame_weight_logits.numel()} frames, got {num_frames}"
            )
        weight_logits = self.frame_weight_logits.to(per_frame.dtype).view(1, num_frames, *([1] * (per_frame.ndim - 2)))
        if mask is not None:  # padded frames get weight 0, the real ones share the whole
            weight_logits = weight_logits.masked_fill(~mask, float("-inf"))
        return (weight_logits.softmax(dim=1) * per_frame).sum(dim=1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
