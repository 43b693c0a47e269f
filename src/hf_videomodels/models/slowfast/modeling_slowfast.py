"""SlowFast (Feichtenhofer, Fan, Malik & He, "SlowFast Networks for Video Recognition", ICCV 2019).

Numerically the same network as PySlowFast's ``SlowFast`` and pytorchvideo's ``create_slowfast``: two 3D ResNets
(Slow: ``num_frames / alpha`` frames, full width; Fast: every frame, ``1 / beta_inv`` of the width) joined by
time-strided lateral convs from Fast to Slow, whose output is concatenated **after** the Slow channels. The
Slow frames are chosen from the Fast clip as PySlowFast's data loader does (``torch.linspace(0, T - 1,
T // alpha).long()``), so the model takes one clip. Module names are our own; the converters in
``conversion/convert_slowfast_*.py`` map the original ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput

from ...layers import Conv3dOneDNN, ConvBNAct3d, MaxPool3dKeepDtype, folded_residual_forward
from ...modeling_utils import (
    VideoClassificationMixin,
    VideoPreTrainedModel,
    check_video_input,
    output_flags,
    set_init_role,
)
from .configuration_slowfast import NUM_STAGES, SlowFastConfig

PATHWAYS = ("slow", "fast")


def slow_frame_indices(num_frames: int, alpha: int) -> torch.Tensor:
    """Indices of the Slow pathway's frames in a clip of ``num_frames`` Fast frames, exactly as PySlowFast's
    ``PackPathway`` picks them (float32 ``linspace``, truncated): alpha 4 on 32 frames -> 0, 4, 8, 13, 17, 22, 26, 31."""
    return torch.linspace(0, num_frames - 1, num_frames // alpha, dtype=torch.float32).long()


@dataclass
class SlowFastModelOutput(ModelOutput):
    """Output of :class:`SlowFastModel`.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch, slow_channels, T / alpha, H / 32, W / 32)`):
            The Slow pathway's res5 feature map (2048 channels for R50 / R101).
        fast_last_hidden_state (`torch.FloatTensor` of shape `(batch, fast_channels, T, H / 32, W / 32)`):
            The Fast pathway's res5 feature map (256 channels).
        pooler_output (`torch.FloatTensor` of shape `(batch, config.hidden_size)`):
            The head's input: each pathway average-pooled (see :class:`SlowFastModel`), Slow then Fast channels.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            Ten maps `(batch, channels, time, height, width)`, stage by stage and Slow before Fast: stem Slow, stem
            Fast, res2 Slow, res2 Fast, ..., res5 Slow, res5 Fast. Each is the stage's own output, before the
            lateral connection concatenates Fast features onto the Slow map.
    """

    last_hidden_state: torch.FloatTensor | None = None
    fast_last_hidden_state: torch.FloatTensor | None = None
    pooler_output: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


def _unit_factory(config: SlowFastConfig):
    """Conv3d (no bias) + BatchNorm3d (+ in-place ReLU) with PyTorch-style symmetric padding. CPU fp32 inference
    convolves through oneDNN (``Conv3dOneDNN``): at batch 1 PyTorch sends the 1x1x1 and the narrow Fast convs to its
    native kernel, with a layout copy each way (1.7 s vs 1.0 s for 8x8 R50 on one core)."""
    return partial(
        ConvBNAct3d, eps=config.batch_norm_eps, momentum=config.batch_norm_momentum, conv_class=Conv3dOneDNN
    )


class SlowFastBottleneck(GradientCheckpointingLayer):
    """ResNet bottleneck of PySlowFast's ``bottleneck_transform``: a (kt, 1, 1) conv, a (1, 3, 3) conv carrying
    the spatial stride, a 1x1x1 conv, each with BatchNorm (ReLU after the first two), added to the shortcut (a
    strided 1x1x1 conv + BatchNorm where the shape changes), then ReLU. No temporal stride anywhere."""

    def __init__(self, config: SlowFastConfig, in_channels: int, width: int, out_channels: int, kt: int, stride: int):
        super().__init__()
        unit = _unit_factory(config)
        self.conv_a = unit(in_channels, width, (kt, 1, 1), padding=(kt // 2, 0, 0))
        self.conv_b = unit(width, width, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1))
        self.conv_c = unit(width, out_channels, 1, activation=None)
        set_init_role(self.conv_c.bn, "zero")  # each block starts as the identity (ZERO_INIT_FINAL_BN)
        self.shortcut = None
        if in_channels != out_channels or stride != 1:
            self.shortcut = unit(in_channels, out_channels, 1, stride=(1, stride, stride), activation=None)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = hidden_states if self.shortcut is None else self.shortcut(hidden_states)
        out = self.conv_b(self.conv_a(hidden_states))
        fused = folded_residual_forward(self.conv_c, out, residual)  # after fuse_conv_bn(): one oneDNN call
        # In place otherwise: the conv's output is this block's own tensor.
        return F.relu_(self.conv_c(out).add_(residual)) if fused is None else fused


class SlowFastNonLocal(GradientCheckpointingLayer):
    """Non-local block (Wang et al. 2018) as PySlowFast places it after a bottleneck: 1x1x1 theta / phi / g
    projections to half the channels (phi and g max-pooled by ``nonlocal_pool_size``), affinities normalised by
    ``nonlocal_instantiation``, a 1x1x1 output conv and a zero-initialised BatchNorm, added to the input."""

    def __init__(self, config: SlowFastConfig, channels: int):
        super().__init__()
        inner = channels // 2
        self.theta = set_init_role(nn.Conv3d(channels, inner, 1), "linear")
        self.phi = set_init_role(nn.Conv3d(channels, inner, 1), "linear")
        self.g = set_init_role(nn.Conv3d(channels, inner, 1), "linear")
        self.out = set_init_role(nn.Conv3d(inner, channels, 1), "linear")
        self.bn = set_init_role(
            nn.BatchNorm3d(channels, eps=config.batch_norm_eps, momentum=config.batch_norm_momentum), "zero"
        )
        pool = tuple(config.nonlocal_pool_size)
        self.pool = nn.MaxPool3d(pool, stride=pool) if max(pool) > 1 else nn.Identity()
        self.instantiation = config.nonlocal_instantiation

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        batch, _, time, height, width = hidden_states.shape
        query = self.theta(hidden_states).flatten(2).transpose(1, 2)  # (batch, positions, inner)
        pooled = self.pool(hidden_states)
        key = self.phi(pooled).flatten(2).transpose(1, 2)
        value = self.g(pooled).flatten(2).transpose(1, 2)
        if self.instantiation == "softmax":  # softmax(q k^T / sqrt(d)) v: exactly scaled dot-product attention
            attended = F.scaled_dot_product_attention(query, key, value)
        else:  # "dot_product": (q k^T / P) v, computed as q (k^T v) / P, linear in the number of positions
            attended = query @ (key.transpose(1, 2) @ value) / key.shape[1]
        attended = attended.transpose(1, 2).reshape(batch, -1, time, height, width)
        return hidden_states + self.bn(self.out(attended))


class SlowFastStage(nn.Module):
    """One ResNet stage of one pathway: bottlenecks, the first carrying the stage's spatial stride, each
    optionally followed by a non-local block (``nonlocal_blocks[str(index)]``)."""

    def __init__(
        self,
        config: SlowFastConfig,
        in_channels: int,
        width: int,
        out_channels: int,
        temporal_kernels: list[int],
        stride: int,
        nonlocal_indices: list[int],
    ):
        super().__init__()
        self.blocks = nn.ModuleList(
            SlowFastBottleneck(config, in_channels if i == 0 else out_channels, width, out_channels, kt, stride if i == 0 else 1)
            for i, kt in enumerate(temporal_kernels)
        )
        self.nonlocal_blocks = nn.ModuleDict({str(i): SlowFastNonLocal(config, out_channels) for i in nonlocal_indices})

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for index, block in enumerate(self.blocks):
            hidden_states = block(hidden_states)
            if str(index) in self.nonlocal_blocks:
                hidden_states = self.nonlocal_blocks[str(index)](hidden_states)
        return hidden_states


class SlowFastPathway(nn.Module):
    """One pathway's stem (a (kt, 7, 7) stride (1, 2, 2) conv unit and a (1, 3, 3) stride (1, 2, 2) max-pool)
    and its four stages res2 .. res5 (spatial strides 1, 2, 2, 2). The lateral connections live in
    :class:`SlowFastModel`, since they join the two pathways between stages."""

    def __init__(self, config: SlowFastConfig, pathway: str):
        super().__init__()
        unit = _unit_factory(config)
        channels = config.stage_channels(pathway)
        kt = getattr(config, f"{pathway}_stem_temporal_kernel_size")
        self.stem = unit(config.num_channels, channels[0], (kt, 7, 7), stride=(1, 2, 2), padding=(kt // 2, 3, 3))
        self.stem_pool = MaxPool3dKeepDtype((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        divisor = 1 if pathway == "slow" else config.beta_inv
        nonlocal_blocks = getattr(config, f"{pathway}_nonlocal_blocks")
        stages = []
        for stage, kernels in enumerate(config.temporal_kernels(pathway)):
            # The Slow pathway reads the previous stage plus the lateral features fused into it.
            in_channels = channels[stage] + (config.fusion_channels(stage) if pathway == "slow" else 0)
            width = config.width_per_group * 2**stage // divisor
            stride = 1 if stage == 0 else 2
            stages.append(
                SlowFastStage(config, in_channels, width, channels[stage + 1], kernels, stride, nonlocal_blocks[stage])
            )
        self.stages = nn.ModuleList(stages)


class SlowFastPreTrainedModel(VideoPreTrainedModel):
    config_class = SlowFastConfig
    base_model_prefix = "slowfast"
    channels_last_3d = True  # oneDNN runs 3D convs fast only in that layout (bf16 on CPU: 2.4x; see README)
    _no_split_modules = ["SlowFastBottleneck", "SlowFastNonLocal"]


def _windowed_mean(features: torch.Tensor, window: tuple[int, int, int]) -> torch.Tensor:
    """The original head's stride-1 average pool of ``window`` (clipped to the map), averaged over the pooled
    positions: (batch, channels). With one position (the training size) this is the plain average pool; on a
    larger map it is what pytorchvideo's head computes (the logits of every position, averaged)."""
    window = tuple(min(w, s) for w, s in zip(window, features.shape[2:]))
    return F.avg_pool3d(features, window, stride=1).mean(dim=(2, 3, 4))


class SlowFastModel(SlowFastPreTrainedModel):
    """The SlowFast backbone, without the classifier.

    Input: ``pixel_values`` (batch, frames, channels, height, width) at the **Fast** frame rate (e.g. 32 frames
    for 8x8); frames must be a multiple of ``config.alpha``. The Slow pathway takes frames
    ``slow_frame_indices(frames, alpha)`` of it, as PySlowFast's loader does. Pass ``slow_pixel_values``
    (batch, frames / alpha, channels, height, width) to give the Slow clip yourself.

    Output (:class:`SlowFastModelOutput`): ``last_hidden_state`` (Slow res5), ``fast_last_hidden_state`` (Fast
    res5), ``pooler_output`` (batch, ``config.hidden_size``), and with ``output_hidden_states=True`` the ten stage
    outputs, Slow then Fast per stage. For 8x8 R50 on 32 frames of 224x224 (channels x time x H x W): stem
    64x8x56x56 / 8x32x56x56, res2 256x8x56x56 / 32x32x56x56, res3 512x8x28x28 / 64x32x28x28, res4
    1024x8x14x14 / 128x32x14x14, res5 2048x8x7x7 / 256x32x7x7. (The stem outputs are after its max-pool.)

    ``pooler_output`` is each pathway average-pooled with the original head's stride-1 window
    (``config.head_pool_sizes``, clipped to the map) and averaged over the remaining positions, Slow then Fast.
    """

    def __init__(self, config: SlowFastConfig):
        super().__init__(config)
        unit = _unit_factory(config)
        self.slow = SlowFastPathway(config, "slow")
        self.fast = SlowFastPathway(config, "fast")
        fast_channels = config.stage_channels("fast")
        k = config.fusion_kernel_size
        self.fusions = nn.ModuleList(
            unit(fast_channels[i], config.fusion_channels(i), (k, 1, 1), stride=(config.alpha, 1, 1), padding=(k // 2, 0, 0))
            for i in range(NUM_STAGES)
        )
        self.post_init()

    def _pathway_inputs(
        self, pixel_values: torch.Tensor, slow_pixel_values: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(Slow, Fast) clips in Conv3d layout (batch, channels, time, height, width), checked."""
        alpha = self.config.alpha
        check_video_input(pixel_values, self.config.num_channels)
        frames = pixel_values.shape[1]
        # (batch, frames, channels, H, W) -> (batch, channels, frames, H, W), the layout of Conv3d.
        fast = pixel_values.transpose(1, 2)
        if slow_pixel_values is None:
            if frames < alpha or frames % alpha:
                raise ValueError(
                    f"pixel_values has {frames} frames; SlowFast needs a positive multiple of alpha={alpha} "
                    f"(the Slow pathway takes {frames // alpha or 1} of them and the lateral convs stride time by "
                    f"{alpha}): sample {max(alpha, frames // alpha * alpha)} or {(frames // alpha + 1) * alpha} frames"
                )
            indices = slow_frame_indices(frames, alpha).to(pixel_values.device)
            return fast.index_select(2, indices), fast
        check_video_input(slow_pixel_values, self.config.num_channels, name="slow_pixel_values")
        slow_frames = slow_pixel_values.shape[1]
        expected = -(-frames // alpha)  # the lateral conv's output length: ceil(frames / alpha)
        same = slow_pixel_values.shape[0] == pixel_values.shape[0] and slow_pixel_values.shape[3:] == pixel_values.shape[3:]
        if slow_frames != expected or not same:
            raise ValueError(
                f"slow_pixel_values {tuple(slow_pixel_values.shape)} does not fit pixel_values "
                f"{tuple(pixel_values.shape)}: it needs the same batch and frame size and ceil(frames / alpha) = "
                f"{expected} frames"
            )
        return slow_pixel_values.transpose(1, 2), fast

    def forward(
        self,
        pixel_values: torch.Tensor,
        slow_pixel_values: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> SlowFastModelOutput | tuple:
        r"""Run both pathways on a batch of clips.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips `(batch, frames, channels, height, width)` at the Fast rate, from the video processor;
                `frames` a multiple of `config.alpha` (a clip of 32 for 8x8 and 4x16, 64 for 16x8). NaN or
                infinite values are refused (except under `torch.compile`).
            slow_pixel_values (`torch.Tensor`, *optional*):
                The Slow pathway's clip `(batch, ceil(frames / alpha), channels, height, width)`, if you hold it
                already (the original model's `[slow, fast]` input); by default it is taken from `pixel_values`.
            output_hidden_states (`bool`, *optional*):
                Also return the ten stage outputs (see the class docstring). Defaults to
                `config.output_hidden_states`.
            output_attentions (`bool`, *optional*):
                Accepted for a uniform API and ignored: no attention maps are returned.
            return_dict (`bool`, *optional*):
                Return a `SlowFastModelOutput` (the default, `config.return_dict`) or a tuple of its non-None fields.
        """
        output_hidden_states, _, return_dict = output_flags(self.config, output_hidden_states, False, return_dict)
        slow, fast = self._pathway_inputs(pixel_values, slow_pixel_values)
        all_hidden_states = [] if output_hidden_states else None
        for stage in range(NUM_STAGES + 1):
            if stage == 0:
                slow = self.slow.stem_pool(self.slow.stem(slow))
                fast = self.fast.stem_pool(self.fast.stem(fast))
            else:
                slow = self.slow.stages[stage - 1](slow)
                fast = self.fast.stages[stage - 1](fast)
            if all_hidden_states is not None:
                all_hidden_states += [slow, fast]
            if stage < NUM_STAGES:
                slow = torch.cat([slow, self.fusions[stage](fast)], dim=1)

        slow_window, fast_window = self.config.head_pool_sizes
        pooled = torch.cat([_windowed_mean(slow, slow_window), _windowed_mean(fast, fast_window)], dim=1)
        hidden_states = tuple(all_hidden_states) if all_hidden_states is not None else None
        output = SlowFastModelOutput(
            last_hidden_state=slow, fast_last_hidden_state=fast, pooler_output=pooled, hidden_states=hidden_states
        )
        return output if return_dict else output.to_tuple()


class SlowFastForVideoClassification(VideoClassificationMixin, SlowFastPreTrainedModel):
    """SlowFast with the original head: each pathway's res5 map average-pooled (``config.head_pool_sizes``),
    concatenated (Slow first), dropout, and a linear classifier. The result is the original's logits (PySlowFast
    applies a softmax on top in eval mode; pytorchvideo returns these logits).

    ``pathway_logits`` gives the logits with one pathway's features zeroed, to see how much each contributes.
    """

    def __init__(self, config: SlowFastConfig):
        super().__init__(config)
        self.slowfast = SlowFastModel(config)
        self.dropout = nn.Dropout(config.dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        slow_pixel_values: torch.Tensor | None = None,
        **kwargs,
    ):
        r"""Classify a batch of clips: ``VideoClassificationMixin.forward`` (multi-view 6-D input, loss from
        ``labels``), plus ``slow_pixel_values`` `(batch, ceil(frames / alpha), channels, height, width)` to give the
        Slow pathway's clip explicitly (5-D only) instead of taking it from ``pixel_values``."""
        if slow_pixel_values is not None:
            if not isinstance(pixel_values, torch.Tensor) or pixel_values.ndim != 5:
                raise ValueError(
                    "with slow_pixel_values, pixel_values must be one 5-D batch (batch, frames, channels, height, "
                    "width); for multi-view input pass pixel_values alone"
                )
            pixel_values = (slow_pixel_values, pixel_values)  # compute_logits unpacks the pair
        return super().forward(
            pixel_values,
            labels=labels,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=return_dict,
        )

    def compute_logits(
        self, pixel_values, output_hidden_states: bool = False, output_attentions: bool = False
    ) -> tuple[torch.Tensor, SlowFastModelOutput]:
        # ``forward`` packs an explicit Slow clip with the Fast one as (slow, fast).
        slow, fast = pixel_values if isinstance(pixel_values, tuple) else (None, pixel_values)
        return self.pooled_logits(fast, slow_pixel_values=slow, output_hidden_states=output_hidden_states)

    @torch.no_grad()
    def pathway_logits(
        self, pixel_values: torch.Tensor, slow_pixel_values: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Logits `(batch, num_labels)` on the same clips with both pathways (``"both"``), with the Fast features
        zeroed at the head (``"slow"``: what the Slow pathway alone contributes) and with the Slow features zeroed
        (``"fast"``). The classifier is linear, so ``slow + fast - both`` is the classifier's bias. The backbone runs
        once, unchanged: the lateral connections still carry Fast information into the Slow features."""
        pooled = self.slowfast(pixel_values, slow_pixel_values=slow_pixel_values, return_dict=True).pooler_output
        slow_channels = self.config.stage_channels("slow")[-1]
        slow_only, fast_only = pooled.clone(), pooled.clone()
        slow_only[:, slow_channels:] = 0
        fast_only[:, :slow_channels] = 0
        return {
            "both": self.classifier(pooled),
            "slow": self.classifier(slow_only),
            "fast": self.classifier(fast_only),
        }


__all__ = ["SlowFastForVideoClassification", "SlowFastModel", "SlowFastPreTrainedModel", "slow_frame_indices"]
