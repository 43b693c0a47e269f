"""ViT per frame: an image ViT run on every frame (frames folded into the batch), its per-frame cls features
classified by one Linear and the frame logits combined by :class:`~hf_videomodels.layers.FrameConsensus`.

Frames never see each other, so the model cannot tell motion directions apart: it is the appearance-only
baseline of the temporal benchmarks.
"""

from __future__ import annotations

from math import prod

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers.consensus import FrameConsensus, fold_frames, unfold_frames
from ...layers.patch_embed import FramePatchEmbedding
from ...layers.pos_embed import resize_position_embeddings
from ...layers.transformer_block import PreNormTransformerBlock, run_blocks
from ...modeling_utils import PerFrameClassificationMixin, VideoPreTrainedModel, check_video_input, output_flags
from .configuration_vit_frames import ViTFramesConfig


class ViTFramesEmbeddings(nn.Module):
    """Patch embedding + cls token + learned position table, per image. Another resolution than the trained
    one interpolates the table's patch part over the grid (``config.position_interpolation``), cls kept."""

    def __init__(self, config: ViTFramesConfig):
        super().__init__()
        self.trained_grid = config.patch_grid
        self.interpolation = config.position_interpolation
        self.patch_embeddings = FramePatchEmbedding(config.patch_size, config.num_channels, config.hidden_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.position_embeddings = nn.Parameter(torch.zeros(1, 1 + prod(self.trained_grid), config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patches, grid = self.patch_embeddings(images.unsqueeze(1))  # (images, h * w, dim)
        position = resize_position_embeddings(
            self.position_embeddings, grid, self.trained_grid, mode=self.interpolation
        )
        tokens = torch.cat((self.cls_token.expand(patches.shape[0], -1, -1), patches), dim=1)
        return self.dropout(tokens + position)


class ViTFramesPreTrainedModel(VideoPreTrainedModel):
    config: ViTFramesConfig
    config_class = ViTFramesConfig
    base_model_prefix = "vit"
    _no_split_modules = ["PreNormTransformerBlock"]
    layer_decay_blocks = ("PreNormTransformerBlock",)

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, ViTFramesEmbeddings):
            init.trunc_normal_(module.cls_token, std=self.config.initializer_range)
            init.trunc_normal_(module.position_embeddings, std=self.config.initializer_range)


class ViTFramesModel(ViTFramesPreTrainedModel):
    """An image ViT applied to each frame.

    ``forward(pixel_values)`` takes ``(batch, frames, channels, height, width)`` and returns
    ``BaseModelOutputWithPooling``:

    * ``last_hidden_state``: every frame's tokens after the final LayerNorm, ``(batch, frames, 1 + N, dim)``;
    * ``pooler_output``: every frame's cls token, ``(batch, frames, dim)`` (the classifier's input);
    * ``hidden_states``: embeddings then every block's output, ``(batch * frames, 1 + N, dim)`` each;
    * ``attentions``: ``(batch * frames, heads, 1 + N, 1 + N)`` per block.
    """

    def __init__(self, config: ViTFramesConfig):
        super().__init__(config)
        self.embeddings = ViTFramesEmbeddings(config)
        rates = torch.linspace(0, config.drop_path_rate, config.num_hidden_layers, device="cpu").tolist()
        self.layers = nn.ModuleList(
            PreNormTransformerBlock(
                config.hidden_size,
                config.num_attention_heads,
                config.intermediate_size,
                config.hidden_act,
                config.layer_norm_eps,
                config.qkv_bias,
                config.hidden_dropout_prob,
                config.attention_probs_dropout_prob,
                rate,
            )
            for rate in rates
        )
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
        r"""Encode every frame of a batch of clips.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips `(batch, frames, channels, height, width)`; any frame count, and sizes other than
                `config.image_size` (the position table is interpolated; pixels beyond the last whole patch are
                dropped).
            output_attentions (`bool`, *optional*): also return every block's attention probabilities.
            output_hidden_states (`bool`, *optional*): also return the embeddings and every block's output.
            return_dict (`bool`, *optional*): return a `BaseModelOutputWithPooling` (default) or a tuple.

        Returns:
            `BaseModelOutputWithPooling` with the shapes of the class docstring.
        """
        output_hidden_states, output_attentions, return_dict = output_flags(
            self.config, output_hidden_states, output_attentions, return_dict
        )
        check_video_input(pixel_values, self.config.num_channels)
        num_frames = pixel_values.shape[1]
        use_sdpa = self.config._attn_implementation != "eager"
        hidden_states, all_hidden_states, all_attentions = run_blocks(
            self.layers, self.embeddings(fold_frames(pixel_values)), output_hidden_states, output_attentions, use_sdpa
        )
        sequence_output = unfold_frames(self.layernorm(hidden_states), num_frames)
        output = BaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=sequence_output[:, :, 0],
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )
        return output if return_dict else output.to_tuple()


class ViTFramesForVideoClassification(PerFrameClassificationMixin, ViTFramesPreTrainedModel):
    """ViT per frame with a Linear head on every frame's cls token; the frame logits are combined by
    ``config.consensus``. ``frame_logits(pixel_values)`` gives the per-frame logits before it."""

    def __init__(self, config: ViTFramesConfig):
        super().__init__(config)
        self.vit = ViTFramesModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.consensus = FrameConsensus(config.consensus, config.num_frames)
        self.post_init()


__all__ = ["ViTFramesForVideoClassification", "ViTFramesModel", "ViTFramesPreTrainedModel"]
