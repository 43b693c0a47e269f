"""Swin Transformer (2D, Liu et al. 2021) applied to every frame of a clip, the per-frame frame logits
combined by the shared ``FrameConsensus`` (TSN style). A baseline for the temporal table, and the image model
Video Swin is initialised from (``hf_videomodels.models.video_swin.inflate_swin_2d``).

The encoder is the shared one of ``layers/window_attention.py`` with 2D windows over (height, width): the same
shifted-window attention, padding, shift mask, shrunken windows and patch merging as Video Swin.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers.consensus import FrameConsensus, fold_frames, unfold_frames
from ...modeling_utils import PerFrameClassificationMixin, VideoPreTrainedModel, check_video_input, output_flags
from ..video_swin.modeling_video_swin import init_window_attention, swin_encoder
from .configuration_swin import SwinConfig


class SwinPreTrainedModel(VideoPreTrainedModel):
    config: SwinConfig
    config_class = SwinConfig
    base_model_prefix = "swin"
    _no_split_modules = ["SwinStage"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        init_window_attention(module, self.config.initializer_range)


class SwinModel(SwinPreTrainedModel):
    """The Swin image backbone run on every frame.

    ``forward(pixel_values)`` takes ``(batch, frames, channels, height, width)`` and returns
    ``BaseModelOutputWithPooling``:

    * ``last_hidden_state``: every frame's final features after the last LayerNorm, channels-last
      ``(batch * frames, height / 32, width / 32, num_features)`` (ceil at every halving);
    * ``pooler_output``: their average per frame, ``(batch, frames, num_features)``;
    * ``hidden_states``: per frame, the patch embeddings then every stage's output (after its patch merging,
      before the final LayerNorm), channels-last ``(batch * frames, h, w, width)``;
    * ``attentions``: every block's probabilities ``(batch * frames * windows, heads, N, N)``.
    """

    def __init__(self, config: SwinConfig):
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
        r"""Encode every frame of a batch of clips.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips `(batch, frames, channels, height, width)` from the video processor; any size works
                (padding to whole patches and windows). NaN or infinite values are refused (except under
                `torch.compile`).
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
            fold_frames(pixel_values), output_hidden_states, output_attentions, use_sdpa
        )
        output = BaseModelOutputWithPooling(
            last_hidden_state=features,
            pooler_output=unfold_frames(features.mean(dim=(1, 2)), pixel_values.shape[1]),
            hidden_states=hidden_states,
            attentions=attentions,
        )
        return output if return_dict else output.to_tuple()


class SwinForVideoClassification(PerFrameClassificationMixin, SwinPreTrainedModel):
    """Swin on every frame, a Linear classifier per frame (the image model's head), frame logits combined by
    ``config.consensus``.

    ``forward`` comes from ``PerFrameClassificationMixin``: 5-D input, or 6-D multi-view input whose logits
    are averaged over views, optional ``labels`` for the loss.
    """

    def __init__(self, config: SwinConfig):
        super().__init__(config)
        self.swin = SwinModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.num_features, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.consensus = FrameConsensus(config.consensus, config.num_frames if config.consensus == "weighted" else None)
        self.post_init()


__all__ = ["SwinForVideoClassification", "SwinModel", "SwinPreTrainedModel"]
