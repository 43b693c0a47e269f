"""ViViT (Arnab et al. 2021), the four models of the paper as google-research/scenic implements them.

Tokens. ``tokenizer="tubelet"``: a Conv3d with stride = kernel = ``tubelet_size`` (a remainder of frames or
pixels is dropped, as Scenic's ``VALID`` conv). ``"uniform_frames"``: ``num_sampled_frames`` frames at
``round(k * T / (n + 1))``, k = 1..n (Scenic's ``sample_frames_uniformly``), each cut into 2-D patches. Either
way the tokens are flattened in (t, h, w) row-major order; the grid is (T', H', W'). (Scenic stacks the sampled
frames vertically before its 2-D conv, so with a frame height that is not a multiple of the patch its patches
straddle frames; ours drop each frame's remainder rows. At whole-patch sizes, the released setting, both agree.)

Models (``config.model_variant``):

* ``spatio_temporal`` (model 1): [cls] + all T'H'W' tokens + one learned position table, pre-norm blocks, final
  LayerNorm, the cls token (or the token mean) is classified.
* ``factorised_encoder`` (model 2): the same spatial encoder (cls, position table over H'W', blocks, LayerNorm)
  runs on every temporal index; the T' per-frame cls outputs form the input of a temporal encoder (its own cls,
  position table over T', blocks, LayerNorm) whose cls output is classified.
* ``factorised_self_attention`` (model 3): no cls token; each block attends among the T' tokens of a spatial
  position, then among the H'W' tokens of a frame (``attention_order``), each with its own LayerNorm and
  residual, then the MLP. Scenic's block has no stochastic depth, nor does ours.
* ``factorised_dot_product_attention`` (model 4): no cls token; a standard block whose attention gives the first
  half of the heads the T' tokens of their spatial position and the second half the H'W' tokens of their frame.

Models 3 and 4 pool by the mean of the final tokens (Scenic refuses ``classifier='token'`` for them).

Position tables are interpolated linearly over the token grid when a clip has another length or resolution
than trained (trilinear over (T', H', W'), bilinear over (H', W'), linear over T'), the cls position kept.
"""

from __future__ import annotations

from math import prod

import torch
from torch import nn
from torch.nn import functional as F
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers.attention import MultiHeadSelfAttention
from ...layers.mlp import Mlp
from ...layers.patch_embed import FramePatchEmbedding
from ...layers.transformer_block import PreNormTransformerBlock, run_blocks
from ...modeling_utils import (
    VideoClassificationMixin,
    VideoPreTrainedModel,
    check_video_input,
    output_flags,
    set_init_role,
)
from .configuration_vivit import ViViTConfig

GRID_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def resize_grid_embeddings(table: torch.Tensor, new_grid: tuple[int, ...], old_grid: tuple[int, ...], prefix: int):
    """``(1, prefix + prod(old_grid), dim)`` -> ``(1, prefix + prod(new_grid), dim)``: the grid part
    interpolated linearly (1 to 3 dimensions), the prefix (cls) rows kept; unchanged when the grids match."""
    if tuple(new_grid) == tuple(old_grid):
        return table
    dim = table.shape[-1]
    grid = table[:, prefix:].transpose(1, 2).reshape(1, dim, *old_grid)
    resized = F.interpolate(grid, size=tuple(new_grid), mode=GRID_MODES[len(old_grid)], align_corners=False)
    return torch.cat((table[:, :prefix], resized.flatten(2).transpose(1, 2)), dim=1)


def uniform_frame_indices(num_frames: int, num_sampled: int | None) -> list[int]:
    """Scenic's ``sample_frames_uniformly``: every frame if ``num_sampled >= num_frames``, else frames
    ``round(k * T / (n + 1))`` for k = 1..n (round half to even, as ``jnp.round``)."""
    if num_sampled is None or num_sampled >= num_frames:
        return list(range(num_frames))
    step = torch.tensor(num_frames / (num_sampled + 1), dtype=torch.float32)
    positions = torch.round(torch.arange(1, num_sampled + 1, dtype=torch.float32) * step).long()
    return positions.clamp(max=num_frames - 1).tolist()


def attend(query, key, value, output_attentions: bool, use_sdpa: bool, dropout: float):
    """Scaled dot-product attention on ``(groups, heads, tokens, head_dim)``; probabilities when asked for."""
    if output_attentions or not use_sdpa:
        weights = ((query @ key.transpose(-2, -1)) * query.shape[-1] ** -0.5).softmax(dim=-1)
        context = F.dropout(weights, p=dropout, training=dropout > 0) @ value
        return context, weights if output_attentions else None
    return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout), None


