"""Swin Transformer (2D) configuration (Liu et al. 2021, "Swin Transformer: Hierarchical Vision Transformer
using Shifted Windows"), applied to every frame of a clip.

Defaults are Swin-T (``swin_tiny_patch4_window7_224``): patch 4, window 7, width 96, depths (2, 2, 6, 2),
heads (3, 6, 12, 24), MLP ratio 4, qkv bias, LayerNorm eps 1e-5; the frame logits averaged over 8 frames.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...layers.consensus import CONSENSUS_MODES
from ..video_swin.configuration_video_swin import check_swin_sizes, normalise_swin_fields


@strict
class SwinConfig(PreTrainedConfig):
    r"""
    Args:
        image_size: training resolution (int or (height, width)); other sizes work (padding to whole
            patches and windows).
        num_frames: frames per clip (the processor's); the "weighted" consensus learns one weight per frame.
        num_channels: input channels.
        patch_size: (height, width) of the patches.
        embed_dim, depths, num_heads: width of the first stage (doubling per stage), blocks and heads per stage.
        window_size: (height, width) attention window in tokens; shrinks on smaller feature maps.
        mlp_ratio, qkv_bias, hidden_act, layer_norm_eps: block details.
        hidden_dropout_prob, attention_probs_dropout_prob, drop_path_rate: regularisation (drop path linear
            from 0 to ``drop_path_rate`` over all blocks).
        classifier_dropout: dropout before the per-frame classifier.
        consensus: how frame logits become clip logits: "mean", "max" or "weighted" (``FrameConsensus``).
        initializer_range: std of the truncated-normal weight init.
    """

    model_type = "hfvm_swin"

    image_size: int | list[int] | tuple[int, int] = 224
    num_frames: int = 8
    num_channels: int = 3
    patch_size: list[int] | tuple[int, int] = (4, 4)
    embed_dim: int = 96
    depths: list[int] | tuple[int, ...] = (2, 2, 6, 2)
    num_heads: list[int] | tuple[int, ...] = (3, 6, 12, 24)
    window_size: list[int] | tuple[int, int] = (7, 7)
    mlp_ratio: float | int = 4.0
    qkv_bias: bool = True
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    drop_path_rate: float | int = 0.1
    classifier_dropout: float | int = 0.0
    consensus: str = "mean"
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        normalise_swin_fields(self)
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        """Part of ``@strict`` validation: values the model cannot be built or run with."""
        check_swin_sizes(self, window_axes=2, patch_axes=2)
        if self.consensus not in CONSENSUS_MODES:
            raise ValueError(f"consensus must be one of {CONSENSUS_MODES}, got {self.consensus!r}")

    @property
    def num_features(self) -> int:
        """Width of the last stage (the classifier's input)."""
        return self.embed_dim * 2 ** (len(self.depths) - 1)


__all__ = ["SwinConfig"]
