"""TimeSformer (Bertasius et al. 2021), a port of facebookresearch/TimeSformer with the paper's five
attention schemes.

Token layout (the original's, kept so hidden states compare one to one):

* Every frame is cut into patches by a per-frame Conv2d. Patch ``n`` (row-major over the grid) of frame
  ``t`` carries ``pos[n] + time[t]``; one cls token (``cls + pos[cls]``, no time embedding) leads the clip.
* Sequences are ``[cls, (n0, t0), (n0, t1), ..., (n1, t0), ...]``: **space-major, time-minor**, i.e. the
  patch tokens viewed as ``(batch, grid_h, grid_w, frames, dim)``.
* ``space_only`` is the exception: each frame is its own sequence ``[cls, n0, n1, ...]`` in a
  ``(batch * frames)`` batch, without time embeddings; the frames' tokens are averaged after the last block,
  *before* the final LayerNorm.

A block is a sequence of pre-norm attention *steps* then the MLP. A step gathers the patch tokens into groups
(all tokens of a frame, of a tube through time, of a row, ...), runs self-attention inside each group and adds
the result back. When the cls token takes part in a step, a copy of it joins every group and it receives the
mean of its copies' outputs (the original's divided spatial step). The schemes:

=======================  =========================================================================
``space_only``           ``space``: all patches of a frame + the frame's cls.
``joint_space_time``     ``space_time``: every token of the clip.
``divided_space_time``   ``time``: one tube (a grid position through all frames), cls excluded; the
                         result goes through an extra Linear (``fc``, the original's ``temporal_fc``)
                         after the attention's projection. Then ``space``: one frame + cls.
``axial``                ``time`` (as above, without the extra Linear), then ``width`` (one row of one
                         frame + cls), then ``height`` (one column of one frame + cls).
``sparse_local_global``  ``local``: a window of ``local_window_size`` patches through all frames + cls
                         (default half the grid, the paper's F x H/2 x W/2). Then ``global``: the tokens
                         whose (t, y, x) agree modulo ``global_stride`` (2), the strided sparse pattern
                         of Child et al. 2019 over the whole clip, + cls.
=======================  =========================================================================

Stochastic depth drops rows of the grouped batch (whole frames, tubes, windows), as the original does.

Attention maps (``output_attentions=True``): one tensor per step, in block order then step order, so
``len(attentions) == num_hidden_layers * steps_per_block`` (``T`` frames, ``N = h * w`` patches):

* space_only: ``(B*T, heads, 1+N, 1+N)``;  joint: ``(B, heads, 1+N*T, 1+N*T)``;
* divided: time ``(B*N, heads, T, T)``, space ``(B*T, heads, 1+N, 1+N)``;
* axial: time ``(B*N, heads, T, T)``, width ``(B*T*h, heads, 1+w, 1+w)``, height ``(B*T*w, heads, 1+h, 1+h)``;
* sparse_local_global: local ``(B*windows, heads, 1+window_h*window_w*T, ...)``, global
  ``(B*s^3, heads, 1+N*T/s^3, ...)``.

Group order is batch-major; inside a group the cls copy comes first, then the tokens in (y, x, t) order.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import NamedTuple

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers.attention import MultiHeadSelfAttention
from ...layers.drop_path import DropPath
from ...layers.mlp import Mlp
from ...layers.patch_embed import FramePatchEmbedding, pair
from ...layers.pos_embed import resize_position_embeddings, resize_time_embeddings
from ...modeling_utils import (
    VideoClassificationMixin,
    VideoPreTrainedModel,
    check_video_input,
    output_flags,
    set_init_role,
)
from .configuration_timesformer import TimeSformerConfig


class TokenGrid(NamedTuple):
    """Size of the patch-token volume of one clip."""

    frames: int
    height: int
    width: int


class StepSpec(NamedTuple):
    grouping: str  # "sequence" (the sequence as given) or a regrouping of the patch tokens
    with_cls: bool  # the cls token joins every group
    output_fc: bool = False  # extra Linear on the step's output (divided time only)


ATTENTION_STEPS: dict[str, dict[str, StepSpec]] = {
    "space_only": {"space": StepSpec("sequence", True)},
    "joint_space_time": {"space_time": StepSpec("sequence", True)},
    "divided_space_time": {"time": StepSpec("time", False, output_fc=True), "space": StepSpec("space", True)},
    "axial": {"time": StepSpec("time", False), "width": StepSpec("width", True), "height": StepSpec("height", True)},
    "sparse_local_global": {"local": StepSpec("local", True), "global": StepSpec("global", True)},
}


class GroupLayout(NamedTuple):
    """How (batch, h*w*t, dim) patch tokens become (groups, tokens_per_group, dim) and back.

    The tokens are viewed as ``view_shape``, permuted by ``permutation`` so the group axes come first, and
    flattened: the first ``group_axes`` permuted axes index the groups, the rest the tokens in a group.
    """

    view_shape: tuple[int, ...]
    permutation: tuple[int, ...]
    group_axes: int


def group_layout(
    grouping: str, batch: int, grid: TokenGrid, dim: int, window: tuple[int, int] | None, stride: int
) -> GroupLayout:
    frames, height, width = grid
    volume = (batch, height, width, frames, dim)
    if grouping == "time":  # (b y x) t
        return GroupLayout(volume, (0, 1, 2, 3, 4), 3)
    if grouping == "space":  # (b t) (y x)
        return GroupLayout(volume, (0, 3, 1, 2, 4), 2)
    if grouping == "width":  # (b t y) x
        return GroupLayout(volume, (0, 3, 1, 2, 4), 3)
    if grouping == "height":  # (b t x) y
        return GroupLayout(volume, (0, 3, 2, 1, 4), 3)
    if grouping == "local":  # (b wy wx) (y' x' t): windows of window_h x window_w patches through all frames
        if window is None:
            if height % 2 or width % 2:
                raise ValueError(
                    f"the default local window is half the patch grid, which needs an even grid, got "
                    f"{height}x{width}; set config.local_window_size"
                )
            window = (height // 2, width // 2)
        window_h, window_w = window
        if height % window_h or width % window_w:
            raise ValueError(f"patch grid {height}x{width} does not split into local windows of {window_h}x{window_w}")
        view = (batch, height // window_h, window_h, width // window_w, window_w, frames, dim)
        return GroupLayout(view, (0, 1, 3, 2, 4, 5, 6), 3)
    if grouping == "global":  # (b ry rx rt) (y' x' t'): tokens equal modulo the stride along y, x and t
        if height % stride or width % stride or frames % stride:
            raise ValueError(
                f"sparse global attention with stride {stride} needs frames and patch grid sides divisible by "
                f"it, got {frames} frames of {height}x{width} patches"
            )
        view = (batch, height // stride, stride, width // stride, stride, frames // stride, stride, dim)
        return GroupLayout(view, (0, 2, 4, 6, 1, 3, 5, 7), 4)
    raise ValueError(f"unknown token grouping {grouping!r}")


def to_groups(patches: torch.Tensor, layout: GroupLayout) -> torch.Tensor:
    permuted = patches.view(layout.view_shape).permute(layout.permutation)
    group_count = prod(permuted.shape[: layout.group_axes])
    return permuted.reshape(group_count, -1, permuted.shape[-1])


def from_groups(groups: torch.Tensor, layout: GroupLayout) -> torch.Tensor:
    permuted_shape = [layout.view_shape[axis] for axis in layout.permutation]
    inverse = sorted(range(len(layout.permutation)), key=layout.permutation.__getitem__)
    volume = groups.reshape(permuted_shape).permute(inverse)
    return volume.reshape(layout.view_shape[0], -1, layout.view_shape[-1])


def cls_attention_per_frame(
    attentions: Sequence[torch.Tensor], config: TimeSformerConfig, grid: tuple[int, int, int]
) -> torch.Tensor:
    """The last block's cls-token attention of one clip as ``(frames, grid_h, grid_w)`` maps summing to 1.

    ``attentions`` is a TimeSformer's ``outputs.attentions`` for a batch of one clip (one view),
    ``grid`` the clip's ``(frames, grid_h, grid_w)`` patch-token volume.

    How a per-frame map is read from the attention steps: in every step the cls token takes part in, its
    copies' attention rows together cover each patch token of the clip exactly once (the groups partition the
    patches), and the cls token receives the *mean* of its copies' outputs, so its effective weight on a patch
    is the probability in its group's row divided by the number of groups. Those weights are put back on the
    (frame, row, column) grid, the cls token's weight on itself is left out, and each frame's map is divided by
    its sum: **every frame's map sums to 1** and shows how the cls token shares its attention *within* that
    frame (for ``joint_space_time`` and ``sparse_local_global`` it also splits its attention across frames;
    that share is not shown). Per scheme:

    * ``space_only``: the cls row of each frame's sequence;
    * ``divided_space_time``: the ``space`` step (the ``time`` step leaves the cls token out);
    * ``joint_space_time``: the one cls row over all ``N*T`` tokens, cut into frames;
    * ``axial``: the mean of the ``width`` and ``height`` steps' maps (each alone only ranks patches within a
      row, resp. a column, of the frame);
    * ``sparse_local_global``: the mean of the ``local`` and ``global`` steps' maps.
    """
    grid = TokenGrid(*grid)
    steps = ATTENTION_STEPS[config.attention_type]
    if not attentions or len(attentions) % len(steps):
        raise ValueError(
            f"expected {len(steps)} attention maps per block for {config.attention_type!r}, got {len(attentions or ())}"
        )
    last_block = attentions[-len(steps) :]
    maps = [
        _step_cls_map(probs, spec.grouping, config, grid)
        for spec, probs in zip(steps.values(), last_block)
        if spec.with_cls
    ]
    return torch.stack(maps).mean(dim=0)


def _step_cls_map(probs: torch.Tensor, grouping: str, config: TimeSformerConfig, grid: TokenGrid) -> torch.Tensor:
    """One step's per-frame cls maps from its ``(groups, heads, 1 + tokens, 1 + tokens)`` probabilities."""
    frames, height, width = grid
    # Query 0 is the cls token (copy) of every group; keys 1: are the group's patch tokens (cls itself left out).
    cls_rows = probs[:, :, 0, 1:].float().mean(dim=1)  # (groups, tokens)
    if cls_rows.numel() != frames * height * width:
        raise ValueError(
            f"attention maps of shape {tuple(probs.shape)} do not cover one clip of {frames} frames of "
            f"{height}x{width} patches: pass the outputs of a single video (batch of 1, one view)"
        )
    if config.attention_type == "space_only":  # one sequence per frame: the frame's patches in (y, x) order
        volume = cls_rows.view(frames, height, width)
    elif grouping == "sequence":  # joint: one sequence, tokens space-major, time-minor (1 + n*T + t)
        volume = cls_rows.view(height, width, frames).permute(2, 0, 1)
    else:
        window = pair(config.local_window_size) if config.local_window_size is not None else None
        layout = group_layout(grouping, 1, grid, 1, window, config.global_stride)
        volume = from_groups(cls_rows.unsqueeze(-1), layout).view(height, width, frames).permute(2, 0, 1)
    return volume / volume.sum(dim=(1, 2), keepdim=True)


