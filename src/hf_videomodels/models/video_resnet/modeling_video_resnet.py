"""Video ResNets: R3D, MC3 and R(2+1)D (Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action
Recognition", CVPR 2018), one network whose config chooses the convolution of the residual blocks.

Numerically the same network as torchvision's ``VideoResNet`` (``r3d_18``, ``mc3_18``, ``r2plus1d_18``) and, with
the Caffe2 settings in the config, as the R(2+1)D-34 of ig65m-pytorch. Module names are our own;
``conversion/convert_video_resnet_torchvision.py`` maps torchvision's.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers import Conv3dAs2d, ConvBNAct3d, folded_residual_forward
from ...modeling_utils import (
    VideoClassificationMixin,
    VideoPreTrainedModel,
    backbone_output,
    conv3d_backbone_input,
    set_init_role,
)
from .configuration_video_resnet import VideoResNetConfig


def factorized_midplanes(in_channels: int, out_channels: int) -> int:
    """Width between the spatial and the temporal half of a (2+1)D convolution that gives it about the parameters
    of the 3x3x3 convolution it replaces (Tran et al., sec. 3.5)."""
    return (in_channels * out_channels * 3 * 3 * 3) // (in_channels * 3 * 3 + 3 * out_channels)


def _unit_factory(config: VideoResNetConfig):
    """Conv3d + BatchNorm3d (+ in-place ReLU) with the config's BatchNorm settings; 1x3x3 / 3x1x1 convolutions run
    as 2D ones on channels_last_3d activations (``Conv3dAs2d``)."""
    return partial(ConvBNAct3d, eps=config.batch_norm_eps, momentum=config.batch_norm_momentum, conv_class=Conv3dAs2d)


def _relu() -> nn.Module:
    return nn.ReLU(inplace=True)


class VideoResNetConv2Plus1d(nn.Module):
    """A (2+1)D convolution unit: 1xkxk (stride 1 x s x s) -> BatchNorm -> ReLU -> 3x1x1 (stride t x 1 x 1) ->
    BatchNorm (-> activation). The second BatchNorm and the activation take the place of the 3D unit's."""

    def __init__(
        self,
        config: VideoResNetConfig,
        in_channels: int,
        out_channels: int,
        mid_channels: int,
        spatial_stride: int,
        temporal_stride: int,
        activation: nn.Module | None,
        spatial_kernel: int = 3,
    ):
        super().__init__()
        unit = _unit_factory(config)
        self.spatial = unit(
            in_channels,
            mid_channels,
            (1, spatial_kernel, spatial_kernel),
            stride=(1, spatial_stride, spatial_stride),
            padding=(0, spatial_kernel // 2, spatial_kernel // 2),
            activation=_relu(),
        )
        self.temporal = unit(
            mid_channels,
            out_channels,
            (3, 1, 1),
            stride=(temporal_stride, 1, 1),
            padding=(1, 0, 0),
            activation=activation,
        )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.spatial(hidden_states))


def spatiotemporal_unit(
    config: VideoResNetConfig,
    kind: str,
    in_channels: int,
    out_channels: int,
    mid_channels: int,
    stride: int,
    act: bool,
) -> nn.Module:
    """The block's 3x3x3 convolution + BatchNorm (+ ReLU) in the form ``kind`` ("3d", "2d" or "2plus1d")."""
    activation = _relu() if act else None
    if kind == "2plus1d":
        return VideoResNetConv2Plus1d(config, in_channels, out_channels, mid_channels, stride, stride, activation)
    unit = _unit_factory(config)
    if kind == "3d":
        return unit(in_channels, out_channels, 3, stride=stride, padding=1, activation=activation)
    # "2d": no temporal extent and no temporal stride (MC3's later stages).
    return unit(
        in_channels, out_channels, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), activation=activation
    )


