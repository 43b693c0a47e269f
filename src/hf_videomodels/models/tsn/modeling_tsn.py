"""TSN: a 2D ResNet on every frame, the frame logits combined by a segmental consensus (Wang et al.,
"Temporal Segment Networks", ECCV 2016).

The ResNet is numerically the one of torchvision, timm (``resnet18`` ... ``resnet152``) and transformers'
``ResNetModel``: 7x7 stride-2 stem, 3x3 stride-2 max-pool, four stages of basic or bottleneck blocks (the
stride of a bottleneck in its 3x3 conv, "ResNet v1.5"), a 1x1 conv + BatchNorm shortcut where the shape changes,
global average pooling. Frames are folded into the batch (``layers.fold_frames``), so everything is 2D and
runs in ``channels_last``. Module names are our own; ``conversion/convert_tsn_resnet.py`` maps the originals.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers.consensus import FrameConsensus, fold_frames, unfold_frames
from ...layers.fuse import folded_residual_forward, folded_unit_forward
from ...modeling_utils import (
    PerFrameClassificationMixin,
    VideoPreTrainedModel,
    check_video_input,
    output_flags,
    set_init_role,
)
from .configuration_tsn import TSNConfig


class ConvBNAct2d(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> ReLU (optional): keys ``<unit>.conv.weight``, ``<unit>.bn.*``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, eps: float = 1e-5, relu=True
    ):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=eps)
        self.act = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = folded_unit_forward(self, x)  # after fuse_conv_bn(), on the CPU: one oneDNN call
        return self.act(self.bn(self.conv(x))) if out is None else out


class TSNResidualBlock(GradientCheckpointingLayer):
    """``relu(units(x) + shortcut(x))``. Basic: 3x3 (stride) -> 3x3. Bottleneck: 1x1 -> 3x3 (stride) -> 1x1 to
    ``4 * width`` channels. The shortcut is a 1x1 conv + BatchNorm when the stride or channels change."""

    def __init__(self, config: TSNConfig, in_channels: int, width: int, stride: int):
        super().__init__()
        eps = config.batch_norm_eps
        out_channels = width * config.block_expansion
        if config.block_type == "basic":
            units = [ConvBNAct2d(in_channels, width, 3, stride, eps), ConvBNAct2d(width, width, 3, 1, eps, relu=False)]
        else:
            units = [
                ConvBNAct2d(in_channels, width, 1, 1, eps),
                ConvBNAct2d(width, width, 3, stride, eps),
                ConvBNAct2d(width, out_channels, 1, 1, eps, relu=False),
            ]
        for index, unit in enumerate(units, start=1):
            self.add_module(f"conv{index}", unit)
        self.units = [f"conv{index}" for index in range(1, len(units) + 1)]
        if config.zero_init_residual:
            set_init_role(units[-1].bn, "zero")  # the block starts as the identity
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = ConvBNAct2d(in_channels, out_channels, 1, stride, eps, relu=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = hidden_states if self.shortcut is None else self.shortcut(hidden_states)
        *first, last = (getattr(self, name) for name in self.units)
        for unit in first:
            hidden_states = unit(hidden_states)
        fused = folded_residual_forward(last, hidden_states, residual)  # after fuse_conv_bn(): one oneDNN call
        return self.act(last(hidden_states) + residual) if fused is None else fused


class TSNStem(nn.Module):
    """7x7 stride-2 conv + BatchNorm + ReLU, then a 3x3 stride-2 max-pool: a quarter of the frame's size."""

    def __init__(self, config: TSNConfig):
        super().__init__()
        self.conv = nn.Conv2d(config.num_channels, config.stem_channels, 7, stride=2, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(config.stem_channels, eps=config.batch_norm_eps)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = folded_unit_forward(self, pixel_values)  # after fuse_conv_bn(), on the CPU: one oneDNN call
        return self.pool(self.act(self.bn(self.conv(pixel_values))) if out is None else out)


class TSNPreTrainedModel(VideoPreTrainedModel):
    config_class = TSNConfig
    base_model_prefix = "tsn"
    _no_split_modules = ["TSNResidualBlock"]


class TSNModel(TSNPreTrainedModel):
    """The per-frame ResNet, without the classifier: every frame of the clip is an image for the same 2D network.

    Input: ``pixel_values`` (batch, frames, channels, height, width), any number of frames and any size.

    Output (``BaseModelOutputWithPooling``), per frame:

    - ``last_hidden_state``: the last stage's feature map, (batch, frames, hidden_size, H', W') with
      H' = ceil(height / 32), W' = ceil(width / 32) (7x7 at 224);
    - ``pooler_output``: its global average, the per-frame features (batch, frames, hidden_size);
    - ``hidden_states`` (with ``output_hidden_states=True``): 5 maps, (batch, frames, channels, h, w): the stem
      (after its max-pool, 1/4 of the frame size) and the four stages (1/4, 1/8, 1/16, 1/32). For ResNet-50 at
      224x224 (channels x h x w): stem 64x56x56, stage 1 256x56x56, stage 2 512x28x28, stage 3 1024x14x14,
      stage 4 2048x7x7 (ResNet-18/34: 64, 128, 256, 512 channels). Every halving rounds up.

    With ``config.partial_batch_norm``, ``train()`` keeps every BatchNorm but the stem's in eval mode with
    frozen scale and shift (TSN's partial BN).
    """

    def __init__(self, config: TSNConfig):
        super().__init__(config)
        self.stem = TSNStem(config)
        stages = []
        in_channels = config.stem_channels
        for index, (blocks, width) in enumerate(zip(config.stage_blocks, config.stage_channels)):
            stride = 1 if index == 0 else 2
            stage = []
            for block_index in range(blocks):
                stage.append(TSNResidualBlock(config, in_channels, width, stride if block_index == 0 else 1))
                in_channels = width * config.block_expansion
            stages.append(nn.Sequential(*stage))
        self.stages = nn.ModuleList(stages)
        self.post_init()
        self._apply_partial_batch_norm()

    def frozen_batch_norms(self) -> list[nn.BatchNorm2d]:
        """The BatchNorms partial BN freezes: all but the first (the stem's)."""
        return [module for module in self.modules() if isinstance(module, nn.BatchNorm2d)][1:]

    def _apply_partial_batch_norm(self) -> None:
        if not self.config.partial_batch_norm:
            return
        for norm in self.frozen_batch_norms():
            norm.requires_grad_(False)
            if self.training:
                norm.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self._apply_partial_batch_norm()
        return self

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling | tuple:
        r"""Run the ResNet on every frame.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips `(batch, frames, channels, height, width)`, as the video processor returns them.
            output_hidden_states (`bool`, *optional*):
                Also return the stem's and each stage's output (see the class docstring). Defaults to
                `config.output_hidden_states`.
            return_dict (`bool`, *optional*):
                Return a `BaseModelOutputWithPooling` (default `config.return_dict`) or a plain tuple
                `(last_hidden_state, pooler_output[, hidden_states])`.

        Returns:
            `BaseModelOutputWithPooling` with `last_hidden_state` `(batch, frames, hidden_size, H', W')`,
            `pooler_output` `(batch, frames, hidden_size)` and `hidden_states`, shaped as in the class docstring.
        """
        output_hidden_states, _, return_dict = output_flags(self.config, output_hidden_states, False, return_dict)
        check_video_input(pixel_values, self.config.num_channels)
        num_frames = pixel_values.shape[1]

        hidden = self.stem(fold_frames(pixel_values))
        all_hidden_states = [hidden] if output_hidden_states else None
        for stage in self.stages:
            hidden = stage(hidden)
            if all_hidden_states is not None:
                all_hidden_states.append(hidden)
        pooled = hidden.mean(dim=(-2, -1))

        last_hidden_state = unfold_frames(hidden, num_frames)
        pooled = unfold_frames(pooled, num_frames)
        hidden_states = None
        if all_hidden_states is not None:
            hidden_states = tuple(unfold_frames(state, num_frames) for state in all_hidden_states)
        if not return_dict:
            return tuple(v for v in (last_hidden_state, pooled, hidden_states) if v is not None)
        return BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state, pooler_output=pooled, hidden_states=hidden_states
        )


class TSNForVideoClassification(PerFrameClassificationMixin, TSNPreTrainedModel):
    """TSN: per-frame ResNet features -> dropout -> linear classifier per frame -> consensus over the frames
    (``config.consensus``: TSN's average by default). ``frame_logits(pixel_values)`` gives the per-frame logits
    (batch, frames, num_labels) before the consensus: for a converted ImageNet model, what the 2D network
    predicts for each frame."""

    def __init__(self, config: TSNConfig):
        super().__init__(config)
        self.tsn = TSNModel(config)
        self.dropout = nn.Dropout(config.dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.consensus = FrameConsensus(config.consensus, num_frames=config.num_frames)
        self.post_init()


__all__ = ["TSNForVideoClassification", "TSNModel", "TSNPreTrainedModel"]
