"""C3D: the 3D ConvNet of Tran et al., "Learning Spatiotemporal Features with 3D Convolutional Networks" (ICCV 2015).

Numerically the same network as the widely used PyTorch port DavideA/c3d-pytorch (whose ``c3d.pickle`` holds the
Sports-1M weights): eight 3x3x3 convs with bias and ReLU, no BatchNorm; max-pools that keep time in pool1 and
halve it afterwards; pool5 pads space by one pixel on each side (with -inf, PyTorch's max-pool padding); pool5 is
flattened in (channels, time, height, width) order, the order fc6 was trained on. The port's forward ends in a
softmax; ours returns the logits (fc8's output), as every classifier of the package does.
Module names are our own; ``conversion/convert_c3d_pickle.py`` maps the original ones.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers import Conv3dOneDNN, ConvBNAct3d, pair
from ...modeling_utils import (
    VideoClassificationMixin,
    VideoPreTrainedModel,
    backbone_output,
    conv3d_backbone_input,
    set_init_role,
)
from .configuration_c3d import CONV_NAMES, C3DConfig, pool5_size

PIXEL_RANGE = 255.0  # the input's scale: the processor gives raw 0-255 values, as the port's predict script did

# The pool after each conv that has one (conv3a, conv4a, conv5a feed their "b" conv directly).
POOL_AFTER = {"conv1": "pool1", "conv2": "pool2", "conv3b": "pool3", "conv4b": "pool4", "conv5b": "pool5"}


class C3DConv(ConvBNAct3d, GradientCheckpointingLayer):
    """One C3D unit: 3x3x3 conv (stride 1, padding 1, with bias) then ReLU; no BatchNorm. Each unit is a
    checkpointing layer (activation checkpointing recomputes it in the backward pass), and CPU fp32 inference
    goes through oneDNN even at batch 1 (``layers.Conv3dOneDNN``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 3, padding=1, bias=True, batch_norm=False, conv_class=Conv3dOneDNN)


class C3DPreTrainedModel(VideoPreTrainedModel):
    config_class = C3DConfig
    base_model_prefix = "c3d"
    _no_split_modules = ["C3DConv"]
    channels_last_3d = True  # 3D convs run in that layout (see VideoPreTrainedModel)

    def _init_weights(self, module: nn.Module) -> None:
        # C3D takes raw 0-255 pixels. conv1 starts as He init for [0, 1] input (std / 255), so that a fresh
        # model's activations and logits are of order one, not ~100 times larger (an initial loss near 20).
        if getattr(module, "takes_raw_pixels", False):
            init.normal_(module.weight, std=math.sqrt(2 / module.weight[0].numel()) / PIXEL_RANGE)
            init.zeros_(module.bias)
            return
        super()._init_weights(module)


