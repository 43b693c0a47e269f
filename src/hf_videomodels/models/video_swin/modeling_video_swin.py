"""Video Swin Transformer (Liu et al. 2022), a port of SwinTransformer/Video-Swin-Transformer
(``SwinTransformer3D`` + ``I3DHead``).

The clip ``(batch, frames, C, H, W)`` is cut into (2, 4, 4) patches by a Conv3d, then four stages of
shifted-window attention over (time, height, width) windows, each but the last followed by a spatial patch
merging (time is never downsampled after the patch embedding), then a LayerNorm. The head is I3D's: the
average over every token, dropout, a Linear. The window attention, its padding, shift mask and shrunken
windows are the shared ones of ``layers/window_attention.py``, which Swin (2D) uses too.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers.window_attention import SwinEncoder, WindowAttention, relative_position_index
from ...modeling_utils import VideoClassificationMixin, VideoPreTrainedModel, check_video_input, output_flags
from .configuration_video_swin import VideoSwinConfig


def swin_encoder(config, patch_size, window_size) -> SwinEncoder:
    """The shared Swin encoder built from a (2D or video) Swin config."""
    return SwinEncoder(
        patch_size,
        config.num_channels,
        config.embed_dim,
        config.depths,
        config.num_heads,
        window_size,
        mlp_ratio=config.mlp_ratio,
        qkv_bias=config.qkv_bias,
        layer_norm_eps=config.layer_norm_eps,
        hidden_act=config.hidden_act,
        dropout=config.hidden_dropout_prob,
        attention_dropout=config.attention_probs_dropout_prob,
        drop_path_rate=config.drop_path_rate,
    )


def init_window_attention(module: nn.Module, std: float) -> None:
    """Swin's own init of a window attention's bias table (and the index, a function of the window)."""
    if isinstance(module, WindowAttention):
        init.trunc_normal_(module.relative_position_bias_table, std=std)
        init.copy_(module.relative_position_index, relative_position_index(module.window_size))


class VideoSwinPreTrainedModel(VideoPreTrainedModel):
    config: VideoSwinConfig
    config_class = VideoSwinConfig
    base_model_prefix = "video_swin"
    _no_split_modules = ["SwinStage"]
    layer_decay_blocks = ("SwinBlock",)

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        init_window_attention(module, self.config.initializer_range)


class SwinBackboneMixin:
    """The bare-model forward shared by Swin (2D, per frame) and Video Swin: a subclass has ``self.encoder``
    (the shared :class:`~hf_videomodels.layers.window_attention.SwinEncoder`) and says how clips enter it
    (``encoder_input``) and how its features are pooled (``pool``)."""

    def __init__(self, config):
        super().__init__(config)
        self.encoder = swin_encoder(config, config.patch_size, config.window_size)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.patch_embed

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
                Float clips `(batch, frames, channels, height, width)` from the video processor. Any clip
                length and size work: the patch embedding and every block pad to whole patches and windows,
                and windows shrink on axes smaller than them, as the original does. NaN or infinite values are
                refused (except under `torch.compile`).
            output_attentions (`bool`, *optional*):
                Also return every block's attention probabilities. Defaults to `config.output_attentions`.
            output_hidden_states (`bool`, *optional*):
                Also return the patch embeddings and every stage's output. Defaults to
                `config.output_hidden_states`.
            return_dict (`bool`, *optional*):
                Return a `BaseModelOutputWithPooling` (the default) or a tuple of its non-None fields.

        Returns:
            `BaseModelOutputWithPooling` with the shapes of the class docstring.
        """
        output_hidden_states, output_attentions, return_dict = output_flags(
            self.config, output_hidden_states, output_attentions, return_dict
        )
        check_video_input(pixel_values, self.config.num_channels)
        use_sdpa = self.config._attn_implementation != "eager"
        features, hidden_states, attentions = self.encoder(
            self.encoder_input(pixel_values), output_hidden_states, output_attentions, use_sdpa
        )
        output = BaseModelOutputWithPooling(
            last_hidden_state=features,
            pooler_output=self.pool(features, pixel_values),
            hidden_states=hidden_states,
            attentions=attentions,
        )
        return output if return_dict else output.to_tuple()


class VideoSwinModel(SwinBackboneMixin, VideoSwinPreTrainedModel):
    """The Video Swin backbone (``SwinTransformer3D``).

    ``forward(pixel_values)`` takes ``(batch, frames, channels, height, width)`` and returns
    ``BaseModelOutputWithPooling``:

    * ``last_hidden_state``: the final features after the last LayerNorm, channels-last
      ``(batch, frames', height', width', num_features)`` with ``frames' = ceil(frames / 2)`` and
      ``height' = ceil(height / 32)`` (ceil at every halving);
    * ``pooler_output``: their average over every token, ``(batch, num_features)`` (the I3D head's pooling);
    * ``hidden_states``: the patch embeddings then every stage's output (after its patch merging, before the
      final LayerNorm), channels-last ``(batch, frames', h, w, width)``;
    * ``attentions``: every block's probabilities ``(batch * windows, heads, N, N)``, ``N`` the tokens of the
      stage's (possibly shrunken) window.
    """

    def encoder_input(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return pixel_values.transpose(1, 2)  # (batch, C, frames, H, W) for the Conv3d patches

    def pool(self, features: torch.Tensor, pixel_values: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=(1, 2, 3))


class VideoSwinForVideoClassification(VideoClassificationMixin, VideoSwinPreTrainedModel):
    """Video Swin with the I3D head: average of the final features, dropout, Linear.

    ``forward`` comes from ``VideoClassificationMixin``: 5-D input, or 6-D multi-view input (the published
    4 clips x 3 crops) whose logits are averaged over views, optional ``labels`` for the loss.
    """

    def __init__(self, config: VideoSwinConfig):
        super().__init__(config)
        self.video_swin = VideoSwinModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.num_features, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()


__all__ = ["SwinBackboneMixin", "VideoSwinForVideoClassification", "VideoSwinModel", "VideoSwinPreTrainedModel", "swin_encoder"]
