"""ViT per frame configuration: an image ViT (Dosovitskiy et al. 2021) applied to every frame of a clip, the
frames' logits combined by a consensus (the transformer twin of the per-frame ResNet of TSN).

Defaults are ``google/vit-base-patch16-224`` (transformers' port of the original JAX ViT-B/16): 224x224,
patch 16, width 768, 12 blocks of 12 heads, MLP 3072, exact GELU, LayerNorm eps 1e-12 (timm's ports use 1e-6).
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...layers.consensus import CONSENSUS_MODES
from ...layers.patch_embed import pair

POSITION_INTERPOLATIONS = ("bicubic", "bilinear", "nearest")


@strict
class ViTFramesConfig(PreTrainedConfig):
    r"""
    Args:
        image_size: training resolution (int or (height, width)); sets the size of the position table.
            Other resolutions work: the table is interpolated (``position_interpolation``) to the new grid.
        patch_size: side of the square (or (height, width)) patches.
        num_channels: input channels.
        num_frames: frames per clip the model was trained with (only the ``"weighted"`` consensus needs it
            fixed; the others take any number of frames).
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: transformer sizes.
        hidden_act: MLP activation (``"gelu"`` is the exact GELU of ViT).
        qkv_bias: bias in the query/key/value projections.
        layer_norm_eps: epsilon of every LayerNorm (1e-12 in transformers' ViT, 1e-6 in timm's).
        hidden_dropout_prob: dropout on attention output projections and MLPs.
        attention_probs_dropout_prob: dropout on attention probabilities.
        drop_path_rate: stochastic depth of the last block (linear from 0 over the blocks).
        classifier_dropout_prob: dropout on the per-frame features before the classifier.
        consensus: how frame logits become clip logits: ``"mean"`` (TSN's average), ``"max"`` or ``"weighted"``.
        position_interpolation: interpolation of the position table at another resolution (transformers'
            ``interpolate_pos_encoding`` uses bicubic).
        initializer_range: std of the truncated-normal weight init.
    """

    model_type = "hfvm_vit_frames"

    image_size: int | list[int] | tuple[int, int] = 224
    patch_size: int | list[int] | tuple[int, int] = 16
    num_channels: int = 3
    num_frames: int = 8
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    drop_path_rate: float | int = 0.0
    classifier_dropout_prob: float | int = 0.0
    consensus: str = "mean"
    position_interpolation: str = "bicubic"
    initializer_range: float = 0.02

    def validate_architecture(self):
        """Part of ``@strict`` validation: values the model cannot be built or run with."""
        if self.consensus not in CONSENSUS_MODES:
            raise ValueError(f"consensus must be one of {CONSENSUS_MODES}, got {self.consensus!r}")
        if self.position_interpolation not in POSITION_INTERPOLATIONS:
            raise ValueError(
                f"position_interpolation must be one of {POSITION_INTERPOLATIONS}, got {self.position_interpolation!r}"
            )
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        for name in (
            "num_channels",
            "num_frames",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in (
            "hidden_dropout_prob",
            "attention_probs_dropout_prob",
            "drop_path_rate",
            "classifier_dropout_prob",
        ):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        image_size, patch_size = pair(self.image_size), pair(self.patch_size)
        if any(p < 1 or i < p for i, p in zip(image_size, patch_size)):
            raise ValueError(f"image_size {image_size} must hold at least one patch of patch_size {patch_size}")

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(height, width) of the patch grid at the training resolution."""
        image_size, patch_size = pair(self.image_size), pair(self.patch_size)
        return image_size[0] // patch_size[0], image_size[1] // patch_size[1]


__all__ = ["POSITION_INTERPOLATIONS", "ViTFramesConfig"]