class C3DModel(C3DPreTrainedModel):
    """The C3D network up to fc7, without the classifier (fc8).

    Input: ``pixel_values`` (batch, frames, channels, height, width) with **raw 0-255 RGB values** (no
    normalisation, as the port's predict script feeds them). fc6 takes a fixed number of values, so only clips
    whose pool5 map has the configured size are accepted: ``config.accepted_input_sizes`` frames and pixels,
    16-31 frames of 96-127 x 96-127 pixels for the default 16 x 112 x 112 (any other size is refused with the
    size it needs).

    Output (``BaseModelOutputWithPooling``):

    - ``last_hidden_state``: the pool5 map, (batch, 512, 1, 4, 4) for 16 x 112 x 112 (the tensor the original
      flattens into fc6);
    - ``pooler_output``: the fc7 features, (batch, ``config.fc_size``) = (batch, 4096), after fc7's ReLU and
      before its dropout: the "C3D fc7 features" used as a clip descriptor (fc6 -> ReLU -> dropout -> fc7 -> ReLU);
    - ``hidden_states`` (with ``output_hidden_states=True``): the eight conv outputs after ReLU, (batch,
      channels, time, height, width); for 16 x 112 x 112: conv1 64x16x112x112, conv2 128x16x56x56,
      conv3a / conv3b 256x8x28x28, conv4a / conv4b 512x4x14x14, conv5a / conv5b 512x2x7x7. The pools
      (pool1 (1, 2, 2); pool2-pool5 (2, 2, 2), pool5 padding space by 1) have no output of their own.
    """

    def __init__(self, config: C3DConfig):
        super().__init__(config)
        in_channels = config.num_channels
        self.layer_names: list[str] = []
        for name, channels in zip(CONV_NAMES, config.conv_channels):
            self.add_module(name, C3DConv(in_channels, channels))
            self.layer_names.append(name)
            in_channels = channels
            if name in POOL_AFTER:
                self.layer_names.append(POOL_AFTER[name])
        self.conv1.conv.takes_raw_pixels = True  # initialised for the 0-255 input (see _init_weights)
        self.pool1 = nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2))  # no temporal pooling yet
        self.pool2 = nn.MaxPool3d(2, stride=2)
        self.pool3 = nn.MaxPool3d(2, stride=2)
        self.pool4 = nn.MaxPool3d(2, stride=2)
        self.pool5 = nn.MaxPool3d(2, stride=2, padding=(0, 1, 1))
        # fc6 and fc7 feed a ReLU like the convs, so they get the same He initialisation.
        self.fc6 = set_init_role(nn.Linear(config.fc6_in_features, config.fc_size), "relu_conv")
        self.fc7 = set_init_role(nn.Linear(config.fc_size, config.fc_size), "relu_conv")
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(config.dropout_prob)
        self.post_init()

    def _check_input_size(self, pixel_values: torch.Tensor) -> None:
        frames, height, width = pixel_values.shape[1], pixel_values.shape[3], pixel_values.shape[4]
        wanted = self.config.pool5_size
        if pool5_size(frames, height, width) == wanted:
            return
        frame_range, height_range, width_range = self.config.accepted_input_sizes
        config_height, config_width = pair(self.config.image_size)
        raise ValueError(
            f"pixel_values with {frames} frames of {height}x{width} pixels do not fit C3D's fc6, which takes "
            f"{self.config.fc6_in_features} values: a {wanted[0]}x{wanted[1]}x{wanted[2]} pool5 map of "
            f"{self.config.conv_channels[-1]} channels. It needs {self.config.num_frames} frames of "
            f"{config_height}x{config_width} pixels (any clip of {frame_range.start}-{frame_range.stop - 1} frames "
            f"of {height_range.start}-{height_range.stop - 1} x {width_range.start}-{width_range.stop - 1} pixels "
            "gives that map). Set the video processor's num_frames / crop_size to it, or build the model with a "
            "config whose num_frames / image_size match your clips (fc6 then has another size)"
        )

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling | tuple:
        r"""Run C3D up to fc7 on a batch of clips.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips `(batch, frames, channels, height, width)` from the video processor: raw 0-255 RGB
                values, with a size in `config.accepted_input_sizes` (16 frames of 112x112 pixels by default).
                NaN or infinite values are refused (except under `torch.compile`).
            output_hidden_states (`bool`, *optional*):
                Also return the eight conv outputs (see the class docstring). Defaults to
                `config.output_hidden_states`.
            output_attentions (`bool`, *optional*):
                Accepted for a uniform API and ignored: a CNN has no attention maps.
            return_dict (`bool`, *optional*):
                Return a `BaseModelOutputWithPooling` (the default, `config.return_dict`) or a tuple
                `(last_hidden_state, pooler_output[, hidden_states])`.

        Returns:
            `BaseModelOutputWithPooling` with `last_hidden_state` (the pool5 map), `pooler_output` (the fc7
            features, `(batch, config.fc_size)`) and `hidden_states`, shaped as in the class docstring.
        """
        # A model moved to channels_last_3d gets its input in that layout too, so that conv1 and every pool after
        # it run channels-last (the CPU max-pool is several times faster so).
        hidden, output_hidden_states, return_dict = conv3d_backbone_input(
            self, pixel_values, output_hidden_states, return_dict, first_conv=self.conv1.conv
        )
        self._check_input_size(pixel_values)
        all_hidden_states = [] if output_hidden_states else None
        for name in self.layer_names:
            hidden = getattr(self, name)(hidden)
            if all_hidden_states is not None and not name.startswith("pool"):
                all_hidden_states.append(hidden)
        # fc6 was trained on the (channels, time, height, width) order of a contiguous pool5 map; flatten
        # follows the logical order, so a channels_last_3d map gives the same vector.
        features = self.dropout(self.relu(self.fc6(hidden.flatten(1))))
        features = self.relu(self.fc7(features))
        return backbone_output(hidden, features, all_hidden_states, return_dict)


class C3DForVideoClassification(VideoClassificationMixin, C3DPreTrainedModel):
    """C3D with its classifier: fc7 features -> dropout -> fc8, giving **logits**.

    The original port (DavideA/c3d-pytorch) ends its forward with a softmax and so returns class
    probabilities; this model returns fc8's logits instead (for the loss, and like every classifier of the
    package). ``logits.softmax(-1)`` gives the original's output.
    """

    def __init__(self, config: C3DConfig):
        super().__init__(config)
        self.c3d = C3DModel(config)
        self.dropout = nn.Dropout(config.dropout_prob)
        self.classifier = nn.Linear(config.fc_size, config.num_labels)
        self.post_init()


__all__ = ["C3DForVideoClassification", "C3DModel", "C3DPreTrainedModel"]
