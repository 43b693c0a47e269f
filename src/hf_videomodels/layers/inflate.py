"""Inflating 2D (image) weights into 3D (video) ones: the "bootstrapping" of I3D (Carreira & Zisserman, 2017).

A 2D filter repeated T times along time and divided by T gives, on a "boring" video (one image repeated),
exactly the 2D network's response: so an ImageNet network becomes a sensible starting point for a video
one. The "center" variant puts the 2D filter at the middle time slice (zeros elsewhere), so each output
frame at first only sees its own input frame.

BatchNorm statistics and affine parameters, biases and linear layers are per channel and carry over as
they are.

The same module holds the other re-use of RGB weights for a new input: TSN's **cross-modality initialisation**
(Wang et al., "Temporal Segment Networks", ECCV 2016, sec. 3.3), which starts a flow network from an RGB one by
averaging the first convolution's weights over the RGB channels and repeating that average for every flow
channel (2L for L stacked frame pairs, 2 for I3D's flow clips). Every later layer is kept as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from transformers import PreTrainedConfig

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


def cross_modality_conv_weight(rgb_weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """TSN's cross-modality initialisation of a first conv: ``(out, 3, *kernel)`` -> ``(out, in_channels, *kernel)``,
    every input channel the mean of the RGB filters (2D kernels ``(kh, kw)`` or 3D ``(kt, kh, kw)``).

    The filters are not rescaled (as in TSN): a flow stack with every channel equal to ``g * 3 / in_channels``
    gives the first layer's response to the grey image ``g`` in all three RGB channels.
    """
    if rgb_weight.ndim not in (4, 5):
        raise ValueError(
            "expected a 2D (out, in, kh, kw) or 3D (out, in, kt, kh, kw) conv weight, got shape "
            f"{tuple(rgb_weight.shape)}"
        )
    if in_channels < 1:
        raise ValueError(f"in_channels must be positive, got {in_channels}")
    mean = rgb_weight.mean(dim=1, keepdim=True)
    return mean.expand(-1, in_channels, *rgb_weight.shape[2:]).contiguous()


def input_convolutions(model: nn.Module, num_channels: int) -> list[tuple[str, nn.Module]]:
    """``(name, conv)`` of the 2D/3D convolutions that read the model's input: those taking ``num_channels``
    channels. In the package's networks only the input convs do (SlowFast has two, one per pathway)."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Conv3d)) and module.in_channels == num_channels and module.groups == 1
    ]


def adapt_input_channels(model: nn.Module, in_channels: int) -> list[str]:
    """Turn an RGB model into one taking ``in_channels`` channels (a flow stream) with the cross-modality
    initialisation of its input convolution(s), and set ``model.config.num_channels`` so ``save_pretrained`` /
    ``from_pretrained`` rebuild it with that input. The model is changed in place; returns the convs' names.

    Example: a TSN ResNet-50 for stacks of L = 10 flow pairs, ``adapt_input_channels(model, 20)``; an I3D for flow
    clips, ``adapt_input_channels(model, 2)``.
    """
    config = model.config
    current = config.num_channels
    if current != 3:
        raise ValueError(
            f"the cross-modality initialisation starts from an RGB model (num_channels=3); this one takes {current}"
        )
    convs = input_convolutions(model, current)
    if not convs:
        raise ValueError(f"{type(model).__name__} has no convolution taking its {current} input channels")
    for _, conv in convs:
        weight = cross_modality_conv_weight(conv.weight.detach(), in_channels)
        conv.weight = nn.Parameter(weight, requires_grad=conv.weight.requires_grad)
        conv.in_channels = in_channels
    set_num_channels(config, in_channels)
    return [name for name, _ in convs]


def set_num_channels(config: PreTrainedConfig, num_channels: int) -> None:
    """``config.num_channels = num_channels``, or, where it is read from a sub-model's config (LRCN's CNN), on
    that one sub-config."""
    try:
        config.num_channels = num_channels
        return
    except AttributeError:  # a property without a setter
        pass
    nested = [
        value
        for value in vars(config).values()
        if isinstance(value, PreTrainedConfig) and hasattr(value, "num_channels")
    ]
    if len(nested) != 1:
        raise ValueError(
            f"cannot set num_channels on a {type(config).__name__}: it is derived, and not from one sub-config"
        )
    set_num_channels(nested[0], num_channels)
