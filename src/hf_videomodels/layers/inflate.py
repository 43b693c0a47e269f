"""Inflating 2D (image) weights into 3D (video) ones: the "bootstrapping" of I3D (Carreira & Zisserman, 2017).

A 2D filter repeated T times along time and divided by T gives, on a "boring" video (one image repeated),
exactly the 2D network's response: so an ImageNet network becomes a sensible starting point for a video
one. The "center" variant puts the 2D filter at the middle time slice (zeros elsewhere), so each output
frame at first only sees its own input frame.

BatchNorm statistics and affine parameters, biases and linear layers are per channel and carry over as
they are.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

INFLATION_MODES = ("mean", "center")


def inflate_conv_weight(weight: torch.Tensor, time_size: int, mode: str = "mean") -> torch.Tensor:
    """(out, in, kh, kw) -> (out, in, time_size, kh, kw).

    ``mode="mean"``: the filter repeated ``time_size`` times and divided by ``time_size``.
    ``mode="center"``: the filter at time index ``time_size // 2``, zeros elsewhere.
    """
    if weight.ndim != 4:
        raise ValueError(f"expected a 4-D conv weight (out, in, kh, kw), got shape {tuple(weight.shape)}")
    if time_size < 1:
        raise ValueError(f"time_size must be >= 1, got {time_size}")
    if mode == "mean":
        return weight.unsqueeze(2).repeat(1, 1, time_size, 1, 1) / time_size
    if mode == "center":
        inflated = weight.new_zeros(weight.shape[0], weight.shape[1], time_size, *weight.shape[2:])
        inflated[:, :, time_size // 2] = weight
        return inflated
    raise ValueError(f"unknown inflation mode {mode!r}; expected one of {INFLATION_MODES}")


def temporal_kernel_sizes_like(
    state_dict_2d: Mapping[str, torch.Tensor], target_state_dict: Mapping[str, torch.Tensor]
) -> dict[str, int]:
    """The temporal kernel size of each 4-D tensor of ``state_dict_2d``, read from the 3D model's tensor of
    the same name (whose other dimensions must match)."""
    sizes = {}
    for key, tensor in state_dict_2d.items():
        if tensor.ndim != 4:
            continue
        if key not in target_state_dict:
            raise ValueError(f"the 3D model has no tensor {key!r} to inflate into")
        target_shape = tuple(target_state_dict[key].shape)
        if len(target_shape) != 5 or target_shape[:2] + target_shape[3:] != tuple(tensor.shape):
            raise ValueError(f"{key}: 2D shape {tuple(tensor.shape)} does not inflate to 3D shape {target_shape}")
        sizes[key] = target_shape[2]
    return sizes


def inflate_state_dict(
    state_dict_2d: Mapping[str, torch.Tensor], temporal_kernel_sizes: Mapping[str, int], mode: str = "mean"
) -> dict[str, torch.Tensor]:
    """Inflate every 2D conv weight of a state dict; everything else (BatchNorm, biases, linear layers,
    counters) is passed through unchanged.

    ``temporal_kernel_sizes`` maps each 4-D conv weight's key to its temporal kernel size; it must name
    every 4-D tensor and nothing else, so a conv cannot silently stay 2D.
    """
    conv_keys = {key for key, tensor in state_dict_2d.items() if tensor.ndim == 4}
    unknown = set(temporal_kernel_sizes) - conv_keys
    if unknown:
        raise ValueError(f"temporal kernel sizes given for tensors that are not 4-D conv weights: {sorted(unknown)}")
    missing = conv_keys - set(temporal_kernel_sizes)
    if missing:
        raise ValueError(f"no temporal kernel size given for conv weights: {sorted(missing)}")
    return {
        key: inflate_conv_weight(tensor, temporal_kernel_sizes[key], mode) if key in conv_keys else tensor
        for key, tensor in state_dict_2d.items()
    }