class ViViTEmbeddings(nn.Module):
    """Clip -> tokens ``(batch, T'H'W', dim)`` in (t, h, w) order, and the grid (T', H', W')."""

    def __init__(self, config: ViViTConfig):
        super().__init__()
        self.tokenizer = config.tokenizer
        self.num_sampled_frames = config.num_sampled_frames
        if config.tokenizer == "tubelet":
            size = tuple(config.tubelet_size)
            self.patch_embeddings = set_init_role(
                nn.Conv3d(config.num_channels, config.hidden_size, size, size), "linear"
            )
        else:
            self.patch_embeddings = FramePatchEmbedding(
                config.tubelet_size[1:], config.num_channels, config.hidden_size
            )
        self.minimum = config.token_grid_divisor

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        size = (pixel_values.shape[1], *pixel_values.shape[-2:])
        if any(have < need for have, need in zip(size, self.minimum)):
            raise ValueError(
                f"pixel_values of {size[0]} frames of {size[1]}x{size[2]} hold no whole tubelet: at least "
                f"{self.minimum[0]} frames of {self.minimum[1]}x{self.minimum[2]} are needed"
            )
        if self.tokenizer == "tubelet":
            volume = self.patch_embeddings(pixel_values.transpose(1, 2))  # (batch, dim, T', H', W')
            return volume.flatten(2).transpose(1, 2), tuple(volume.shape[2:])
        frames = uniform_frame_indices(pixel_values.shape[1], self.num_sampled_frames)
        patches, (height, width) = self.patch_embeddings(pixel_values[:, frames])  # (batch * T', H'W', dim)
        return patches.unflatten(0, (pixel_values.shape[0], len(frames))).flatten(1, 2), (len(frames), height, width)


class FactorisedHeadsAttention(MultiHeadSelfAttention):
    """Model 4's attention: one set of q/k/v/out projections; the first half of the heads attend over time
    (the tokens of one spatial position), the second half over space (the tokens of one frame), and their
    outputs are concatenated back in head order before the output projection (Scenic's
    ``factorized_dot_product_attention``). Maps: ``(time, space)`` with ``heads / 2`` heads each."""

    def forward(self, hidden_states, attention_bias=None, output_attentions=False, use_sdpa=True, grid=None):
        frames, space = grid
        batch, tokens, dim = hidden_states.shape
        half = self.num_heads // 2
        qkv = self.qkv(hidden_states).view(batch, frames, space, 3, self.num_heads, self.head_dim)
        dropout = self.attention_dropout if self.training else 0.0
        # Time heads: (batch, space, heads/2, frames, head_dim); space heads: (batch, frames, heads/2, space, head_dim).
        time_qkv = qkv[..., :half, :].permute(3, 0, 2, 4, 1, 5).flatten(1, 2)
        space_qkv = qkv[..., half:, :].permute(3, 0, 1, 4, 2, 5).flatten(1, 2)
        time_context, time_maps = attend(*time_qkv, output_attentions, use_sdpa, dropout)
        space_context, space_maps = attend(*space_qkv, output_attentions, use_sdpa, dropout)
        time_context = time_context.unflatten(0, (batch, space)).permute(0, 3, 1, 2, 4)  # (b, t, s, h/2, d)
        space_context = space_context.unflatten(0, (batch, frames)).permute(0, 1, 3, 2, 4)
        context = torch.cat((time_context, space_context), dim=3).reshape(batch, tokens, dim)
        return self.proj_dropout(self.proj(context)), (time_maps, space_maps) if output_attentions else None


class FactorisedSelfAttentionLayer(GradientCheckpointingLayer):
    """Model 3's block: LayerNorm -> attention over time -> residual, the same over space (in
    ``attention_order``), then LayerNorm -> MLP -> residual."""

    def __init__(self, config: ViViTConfig):
        super().__init__()
        self.order = config.attention_order.split("_")
        width = config.hidden_size
        self.attention_norms = nn.ModuleDict(
            {axis: nn.LayerNorm(width, eps=config.layer_norm_eps) for axis in self.order}
        )
        self.attentions = nn.ModuleDict({
            axis: MultiHeadSelfAttention(width, config.num_attention_heads, config.qkv_bias,
                                         config.attention_probs_dropout_prob, config.hidden_dropout_prob)
            for axis in self.order
        })  # fmt: skip
        self.mlp_norm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.mlp = Mlp(width, config.intermediate_size, config.hidden_act, config.hidden_dropout_prob)

    def forward(self, hidden_states, output_attentions=False, use_sdpa=True, grid=None):
        frames, space = grid
        batch, tokens, dim = hidden_states.shape
        maps = []
        for axis in self.order:
            volume = hidden_states.view(batch, frames, space, dim)
            groups = (
                volume.transpose(1, 2).reshape(batch * space, frames, dim) if axis == "time" else volume.flatten(0, 1)
            )
            output, probs = self.attentions[axis](self.attention_norms[axis](groups), None, output_attentions, use_sdpa)
            groups = groups + output
            if axis == "time":
                groups = groups.view(batch, space, frames, dim).transpose(1, 2)
            hidden_states = groups.reshape(batch, tokens, dim)
            maps.append(probs)
        hidden_states = hidden_states + self.mlp(self.mlp_norm(hidden_states))
        return hidden_states, tuple(maps) if output_attentions else None


