"""Swin Transformer (2D, Liu et al. 2021) applied to every frame of a clip, the per-frame frame logits
combined by the shared ``FrameConsensus`` (TSN style). A baseline for the temporal table, and the image model
Video Swin is initialised from (``hf_videomodels.models.video_swin.video_swin_from_image_swin``).

The encoder is the shared one of ``layers/window_attention.py`` with 2D windows over (height, width): the same
shifted-window attention, padding, shift mask, shrunken windows and patch merging as Video Swin.
"""

from __future__ import annotations

import torch
from torch import nn

from ...layers.consensus import FrameConsensus, fold_frames, unfold_frames
from ...modeling_utils import PerFrameClassificationMixin, VideoPreTrainedModel
from ..video_swin.modeling_video_swin import SwinBackboneMixin, init_window_attention
from .configuration_swin import SwinConfig


class SwinPreTrainedModel(VideoPreTrainedModel):
    config: SwinConfig
    config_class = SwinConfig
    base_model_prefix = "swin"
    _no_split_modules = ["SwinStage"]
    layer_decay_blocks = ("SwinBlock",)

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        init_window_attention(module, self.config.initializer_range)


class SwinModel(SwinBackboneMixin, SwinPreTrainedModel):
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

    def encoder_input(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return fold_frames(pixel_values)  # every frame an image

    def pool(self, features: torch.Tensor, pixel_values: torch.Tensor) -> torch.Tensor:
        return unfold_frames(features.mean(dim=(1, 2)), pixel_values.shape[1])


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
