"""RAFT: Recurrent All-Pairs Field Transforms for optical flow (Teed & Deng, ECCV 2020).

Numerically the network of princeton-vl/RAFT (and torchvision's ``raft_large`` / ``raft_small``): a feature
encoder applied to both frames and a context encoder applied to the first, both at 1/8 resolution; the
correlation of every pair of feature vectors, pooled into a 4-level pyramid; and a recurrent update that reads a
window of the pyramid around the current flow estimate (``grid_sample`` with ``align_corners=True`` and zero
padding), encodes it with the flow into motion features and updates a convolutional GRU whose hidden state
predicts a flow increment. The 1/8 flow is brought to full resolution by a learned convex combination of its
3x3 neighbours (large model) or bilinearly (small model).

Differences from the original code change nothing numerically beyond float rounding: the GRU's convs are split by
input channels, so that the context's share (constant over the iterations) is computed once per pair, and the
update and reset gates are one conv; the full-resolution flow (and the large model's mask head that it needs) is
only computed for the last iteration unless every iteration's flow is asked for or a loss is.
Module names are our own; ``conversion/convert_raft_original.py`` and ``convert_raft_torchvision.py`` map them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput

from ...modeling_utils import VideoPreTrainedModel, check_video_input, set_init_role
from .configuration_raft import DOWNSAMPLE_FACTOR, RaftConfig
from .video_processing_raft import PADDING_MODES, crop_padding, pad_frames, raft_padding


@dataclass
class OpticalFlowOutput(ModelOutput):
    """Output of :class:`RaftModel`.

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            The sequence loss, when `flow_labels` were given.
        flow (`torch.FloatTensor` of shape `(batch, 2, height, width)`):
            The flow from the first frame of each pair to the second after the last iteration, in pixels: channel 0
            is the horizontal (x) displacement, channel 1 the vertical (y) one.
        iteration_flows (`torch.FloatTensor` of shape `(batch, iterations, 2, height, width)`, *optional*):
            The full-resolution flow after every iteration (the last one equals `flow`), with
            `output_all_iterations=True`.
        low_resolution_flow (`torch.FloatTensor` of shape `(batch, 2, height / 8, width / 8)`):
            The last iteration's flow on the 1/8 grid, in units of that grid's cells (the original's `flow_low`,
            which warm-starts the next pair through `initial_flow`).
    """

    loss: torch.FloatTensor | None = None
    flow: torch.FloatTensor | None = None
    iteration_flows: torch.FloatTensor | None = None
    low_resolution_flow: torch.FloatTensor | None = None


# ------------------------------------------------------------------------------------------------ encoders


# ReLUs work in place on the fresh output of a conv or norm (which their backward does not need), as the
# original's nn.ReLU(inplace=True): one memory pass less per activation.


def _norm(kind: str, channels: int, eps: float) -> nn.Module:
    if kind == "instance":  # no affine parameters and no running statistics, as the original's InstanceNorm2d
        return nn.InstanceNorm2d(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels, eps=eps)
    return nn.Identity()


class RaftResidualBlock(GradientCheckpointingLayer):
    """Two 3x3 convs (the first strided), each followed by the norm and a ReLU; a strided block projects its
    input with a 1x1 conv and a norm. Unlike a ResNet block, the convs have biases and the sum goes through a
    ReLU."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, stride: int, eps: float):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.norm1 = _norm(norm, out_channels, eps)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(norm, out_channels, eps)
        self.downsample = _projection(in_channels, out_channels, norm, stride, eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = F.relu(self.norm1(self.conv1(hidden_states)), inplace=True)
        residual = F.relu(self.norm2(self.conv2(residual)), inplace=True)
        return F.relu(self.downsample(hidden_states) + residual, inplace=True)


class RaftBottleneckBlock(GradientCheckpointingLayer):
    """1x1 conv to a quarter of the channels, 3x3 conv (strided), 1x1 conv back, each with the norm and a ReLU;
    the shortcut as in :class:`RaftResidualBlock`."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, stride: int, eps: float):
        super().__init__()
        inner = out_channels // 4
        self.conv1 = nn.Conv2d(in_channels, inner, 1)
        self.norm1 = _norm(norm, inner, eps)
        self.conv2 = nn.Conv2d(inner, inner, 3, stride=stride, padding=1)
        self.norm2 = _norm(norm, inner, eps)
        self.conv3 = nn.Conv2d(inner, out_channels, 1)
        self.norm3 = _norm(norm, out_channels, eps)
        self.downsample = _projection(in_channels, out_channels, norm, stride, eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = F.relu(self.norm1(self.conv1(hidden_states)), inplace=True)
        residual = F.relu(self.norm2(self.conv2(residual)), inplace=True)
        residual = F.relu(self.norm3(self.conv3(residual)), inplace=True)
        return F.relu(self.downsample(hidden_states) + residual, inplace=True)


def _projection(in_channels: int, out_channels: int, norm: str, stride: int, eps: float) -> nn.Module:
    """The shortcut: identity for a stride-1 block (whose channels never change in RAFT), else 1x1 conv + norm."""
    if stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride), _norm(norm, out_channels, eps))


class RaftEncoder(nn.Module):
    """The feature or the context encoder: 7x7 stride-2 stem conv + norm + ReLU, three stages of two blocks
    (strides 1, 2, 2) and a 1x1 projection to ``output_size`` channels; 1/8 of the input's resolution."""

    def __init__(self, config: RaftConfig, output_size: int, norm: str):
        super().__init__()
        stem_channels, *stage_channels = config.encoder_channels
        block = RaftResidualBlock if config.encoder_block == "residual" else RaftBottleneckBlock
        eps = config.batch_norm_eps
        self.stem_conv = nn.Conv2d(config.num_channels, stem_channels, 7, stride=2, padding=3)
        self.stem_norm = _norm(norm, stem_channels, eps)
        stages, in_channels = [], stem_channels
        for channels, stride in zip(stage_channels, (1, 2, 2)):
            stages.append(
                nn.Sequential(block(in_channels, channels, norm, stride, eps), block(channels, channels, norm, 1, eps))
            )
            in_channels = channels
        self.stages = nn.ModuleList(stages)
        self.projection = nn.Conv2d(in_channels, output_size, 1)
        self.dropout = nn.Dropout2d(config.dropout) if config.dropout > 0 else nn.Identity()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        hidden_states = F.relu(self.stem_norm(self.stem_conv(images)), inplace=True)
        for stage in self.stages:
            hidden_states = stage(hidden_states)
        return self.dropout(self.projection(hidden_states))


# ---------------------------------------------------------------------------------------------- correlation


class CorrelationPyramid:
    """The all-pairs correlation of a batch of frame pairs, pooled into levels, and its windowed lookup."""

    def __init__(self, features1: torch.Tensor, features2: torch.Tensor, num_levels: int, radius: int):
        """``<f1(i), f2(j)> / sqrt(C)`` as one batched matmul, pooled over the second frame's positions: level ``l``
        is ``(batch * h * w, 1, h / 2^l, w / 2^l)`` (2x2 average pooling, floored sizes)."""
        batch, channels, height, width = features1.shape
        volume = torch.bmm(features1.flatten(2).transpose(1, 2), features2.flatten(2))
        # The original divides by torch.sqrt(torch.tensor(C).float()), a float32 scalar: the same value.
        level = (volume / torch.tensor(float(channels)).sqrt()).view(batch * height * width, 1, height, width)
        self.levels = [level]
        for _ in range(num_levels - 1):
            level = F.avg_pool2d(level, 2, stride=2)
            self.levels.append(level)
        # The window, then grid_sample's normalisation per level: a position p (x, y on the 1/8 grid) is read at
        # p / 2^l + offset on level l, i.e. at 2 * (p / 2^l + offset) / (size - 1) - 1 in [-1, 1] coordinates, as
        # the original's bilinear_sampler computes it; folded into one multiply-add per level and iteration.
        window = lookup_window(radius, features1.device)
        self.samplers = []
        for index, level in enumerate(self.levels):
            sizes = torch.tensor(level.shape[:-3:-1], dtype=torch.float32, device=features1.device)  # (w, h)
            to_unit = 2 / (sizes - 1)
            self.samplers.append((to_unit / 2**index, window * to_unit - 1))

    def lookup(self, coords: torch.Tensor) -> torch.Tensor:
        """Correlation features ``(batch, levels * (2r+1)^2, h, w)``: for every position the window around its
        current match ``coords`` (``(batch, 2, h, w)``, x and y on the 1/8 grid) on each level, read bilinearly
        with ``grid_sample(align_corners=True)`` and zero outside, as the original."""
        batch, _, height, width = coords.shape
        centres = coords.permute(0, 2, 3, 1).reshape(batch * height * width, 1, 1, 2)
        sampled = [
            F.grid_sample(level, torch.addcmul(offset, centres, scale), align_corners=True)
            for level, (scale, offset) in zip(self.levels, self.samplers)
        ]
        sampled = [samples.view(batch, height, width, -1) for samples in sampled]
        # (batch, h, w, C) viewed as (batch, C, h, w) is channels-last memory: no copy for channels-last convs.
        return torch.cat(sampled, dim=-1).permute(0, 3, 1, 2)


def lookup_window(radius: int, device: torch.device) -> torch.Tensor:
    """``(2r+1, 2r+1, 2)`` offsets added to ``(x, y)`` positions. The first (slow) index moves **x** and the second
    y: the original builds ``meshgrid(dy, dx)`` and adds it to ``(x, y)``, and the trained weights of the motion
    encoder's first conv follow that order."""
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    return torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1)


