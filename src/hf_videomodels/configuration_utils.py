"""What the architectures' configs share: validation helpers (a field fails with the same message in every
config that has it) and :class:`ViTEncoderConfig`, the fields of a ViT encoder over frame patches."""

from __future__ import annotations

from collections.abc import Iterable

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .layers.patch_embed import pair

# The sizes and dropout rates of a ViT-style encoder (ViT per frame, TimeSformer, ViViT).
VIT_SIZES = (
    "num_channels", "num_frames", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"
)
VIT_DROPOUTS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "drop_path_rate")


def check_positive(config, names: Iterable[str]) -> None:
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be positive, got {getattr(config, name)}")


def check_probabilities(config, names: Iterable[str]) -> None:
    for name in names:
        if not 0.0 <= getattr(config, name) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {getattr(config, name)}")


@strict
class ViTEncoderConfig(PreTrainedConfig):
    r"""The fields of a ViT encoder cutting each frame into patches (ViT per frame, TimeSformer), with the
    defaults of ViT-B/16 at 224x224; subclasses add their own fields and may change a default (TimeSformer's
    LayerNorm eps is 1e-6). ``@strict`` runs :meth:`validate_vit_fields` for every subclass.

    Args:
        image_size: training resolution (int or (height, width)); sets the size of the position table.
        patch_size: side of the square (or (height, width)) patches cut from each frame.
        num_channels: input channels.
        num_frames: training clip length.
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: transformer sizes.
        hidden_act: MLP activation (``"gelu"`` is ViT's exact GELU).
        qkv_bias: bias in the query/key/value projections.
        layer_norm_eps: epsilon of every LayerNorm.
        hidden_dropout_prob: dropout on attention output projections and MLPs.
        attention_probs_dropout_prob: dropout on attention probabilities.
        drop_path_rate: stochastic depth of the last block (linear from 0 over the blocks).
        initializer_range: std of the truncated-normal weight init.
    """

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
    initializer_range: float = 0.02

    def validate_vit_fields(self):
        """Part of ``@strict`` validation: heads dividing the width, positive sizes, dropout rates in [0, 1), and
        an image holding at least one patch."""
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        check_positive(self, VIT_SIZES)
        check_probabilities(self, VIT_DROPOUTS)
        image_size, patch_size = pair(self.image_size), pair(self.patch_size)
        if any(p < 1 or i < p for i, p in zip(image_size, patch_size)):
            raise ValueError(f"image_size {image_size} must hold at least one patch of patch_size {patch_size}")

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(height, width) of the patch grid at the training resolution."""
        image_size, patch_size = pair(self.image_size), pair(self.patch_size)
        return image_size[0] // patch_size[0], image_size[1] // patch_size[1]