class VideoResNetBasicBlock(GradientCheckpointingLayer):
    """Two 3x3x3-like convolution units with a residual connection (a 1x1x1 projection when the shape changes),
    then ReLU. In a (2+1)D block the intermediate widths follow ``config.midplanes_from``."""

    def __init__(self, config: VideoResNetConfig, kind: str, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        first_mid = factorized_midplanes(in_channels, out_channels)
        # torchvision sizes both convolutions from the block's input; Caffe2 (VMZ) each from its own input.
        if config.midplanes_from == "block_input":
            second_mid = first_mid
        else:
            second_mid = factorized_midplanes(out_channels, out_channels)
        self.conv1 = spatiotemporal_unit(config, kind, in_channels, out_channels, first_mid, stride, act=True)
        self.conv2 = spatiotemporal_unit(config, kind, out_channels, out_channels, second_mid, 1, act=False)
        last_norm = self.conv2.temporal.bn if kind == "2plus1d" else self.conv2.bn
        if config.zero_init_residual:
            set_init_role(last_norm, "zero")
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            shortcut_stride = (1, stride, stride) if kind == "2d" else stride
            self.shortcut = _unit_factory(config)(in_channels, out_channels, 1, stride=shortcut_stride, activation=None)
        self.act = _relu()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = hidden_states if self.shortcut is None else self.shortcut(hidden_states)
        out = self.conv1(hidden_states)
        # The unit that ends the block: after fuse_conv_bn() its conv, the sum and the ReLU are one oneDNN call.
        last = self.conv2
        if isinstance(last, VideoResNetConv2Plus1d):
            out, last = last.spatial(out), last.temporal
        fused = folded_residual_forward(last, out, residual)
        return self.act(last(out).add_(residual)) if fused is None else fused


def video_resnet_stem(config: VideoResNetConfig) -> nn.Module:
    """``"basic"``: 3x7x7 convolution, stride 1x2x2; ``"2plus1d"``: 1x7x7 (stride 1x2x2) -> BatchNorm -> ReLU ->
    3x1x1. Both end with BatchNorm and ReLU; neither pools."""
    if config.stem_type == "basic":
        return _unit_factory(config)(
            config.num_channels,
            config.stem_channels,
            (3, 7, 7),
            stride=(1, 2, 2),
            padding=(1, 3, 3),
            activation=_relu(),
        )
    channels = (config.num_channels, config.stem_channels, config.stem_mid_channels)
    return VideoResNetConv2Plus1d(
        config, *channels, spatial_stride=2, temporal_stride=1, activation=_relu(), spatial_kernel=7
    )


class VideoResNetStage(nn.Module):
    """``config.depths[index]`` residual blocks; the first one changes the width and, after stage 1, strides by 2."""

    def __init__(self, config: VideoResNetConfig, index: int, in_channels: int):
        super().__init__()
        kind = config.stage_convolution(index)
        out_channels = config.hidden_sizes[index]
        stride = 1 if index == 0 else 2
        first = VideoResNetBasicBlock(config, kind, in_channels, out_channels, stride)
        depth = config.depths[index]
        rest = [VideoResNetBasicBlock(config, kind, out_channels, out_channels, 1) for _ in range(depth - 1)]
        self.blocks = nn.ModuleList([first, *rest])

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            hidden_states = block(hidden_states)
        return hidden_states


class VideoResNetPreTrainedModel(VideoPreTrainedModel):
    config_class = VideoResNetConfig
    base_model_prefix = "video_resnet"
    _no_split_modules = ["VideoResNetBasicBlock"]


class VideoResNetModel(VideoResNetPreTrainedModel):
    """The video ResNet backbone, without the classifier.

    Input: ``pixel_values`` (batch, frames, channels, height, width), any clip length and frame size.

    Output (``BaseModelOutputWithPooling``):

    - ``last_hidden_state``: the last stage's map, (batch, hidden_sizes[-1], T', H', W'), with H' = ceil(H / 16)
      and W' = ceil(W / 16); T' = ceil(T / 8) for R3D and R(2+1)D, T for torchvision's MC3 (its strided stages are
      2D);
    - ``pooler_output``: its global average, (batch, hidden_sizes[-1]);
    - ``hidden_states`` (with ``output_hidden_states=True``): 5 maps, (batch, channels, time, height, width): the
      stem's, then each stage's. For R(2+1)D-18 on 16x112x112 (channels x time x H x W): stem 64x16x56x56,
      stage 1 64x16x56x56, stage 2 128x8x28x28, stage 3 256x4x14x14, stage 4 512x2x7x7.
    """

    def __init__(self, config: VideoResNetConfig):
        super().__init__(config)
        self.stem = video_resnet_stem(config)
        in_channels = config.stem_channels
        stages = []
        for index in range(len(config.depths)):
            stages.append(VideoResNetStage(config, index, in_channels))
            in_channels = config.hidden_sizes[index]
        self.stages = nn.ModuleList(stages)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling | tuple:
        r"""Run the backbone on a batch of clips.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips `(batch, frames, channels, height, width)` from the video processor, with
                `channels == config.num_channels`. NaN or infinite values are refused (except under
                `torch.compile`).
            output_hidden_states (`bool`, *optional*):
                Also return the 5 intermediate feature maps (see the class docstring). Defaults to
                `config.output_hidden_states`.
            output_attentions (`bool`, *optional*):
                Accepted for a uniform API and ignored: a CNN has no attention maps.
            return_dict (`bool`, *optional*):
                Return a `BaseModelOutputWithPooling` (the default, `config.return_dict`) or a tuple
                `(last_hidden_state, pooler_output[, hidden_states])`.

        Returns:
            `BaseModelOutputWithPooling` with `last_hidden_state` `(batch, hidden_sizes[-1], T', H', W')`,
            `pooler_output` `(batch, hidden_sizes[-1])` and `hidden_states`, shaped as in the class docstring.
        """
        first_conv = self.stem.spatial.conv if self.config.stem_type == "2plus1d" else self.stem.conv
        hidden, output_hidden_states, return_dict = conv3d_backbone_input(
            self, pixel_values, output_hidden_states, return_dict, first_conv=first_conv
        )
        hidden = self.stem(hidden)
        all_hidden_states = [hidden] if output_hidden_states else None
        for stage in self.stages:
            hidden = stage(hidden)
            if all_hidden_states is not None:
                all_hidden_states.append(hidden)
        return backbone_output(hidden, hidden.mean(dim=(2, 3, 4)), all_hidden_states, return_dict)


class VideoResNetForVideoClassification(VideoClassificationMixin, VideoResNetPreTrainedModel):
    """Video ResNet with torchvision's head: global average pool -> (dropout, none by default) -> linear."""

    def __init__(self, config: VideoResNetConfig):
        super().__init__(config)
        self.video_resnet = VideoResNetModel(config)
        self.dropout = nn.Dropout(config.dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()


__all__ = [
    "VideoResNetForVideoClassification",
    "VideoResNetModel",
    "VideoResNetPreTrainedModel",
    "factorized_midplanes",
]