def pixel_grid(batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """``(batch, 2, height, width)`` float coordinates, channel 0 the column (x), channel 1 the row (y)."""
    rows, columns = torch.meshgrid(
        torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij"
    )
    return torch.stack([columns, rows]).float()[None].expand(batch, -1, -1, -1)


# --------------------------------------------------------------------------------------------- update block


class RaftMotionEncoder(nn.Module):
    """Encodes the correlation features and the current flow into motion features (the flow's two channels are
    appended to them)."""

    def __init__(self, config: RaftConfig):
        super().__init__()
        corr_sizes = [config.corr_channels, *config.motion_corr_channels]
        self.corr_convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, 1 if index == 0 else 3, padding=0 if index == 0 else 1)
            for index, (c_in, c_out) in enumerate(zip(corr_sizes, corr_sizes[1:]))
        )
        flow_sizes = [2, *config.motion_flow_channels]
        self.flow_convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, 7 if index == 0 else 3, padding=3 if index == 0 else 1)
            for index, (c_in, c_out) in enumerate(zip(flow_sizes, flow_sizes[1:]))
        )
        self.conv = nn.Conv2d(corr_sizes[-1] + flow_sizes[-1], config.motion_output_size - 2, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        for conv in self.corr_convs:
            corr = F.relu(conv(corr), inplace=True)
        flow_features = flow
        for conv in self.flow_convs:
            flow_features = F.relu(conv(flow_features), inplace=True)
        motion = F.relu(self.conv(torch.cat([corr, flow_features], dim=1)), inplace=True)
        return torch.cat([motion, flow], dim=1)


class RaftConvGRU(nn.Module):
    """One convolutional GRU step on the hidden state ``h`` and the input ``x = [context, motion]``:
    ``h <- (1 - z) h + z q`` with gates ``z, r = sigmoid(conv([h, x]))`` and candidate ``q = tanh(conv([r h, x]))``.

    Each conv over ``[h, x]`` is split by input channels: the context part of all three (``context_gates``, with
    the biases) is the same at every iteration and computed once per pair (:meth:`context_term`); ``gates``
    (update then reset) and ``candidate`` take ``[h, motion]`` / ``[r h, motion]``. Convolution is linear, so this
    is the original's conv up to float rounding, with a third fewer multiply-adds per iteration (large model).
    """

    def __init__(self, hidden_size: int, context_size: int, motion_size: int, kernel_size: tuple[int, int]):
        super().__init__()
        padding = (kernel_size[0] // 2, kernel_size[1] // 2)
        self.hidden_size = hidden_size
        self.context_gates = nn.Conv2d(context_size, 3 * hidden_size, kernel_size, padding=padding)
        self.gates = nn.Conv2d(hidden_size + motion_size, 2 * hidden_size, kernel_size, padding=padding, bias=False)
        self.candidate = nn.Conv2d(hidden_size + motion_size, hidden_size, kernel_size, padding=padding, bias=False)

    def context_term(self, context: torch.Tensor) -> torch.Tensor:
        """The context's (and the biases') share of the update, reset and candidate pre-activations."""
        return self.context_gates(context)

    def forward(self, hidden: torch.Tensor, motion: torch.Tensor, context_term: torch.Tensor) -> torch.Tensor:
        context_gates, context_candidate = context_term.split([2 * self.hidden_size, self.hidden_size], dim=1)
        # In place on the convs' fresh outputs (which their backward does not need).
        gates = self.gates(torch.cat([hidden, motion], dim=1)).add_(context_gates).sigmoid_()
        update, reset = gates.chunk(2, dim=1)
        candidate = self.candidate(torch.cat([reset * hidden, motion], dim=1)).add_(context_candidate).tanh_()
        return (1 - update) * hidden + update * candidate


class RaftFlowHead(nn.Module):
    """3x3 conv + ReLU + 3x3 conv: the flow increment (2 channels) from the GRU state."""

    def __init__(self, hidden_size: int, head_size: int):
        super().__init__()
        self.conv1 = nn.Conv2d(hidden_size, head_size, 3, padding=1)
        self.conv2 = nn.Conv2d(head_size, 2, 3, padding=1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(hidden), inplace=True))


class RaftUpdateBlock(GradientCheckpointingLayer):
    """One refinement iteration: motion features, GRU step(s) on ``[context, motion]``, flow increment."""

    def __init__(self, config: RaftConfig):
        super().__init__()
        self.motion_encoder = RaftMotionEncoder(config)
        kernels = [(1, 5), (5, 1)] if config.gru_type == "separable" else [(3, 3)]
        sizes = (config.hidden_size, config.context_size, config.motion_output_size)
        self.gru = nn.ModuleList(RaftConvGRU(*sizes, kernel) for kernel in kernels)
        self.flow_head = RaftFlowHead(config.hidden_size, config.flow_head_hidden_size)

    def context_terms(self, context: torch.Tensor) -> list[torch.Tensor]:
        """Per GRU step, the context's constant share of its convs (see :class:`RaftConvGRU`): once per pair."""
        return [step.context_term(context) for step in self.gru]

    def forward(
        self, hidden: torch.Tensor, corr: torch.Tensor, flow: torch.Tensor, *context_terms: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        motion = self.motion_encoder(flow, corr)
        for step, context_term in zip(self.gru, context_terms):
            hidden = step(hidden, motion, context_term)
        return hidden, self.flow_head(hidden)


class RaftMaskHead(nn.Module):
    """The convex-upsampling weights: for each of the 8x8 output pixels of a cell, 9 logits over its 3x3
    neighbourhood, scaled by ``mask_scale``."""

    def __init__(self, config: RaftConfig):
        super().__init__()
        self.conv1 = nn.Conv2d(config.hidden_size, config.mask_hidden_size, 3, padding=1)
        self.conv2 = nn.Conv2d(config.mask_hidden_size, 9 * DOWNSAMPLE_FACTOR**2, 1)
        self.scale = config.mask_scale

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.scale * self.conv2(F.relu(self.conv1(hidden), inplace=True))


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Full-resolution flow, each of the 8x8 pixels of a cell a softmax-weighted (convex) combination of the
    scaled flow of the cell's 3x3 neighbourhood (zero beyond the border). Mask channel ``k * 64 + a * 8 + b``
    weighs neighbour ``k`` for pixel ``(8 i + a, 8 j + b)``."""
    batch, _, height, width = flow.shape
    factor = DOWNSAMPLE_FACTOR
    weights = mask.reshape(batch, 1, 9, factor, factor, height, width).softmax(dim=2)
    neighbours = F.unfold(factor * flow, 3, padding=1).view(batch, 2, 9, 1, 1, height, width)
    upsampled = (weights * neighbours).sum(dim=2)  # (batch, 2, a, b, i, j)
    return upsampled.permute(0, 1, 4, 2, 5, 3).reshape(batch, 2, factor * height, factor * width)


def bilinear_upsample(flow: torch.Tensor) -> torch.Tensor:
    """The small model's ``upflow8``: 8 x the flow, resized 8x bilinearly with ``align_corners=True``."""
    size = (DOWNSAMPLE_FACTOR * flow.shape[-2], DOWNSAMPLE_FACTOR * flow.shape[-1])
    return DOWNSAMPLE_FACTOR * F.interpolate(flow, size=size, mode="bilinear", align_corners=True)


def sequence_loss(
    iteration_flows: Sequence[torch.Tensor],
    flow_labels: torch.Tensor,
    valid_mask: torch.Tensor | None = None,
    gamma: float = 0.8,
    max_flow: float = 400.0,
) -> torch.Tensor:
    """RAFT's training loss: ``sum_i gamma^(N-i-1) mean(valid * |flow_i - labels|)`` over the N iterations' flows,
    where a pixel is valid when ``valid_mask >= 0.5`` and its ground-truth flow is shorter than ``max_flow``. The
    mean runs over every pixel and both channels, invalid ones counting as zero (as the original)."""
    magnitude = flow_labels.square().sum(dim=1).sqrt()
    valid = magnitude < max_flow
    if valid_mask is not None:
        valid = valid & (valid_mask >= 0.5)
    valid = valid[:, None]
    count = len(iteration_flows)
    return sum(
        gamma ** (count - i - 1) * (valid * (flow - flow_labels).abs()).mean() for i, flow in enumerate(iteration_flows)
    )


# ------------------------------------------------------------------------------------------------- the model


class RaftPreTrainedModel(VideoPreTrainedModel):
    config_class = RaftConfig
    base_model_prefix = "raft"
    main_input_name = "pixel_values"
    _no_split_modules = ["RaftUpdateBlock"]


class RaftModel(RaftPreTrainedModel):
    """RAFT optical flow: frame pairs in, the flow from the first frame to the second out.

    Input: ``pixel_values`` ``(batch, 2, 3, height, width)``, RGB scaled to [-1, 1] (``2 * x / 255 - 1``, as
    :class:`RaftVideoProcessor` gives them), height and width multiples of 8 and at least
    ``config.min_input_size`` (128). :meth:`clip_flow` takes whole clips of any such size.
    """

    def __init__(self, config: RaftConfig):
        super().__init__(config)
        self.feature_encoder = RaftEncoder(config, config.feature_size, config.feature_norm)
        self.context_encoder = RaftEncoder(config, config.hidden_size + config.context_size, config.context_norm)
        self.update_block = RaftUpdateBlock(config)
        self.mask_head = RaftMaskHead(config) if config.upsampling == "convex" else None
        # The recurrent part keeps PyTorch's default conv init, as the original; the encoders get He init.
        for module in filter(None, (self.update_block, self.mask_head)):
            for conv in module.modules():
                if isinstance(conv, nn.Conv2d):
                    set_init_role(conv, "keep")
        self.post_init()

    def _check_pairs(self, pixel_values: torch.Tensor) -> None:
        check_video_input(pixel_values, self.config.num_channels)
        height, width = pixel_values.shape[-2:]
        if pixel_values.shape[1] != 2:
            raise ValueError(
                f"pixel_values must be frame pairs (batch, 2, {self.config.num_channels}, height, width), got "
                f"{tuple(pixel_values.shape)}; use RaftModel.clip_flow for the flow between the frames of clips"
            )
        if height % DOWNSAMPLE_FACTOR or width % DOWNSAMPLE_FACTOR:
            raise ValueError(
                f"pixel_values must have a height and width divisible by {DOWNSAMPLE_FACTOR}, got {height}x{width}: "
                "RAFT estimates flow on a 1/8 grid. Pad the frames as the original InputPadder does "
                "(RaftVideoProcessor does this and returns the padding; post_process_flow crops the flow back), or "
                "use RaftModel.clip_flow, which pads and crops itself"
            )
        smallest = self.config.min_input_size
        if height < smallest or width < smallest:
            raise ValueError(
                f"pixel_values of {height}x{width} pixels is too small for corr_levels={self.config.corr_levels}: "
                f"RAFT needs frames of at least {smallest}x{smallest} pixels (8 * 2 ** corr_levels), so that the "
                "coarsest correlation level keeps 2 cells (with one, the original's flow is NaN); resize the "
                "frames up"
            )

    def upsample(self, flow: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """The full-resolution flow in pixels from the 1/8 flow (and, for convex upsampling, the GRU state)."""
        if self.mask_head is None:
            return bilinear_upsample(flow)
        return convex_upsample(flow, self.mask_head(hidden))

    def forward(
        self,
        pixel_values: torch.Tensor,
        num_iterations: int | None = None,
        flow_labels: torch.Tensor | None = None,
        valid_mask: torch.Tensor | None = None,
        output_all_iterations: bool = False,
        initial_flow: torch.Tensor | None = None,
        padding: Sequence[int] | torch.Tensor | None = None,
        return_dict: bool | None = None,
    ) -> OpticalFlowOutput | tuple:
        r"""Estimate the optical flow of frame pairs.

        Args:
            pixel_values (`torch.Tensor`):
                Frame pairs `(batch, 2, 3, height, width)`, RGB scaled to [-1, 1] (`2 * x / 255 - 1`), height and
                width multiples of 8 and at least `config.min_input_size`. NaN or infinite values are refused
                (except under `torch.compile`).
            num_iterations (`int`, *optional*):
                Refinement iterations; defaults to `config.num_iterations` (12).
            flow_labels (`torch.Tensor`, *optional*):
                Ground-truth flow `(batch, 2, height, width)` in pixels: the output then carries RAFT's sequence loss
                over every iteration's flow (`config.loss_gamma`, `config.max_flow`).
            valid_mask (`torch.Tensor`, *optional*):
                `(batch, height, width)`, pixels with a value below 0.5 are left out of the loss (sparse KITTI
                ground truth); all pixels count by default.
            output_all_iterations (`bool`, defaults to `False`):
                Also return every iteration's full-resolution flow as `iteration_flows`.
            initial_flow (`torch.Tensor`, *optional*):
                Warm start `(batch, 2, height / 8, width / 8)` on the 1/8 grid (the previous pair's
                `low_resolution_flow`, as the original's Sintel submission uses it).
            padding (`Sequence[int]` or `torch.Tensor`, *optional*):
                The `(left, right, top, bottom)` padding that `RaftVideoProcessor` returns with the pairs: the
                returned flows (and the loss, whose labels are then at the unpadded size) are cropped back to it.
            return_dict (`bool`, *optional*):
                Return an `OpticalFlowOutput` (the default, `config.return_dict`) or a tuple of its non-None fields.

        Returns:
            `OpticalFlowOutput`: `loss` (with `flow_labels`), `flow` `(batch, 2, height, width)` (x then y
            displacement in pixels, from frame 0 to frame 1), `iteration_flows` `(batch, iterations, 2, height,
            width)` with `output_all_iterations=True`, and `low_resolution_flow` on the 1/8 grid.
        """
        return_dict = self.config.return_dict if return_dict is None else return_dict
        num_iterations = self.config.num_iterations if num_iterations is None else num_iterations
        if isinstance(num_iterations, bool) or not isinstance(num_iterations, int) or num_iterations < 1:
            raise ValueError(f"num_iterations must be a positive integer, got {num_iterations!r}")
        self._check_pairs(pixel_values)
        config = self.config
        batch = pixel_values.shape[0]
        first, second = pixel_values[:, 0], pixel_values[:, 1]

        features = self.feature_encoder(torch.cat([first, second]))
        # The correlation runs in float32 even under autocast, as the original's mixed precision keeps it.
        with torch.autocast(pixel_values.device.type, enabled=False):
            features1, features2 = features.float().chunk(2)
            pyramid = CorrelationPyramid(features1, features2, config.corr_levels, config.corr_radius)
        hidden, context = self.context_encoder(first).split([config.hidden_size, config.context_size], dim=1)
        hidden = torch.tanh(hidden)
        context_terms = self.update_block.context_terms(F.relu(context))

        grid_height, grid_width = features1.shape[-2:]
        coords0 = pixel_grid(batch, grid_height, grid_width, pixel_values.device)
        if initial_flow is not None and tuple(initial_flow.shape) != tuple(coords0.shape):
            raise ValueError(
                f"initial_flow must be shaped (batch, 2, height / 8, width / 8) = {tuple(coords0.shape)}, got "
                f"{tuple(initial_flow.shape)}"
            )
        coords1 = coords0 if initial_flow is None else coords0 + initial_flow
        keep_all = output_all_iterations or flow_labels is not None
        flows = []
        for iteration in range(num_iterations):
            coords1 = coords1.detach()  # as the original: no gradient through the lookup positions
            # The float32 lookups and coordinates meet the update block in its own dtype (autocast would cast
            # them the same way; with bf16 weights nothing else does).
            corr = pyramid.lookup(coords1).to(hidden.dtype)
            hidden, delta = self.update_block(hidden, corr, (coords1 - coords0).to(hidden.dtype), *context_terms)
            coords1 = coords1 + delta
            if keep_all or iteration == num_iterations - 1:
                flows.append(self.upsample(coords1 - coords0, hidden))

        if padding is not None:
            flows = [crop_padding(flow, padding) for flow in flows]
        loss = None
        if flow_labels is not None:
            self._check_labels(flows[-1], flow_labels, valid_mask)
            loss = sequence_loss(flows, flow_labels, valid_mask, config.loss_gamma, config.max_flow)
        output = OpticalFlowOutput(
            loss=loss,
            flow=flows[-1],
            iteration_flows=torch.stack(flows, dim=1) if output_all_iterations else None,
            low_resolution_flow=coords1 - coords0,
        )
        return output if return_dict else output.to_tuple()

    @staticmethod
    def _check_labels(flow: torch.Tensor, flow_labels: torch.Tensor, valid_mask: torch.Tensor | None) -> None:
        if tuple(flow_labels.shape) != tuple(flow.shape):
            raise ValueError(
                f"flow_labels must be shaped like the flow, (batch, 2, height, width) = {tuple(flow.shape)}, got "
                f"{tuple(flow_labels.shape)}"
            )
        expected = (flow.shape[0], *flow.shape[2:])
        if valid_mask is not None and tuple(valid_mask.shape) != expected:
            raise ValueError(
                f"valid_mask must be shaped (batch, height, width) = {expected}, got {tuple(valid_mask.shape)}"
            )

    def clip_flow(
        self,
        pixel_values: torch.Tensor,
        num_iterations: int | None = None,
        padding_mode: str = "sintel",
        pairs_per_forward: int | None = None,
    ) -> torch.Tensor:
        """The flow between every two consecutive frames of clips, at the clips' own size.

        Args:
            pixel_values: ``(batch, frames, 3, height, width)`` with at least 2 frames, RGB scaled to [-1, 1], any
                height and width (at least ``config.min_input_size`` once padded to a multiple of 8).
            num_iterations: refinement iterations (default ``config.num_iterations``).
            padding_mode: how the frames are padded to a multiple of 8, as the original ``InputPadder``:
                ``"sintel"`` (centred) or ``"kitti"`` (all vertical padding at the bottom); edges are replicated.
            pairs_per_forward: run at most this many pairs at once (all by default), to bound memory.

        Returns:
            ``(batch, frames - 1, 2, height, width)``: flow ``t`` goes from frame ``t`` to frame ``t + 1``.
        """
        check_video_input(pixel_values, self.config.num_channels)
        batch, frames = pixel_values.shape[:2]
        if frames < 2:
            raise ValueError(f"clip_flow needs clips of at least 2 frames, got {tuple(pixel_values.shape)}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        padding = raft_padding(*pixel_values.shape[-2:], padding_mode)
        padded = pad_frames(pixel_values.flatten(0, 1), padding).unflatten(0, (batch, frames))
        pairs = torch.stack([padded[:, :-1], padded[:, 1:]], dim=2).flatten(0, 1)
        chunks = pairs.split(pairs_per_forward or len(pairs))
        flow = torch.cat(
            [self(chunk, num_iterations=num_iterations, padding=padding, return_dict=True).flow for chunk in chunks]
        )
        return flow.unflatten(0, (batch, frames - 1))


__all__ = ["OpticalFlowOutput", "RaftModel", "RaftPreTrainedModel"]