class ViViTEncoder(nn.Module):
    """[cls] + tokens + learned position table, blocks, final LayerNorm: one Scenic ``Encoder``.

    ``grid`` is the token grid the position table was trained on: (T', H', W') for models 1, 3 and 4, (H', W')
    for model 2's spatial encoder, (T',) for its temporal encoder.
    """

    def __init__(self, config: ViViTConfig, grid: tuple[int, ...], temporal: bool = False):
        super().__init__()
        width = config.hidden_size
        self.trained_grid = tuple(grid)
        self.num_prefix_tokens = 1 if config.pooling == "token" else 0
        if self.num_prefix_tokens:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.position_embeddings = nn.Parameter(torch.zeros(1, self.num_prefix_tokens + prod(grid), width))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        layers = config.temporal_num_hidden_layers if temporal else config.num_hidden_layers
        heads = config.temporal_num_attention_heads if temporal else config.num_attention_heads
        mlp_dim = config.temporal_intermediate_size if temporal else config.intermediate_size
        rates = torch.linspace(0, config.drop_path_rate, layers, device="cpu").tolist()
        variant = config.model_variant
        if variant == "factorised_self_attention":
            self.layers = nn.ModuleList(FactorisedSelfAttentionLayer(config) for _ in range(layers))
        else:
            self.layers = nn.ModuleList(
                PreNormTransformerBlock(
                    width,
                    heads,
                    mlp_dim,
                    config.hidden_act,
                    config.layer_norm_eps,
                    config.qkv_bias,
                    config.hidden_dropout_prob,
                    config.attention_probs_dropout_prob,
                    rate,
                    attention=FactorisedHeadsAttention(
                        width, heads, config.qkv_bias, config.attention_probs_dropout_prob, config.hidden_dropout_prob
                    )
                    if variant == "factorised_dot_product_attention"
                    else None,
                )  # fmt: skip
                for rate in rates
            )
        self.factorised = variant in ("factorised_self_attention", "factorised_dot_product_attention")
        self.layernorm = nn.LayerNorm(width, eps=config.layer_norm_eps)

    def forward(self, tokens, grid, output_hidden_states, output_attentions, use_sdpa):
        """Returns (normed sequence, hidden states list or None, attention maps list or None)."""
        position = resize_grid_embeddings(self.position_embeddings, grid, self.trained_grid, self.num_prefix_tokens)
        if self.num_prefix_tokens:
            tokens = torch.cat((self.cls_token.expand(tokens.shape[0], -1, -1), tokens), dim=1)
        extra = {"grid": (grid[0], prod(grid[1:]))} if self.factorised else {}
        hidden_states, all_hidden_states, all_attentions = run_blocks(
            self.layers, self.dropout(tokens + position), output_hidden_states, output_attentions, use_sdpa, **extra
        )
        return self.layernorm(hidden_states), all_hidden_states, all_attentions

    def pool(self, sequence: torch.Tensor) -> torch.Tensor:
        return sequence[:, 0] if self.num_prefix_tokens else sequence.mean(dim=1)


class ViViTPreTrainedModel(VideoPreTrainedModel):
    config: ViViTConfig
    config_class = ViViTConfig
    base_model_prefix = "vivit"
    _no_split_modules = ["PreNormTransformerBlock", "FactorisedSelfAttentionLayer"]
    layer_decay_blocks = ("PreNormTransformerBlock", "FactorisedSelfAttentionLayer")

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, ViViTEncoder):
            init.trunc_normal_(module.position_embeddings, std=self.config.initializer_range)
            if module.num_prefix_tokens:
                init.zeros_(module.cls_token)  # Scenic's cls init