class TimeSformerAttentionStep(nn.Module):
    """LayerNorm -> self-attention within token groups -> (optional Linear) -> drop path -> residual add."""

    def __init__(self, config: TimeSformerConfig, spec: StepSpec, drop_path_rate: float, zero_init_fc: bool = False):
        super().__init__()
        self.spec = spec
        self.window = pair(config.local_window_size) if config.local_window_size is not None else None
        self.stride = config.global_stride
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = MultiHeadSelfAttention(
            config.hidden_size,
            config.num_attention_heads,
            qkv_bias=config.qkv_bias,
            attention_dropout=config.attention_probs_dropout_prob,
            proj_dropout=config.hidden_dropout_prob,
        )
        # The original's `temporal_fc`: a Linear applied after the temporal attention's own projection.
        self.fc = nn.Linear(config.hidden_size, config.hidden_size) if spec.output_fc else None
        if self.fc is not None:
            # The original zeroes temporal_fc in every block but the first, so that a model initialised from an
            # image ViT starts as that ViT applied per frame.
            set_init_role(self.fc, "zero" if zero_init_fc else "linear")
        self.drop_path = DropPath(drop_path_rate)

    def forward(
        self, hidden_states: torch.Tensor, grid: TokenGrid, output_attentions: bool = False, use_sdpa: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.spec.grouping == "sequence":
            output, probs = self.attention(self.norm(hidden_states), None, output_attentions, use_sdpa)
            return hidden_states + self.drop_path(output), probs

        batch, _, dim = hidden_states.shape
        cls, patches = hidden_states[:, :1], hidden_states[:, 1:]
        layout = group_layout(self.spec.grouping, batch, grid, dim, self.window, self.stride)
        groups = to_groups(patches, layout)
        groups_per_clip = groups.shape[0] // batch
        if self.spec.with_cls:
            groups = torch.cat((cls.repeat_interleave(groups_per_clip, dim=0), groups), dim=1)
        output, probs = self.attention(self.norm(groups), None, output_attentions, use_sdpa)
        output = self.drop_path(output)
        if self.spec.with_cls:
            cls = cls + output[:, :1].unflatten(0, (batch, groups_per_clip)).mean(dim=1)
            output = output[:, 1:]
        residual = from_groups(output, layout)
        if self.fc is not None:
            residual = self.fc(residual)
        return torch.cat((cls, patches + residual), dim=1), probs


class TimeSformerLayer(GradientCheckpointingLayer):
    """One block: the attention steps of ``config.attention_type`` in order, then LayerNorm -> MLP."""

    def __init__(self, config: TimeSformerConfig, layer_index: int, drop_path_rate: float):
        super().__init__()
        self.attentions = nn.ModuleDict(
            {name: TimeSformerAttentionStep(config, spec, drop_path_rate, zero_init_fc=layer_index > 0)
             for name, spec in ATTENTION_STEPS[config.attention_type].items()}
        )
        self.mlp_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = Mlp(config.hidden_size, config.intermediate_size, config.hidden_act, config.hidden_dropout_prob)
        self.drop_path = DropPath(drop_path_rate)

    def forward(
        self, hidden_states: torch.Tensor, grid: TokenGrid, output_attentions: bool = False, use_sdpa: bool = True
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        maps = []
        for step in self.attentions.values():
            hidden_states, probs = step(hidden_states, grid, output_attentions, use_sdpa)
            maps.append(probs)
        hidden_states = hidden_states + self.drop_path(self.mlp(self.mlp_norm(hidden_states)))
        return hidden_states, tuple(maps) if output_attentions else ()


class TimeSformerEmbeddings(nn.Module):
    """Per-frame patch embedding + cls token + position embeddings (+ time embeddings) in the layout above.

    Other resolutions / clip lengths than trained resize the tables as the original forward does: the patch
    positions by 2-D nearest interpolation over the grid (cls position kept), the time table by 1-D nearest
    interpolation. (The original decides by token count; deciding by grid shape only differs for a non-square
    grid with as many patches as the trained one, where the original would add the table unresized.)
    """

    def __init__(self, config: TimeSformerConfig):
        super().__init__()
        self.space_only = config.attention_type == "space_only"
        self.trained_grid = config.patch_grid
        self.patch_embeddings = FramePatchEmbedding(config.patch_size, config.num_channels, config.hidden_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.position_embeddings = nn.Parameter(torch.zeros(1, 1 + prod(self.trained_grid), config.hidden_size))
        if not self.space_only:
            self.time_embeddings = nn.Parameter(torch.zeros(1, config.num_frames, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, TokenGrid]:
        batch, frames = pixel_values.shape[:2]
        patches, (height, width) = self.patch_embeddings(pixel_values)  # (batch * frames, h * w, dim)
        grid = TokenGrid(frames, height, width)
        position = resize_position_embeddings(self.position_embeddings, (height, width), self.trained_grid)
        cls = self.cls_token + position[:, :1]
        patches = patches + position[:, 1:]
        if self.space_only:
            return self.dropout(torch.cat((cls.expand(batch * frames, -1, -1), patches), dim=1)), grid
        time = resize_time_embeddings(self.time_embeddings, frames)
        # (b t) n d -> b n t d: the original applies its position dropout, then adds time and drops out again.
        patches = self.dropout(patches).unflatten(0, (batch, frames)).transpose(1, 2)
        patches = self.dropout(patches + time.unsqueeze(1)).flatten(1, 2)
        return torch.cat((self.dropout(cls.expand(batch, -1, -1)), patches), dim=1), grid


class TimeSformerPreTrainedModel(VideoPreTrainedModel):
    config: TimeSformerConfig
    config_class = TimeSformerConfig
    base_model_prefix = "timesformer"
    _no_split_modules = ["TimeSformerLayer"]
    layer_decay_blocks = ("TimeSformerLayer",)

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, TimeSformerEmbeddings):
            init.trunc_normal_(module.cls_token, std=std)
            init.trunc_normal_(module.position_embeddings, std=std)
            if not module.space_only:
                init.zeros_(module.time_embeddings)


class TimeSformerModel(TimeSformerPreTrainedModel):
    """The TimeSformer encoder.

    ``forward(pixel_values)`` takes ``(batch, frames, channels, height, width)`` and returns
    ``BaseModelOutputWithPooling``:

    * ``last_hidden_state``: after the final LayerNorm, ``(batch, 1 + N*T, dim)`` in the layout of the module
      docstring; for ``space_only`` the frame average, ``(batch, 1 + N, dim)``.
    * ``pooler_output``: its cls token, ``(batch, dim)``, the classifier's input.
    * ``hidden_states``: the embeddings then every block's output (before the final LayerNorm),
      ``num_hidden_layers + 1`` tensors of ``(batch, 1 + N*T, dim)``, or ``(batch * frames, 1 + N, dim)``
      for ``space_only``.
    * ``attentions``: every attention step's probabilities, see the module docstring.
    """

    def __init__(self, config: TimeSformerConfig):
        super().__init__(config)
        self.embeddings = TimeSformerEmbeddings(config)
        # Stochastic depth grows linearly from 0 in the first block to drop_path_rate in the last.
        rates = torch.linspace(0, config.drop_path_rate, config.num_hidden_layers, device="cpu").tolist()
        self.layers = nn.ModuleList(TimeSformerLayer(config, i, rate) for i, rate in enumerate(rates))
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling | tuple:
        r"""Encode a batch of clips.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips `(batch, frames, channels, height, width)` from the video processor, with
                `channels == config.num_channels`. Other frame counts and sizes than `config.num_frames` and
                `config.image_size` work: the time and position embeddings are interpolated (a size that is not
                a multiple of `config.patch_size` loses its last partial patch). NaN or infinite values are
                refused (except under `torch.compile`).
            output_attentions (`bool`, *optional*):
                Also return every attention step's probabilities (`config.attention_type` sets the steps per
                block; layouts in the module docstring). Defaults to `config.output_attentions`.
            output_hidden_states (`bool`, *optional*):
                Also return the embeddings and every block's output. Defaults to `config.output_hidden_states`.
            return_dict (`bool`, *optional*):
                Return a `BaseModelOutputWithPooling` (the default, `config.return_dict`) or a tuple of its
                non-None fields.

        Returns:
            `BaseModelOutputWithPooling`, with the shapes listed in the class docstring: `last_hidden_state`
            `(batch, 1 + N*T, hidden_size)` (N patches per frame, T frames; `(batch, 1 + N, hidden_size)` for
            `space_only`), `pooler_output` the cls token `(batch, hidden_size)`, and `hidden_states` /
            `attentions` when asked for.
        """
        output_hidden_states, output_attentions, return_dict = output_flags(
            self.config, output_hidden_states, output_attentions, return_dict
        )
        check_video_input(pixel_values, self.config.num_channels)

        hidden_states, grid = self.embeddings(pixel_values)
        all_hidden_states = [hidden_states] if output_hidden_states else None
        all_attentions = [] if output_attentions else None
        # attn_implementation="eager" (from_pretrained or the config) selects the explicit attention path.
        use_sdpa = self.config._attn_implementation != "eager"
        for layer in self.layers:
            hidden_states, maps = layer(hidden_states, grid, output_attentions, use_sdpa)
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            if output_attentions:
                all_attentions.extend(maps)
        if self.embeddings.space_only:
            hidden_states = hidden_states.unflatten(0, (pixel_values.shape[0], grid.frames)).mean(dim=1)
        sequence_output = self.layernorm(hidden_states)

        output = BaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=sequence_output[:, 0],
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )
        return output if return_dict else output.to_tuple()


class TimeSformerForVideoClassification(VideoClassificationMixin, TimeSformerPreTrainedModel):
    """TimeSformer with a Linear head on the final cls token (``pooler_output``).

    ``forward`` comes from ``VideoClassificationMixin``: 5-D input, or 6-D multi-view input whose logits
    are averaged over views, optional ``labels`` for the loss.
    """

    def __init__(self, config: TimeSformerConfig):
        super().__init__(config)
        self.timesformer = TimeSformerModel(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()

    def compute_logits(
        self, pixel_values: torch.Tensor, output_hidden_states: bool, output_attentions: bool
    ) -> tuple[torch.Tensor, BaseModelOutputWithPooling]:
        outputs = self.timesformer(
            pixel_values,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=True,
        )
        return self.classifier(outputs.pooler_output), outputs

    def frame_attention_maps(self, attentions: Sequence[torch.Tensor], pixel_values: torch.Tensor) -> torch.Tensor:
        """The picture ``visualization.save_attention_maps`` draws: the last block's cls-token attention over
        each frame's patches, ``(frames, grid_h, grid_w)``, every frame's map summing to 1
        (:func:`cls_attention_per_frame`), from ``outputs.attentions`` of one clip ``pixel_values``
        (1, frames, channels, height, width)."""
        patch_h, patch_w = pair(self.config.patch_size)
        grid = (pixel_values.shape[1], pixel_values.shape[-2] // patch_h, pixel_values.shape[-1] // patch_w)
        return cls_attention_per_frame(attentions, self.config, grid)

    @property
    def frame_attention_caption(self) -> str:
        """What ``frame_attention_maps`` shows, in one line (the picture's subtitle)."""
        attention_type = self.config.attention_type
        steps = " + ".join(name for name, spec in ATTENTION_STEPS[attention_type].items() if spec.with_cls)
        return f"{attention_type}: cls attention of the last block ({steps}), mean over heads"


__all__ = [
    "ATTENTION_STEPS",
    "TimeSformerForVideoClassification",
    "TimeSformerModel",
    "TimeSformerPreTrainedModel",
    "cls_attention_per_frame",
]