class ViViTModel(ViViTPreTrainedModel):
    """The ViViT encoder (any of the four models).

    ``forward(pixel_values)`` takes ``(batch, frames, channels, height, width)`` and returns
    ``BaseModelOutputWithPooling``:

    * ``last_hidden_state``: the final (LayerNormed) sequence, ``(batch, [1 +] T'H'W', dim)``; for model 2 the
      temporal encoder's ``(batch, 1 + T', dim)``;
    * ``pooler_output``: the cls token (``pooling="token"``) or the token mean, ``(batch, dim)``;
    * ``hidden_states``: each encoder's input then every block's output. Models 1, 3, 4: ``(batch, [1 +]
      T'H'W', dim)``; model 2: the spatial encoder's ``(batch * T', 1 + H'W', dim)`` then the temporal
      encoder's ``(batch, 1 + T', dim)``;
    * ``attentions``: per block, model 1 ``(batch, heads, N, N)``; model 2 spatial ``(batch * T', heads, 1 + H'W',
      1 + H'W')`` then temporal ``(batch, temporal_heads, 1 + T', 1 + T')``; model 3 time ``(batch * H'W', heads,
      T', T')`` and space ``(batch * T', heads, H'W', H'W')`` in ``attention_order``; model 4 the same two shapes
      with ``heads / 2`` heads each (time first).
    """

    def __init__(self, config: ViViTConfig):
        super().__init__(config)
        self.embeddings = ViViTEmbeddings(config)
        frames, height, width = config.token_grid
        if config.model_variant == "factorised_encoder":
            self.encoder = ViViTEncoder(config, (height, width))
            self.temporal_encoder = ViViTEncoder(config, (frames,), temporal=True)
        else:
            self.encoder = ViViTEncoder(config, (frames, height, width))
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
                Float clips `(batch, frames, channels, height, width)` (values in [-1, 1] for Scenic's
                checkpoints). Other clip lengths and sizes than trained work: the position tables are
                interpolated; a remainder of frames or pixels beyond whole tubelets is dropped.
            output_attentions (`bool`, *optional*): also return the attention probabilities (class docstring).
            output_hidden_states (`bool`, *optional*): also return each encoder's input and block outputs.
            return_dict (`bool`, *optional*): return a `BaseModelOutputWithPooling` (default) or a tuple.

        Returns:
            `BaseModelOutputWithPooling` with the shapes of the class docstring.
        """
        output_hidden_states, output_attentions, return_dict = output_flags(
            self.config, output_hidden_states, output_attentions, return_dict
        )
        check_video_input(pixel_values, self.config.num_channels)
        tokens, (frames, height, width) = self.embeddings(pixel_values)
        use_sdpa = self.config._attn_implementation != "eager"
        flags = (output_hidden_states, output_attentions, use_sdpa)
        if self.config.model_variant == "factorised_encoder":
            per_frame = tokens.reshape(tokens.shape[0] * frames, height * width, -1)
            spatial, hidden, maps = self.encoder(per_frame, (height, width), *flags)
            frame_features = self.encoder.pool(spatial).unflatten(0, (tokens.shape[0], frames))
            sequence, temporal_hidden, temporal_maps = self.temporal_encoder(frame_features, (frames,), *flags)
            hidden = hidden + temporal_hidden if output_hidden_states else None
            maps = maps + temporal_maps if output_attentions else None
            pooled = self.temporal_encoder.pool(sequence)
        else:
            sequence, hidden, maps = self.encoder(tokens, (frames, height, width), *flags)
            pooled = self.encoder.pool(sequence)
        output = BaseModelOutputWithPooling(
            last_hidden_state=sequence,
            pooler_output=pooled,
            hidden_states=tuple(hidden) if output_hidden_states else None,
            attentions=tuple(maps) if output_attentions else None,
        )
        return output if return_dict else output.to_tuple()


class ViViTForVideoClassification(VideoClassificationMixin, ViViTPreTrainedModel):
    """ViViT with a Linear head (Scenic's ``output_projection``) on ``pooler_output``.

    With ``config.class_splits`` (Epic-Kitchens: ``[300, 97]``) the logits are consecutive heads sharing the
    Linear; :meth:`split_logits` cuts them apart (nouns, verbs).
    """

    def __init__(self, config: ViViTConfig):
        super().__init__(config)
        self.vivit = ViViTModel(config)
        self.dropout = nn.Identity()  # Scenic has no dropout before ``output_projection``
        self.classifier = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()

    def split_logits(self, logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The logits of each head of ``config.class_splits`` (one tensor when there is a single head)."""
        return tuple(logits.split(self.config.class_splits or [logits.shape[-1]], dim=-1))


__all__ = ["ViViTForVideoClassification", "ViViTModel", "ViViTPreTrainedModel"]
