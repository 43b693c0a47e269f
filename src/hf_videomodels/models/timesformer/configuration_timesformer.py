"""TimeSformer configuration (Bertasius et al. 2021, "Is Space-Time Attention All You Need for Video
Understanding?").

Defaults are the released TimeSformer base (``vit_base_patch16_224`` in facebookresearch/TimeSformer):
8 frames of 224x224, patch 16, width 768, 12 blocks of 12 heads, MLP ratio 4, qkv bias, LayerNorm eps 1e-6,
divided space-time attention.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...layers.patch_embed import pair

ATTENTION_TYPES = ("space_only", "joint_space_time", "divided_space_time", "sparse_local_global", "axial")


@strict
class TimeSformerConfig(PreTrainedConfig):
    r"""
    Args:
        image_size: training resolution (int or (height, width)); sets the size of the position table.
            Other resolutions work at inference: the table is resized (nearest) to the new patch grid.
        patch_size: side of the square (or (height, width)) patches cut from each frame.
        num_channels: input channels (3 for RGB/BGR).
        num_frames: training clip length; sets the size of the time table (resized, nearest, for others).
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: transformer sizes.
        hidden_act: MLP activation (exact GELU in the original).
        qkv_bias: bias in the fused qkv projections.
        layer_norm_eps: epsilon of every LayerNorm.
        hidden_dropout_prob: dropout on embeddings, attention output projections and MLPs.
        attention_probs_dropout_prob: dropout on attention probabilities.
        drop_path_rate: stochastic depth of the last block (linear from 0 over the blocks).
        attention_type: one of
            ``"space_only"`` (each frame alone, frame cls tokens averaged at the end),
            ``"joint_space_time"`` (all tokens of the clip together),
            ``"divided_space_time"`` (temporal then spatial attention, the released models),
            ``"sparse_local_global"`` (local window attention, then strided global attention),
            ``"axial"`` (attention along time, then width, then height).
        local_window_size: ``sparse_local_global`` only: (height, width) in patches of the local windows,
            which span all frames. ``None`` means half the patch grid in each direction (the paper's
            F x H/2 x W/2). The patch grid must split into whole windows.
        global_stride: ``sparse_local_global`` only: the stride of the sparse global attention along time,
            height and width. Tokens attend to those whose (t, y, x) agree with theirs modulo the stride, so
            frames and grid sides must be multiples of it.
        initializer_range: std of the truncated-normal weight init.
    """

    model_type = "hfvm_timesformer"

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
    layer_norm_eps: float = 1e-6
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    drop_path_rate: float | int = 0.0
    attention_type: str = "divided_space_time"
    local_window_size: list[int] | tuple[int, int] | None = None
    global_stride: int = 2
    initializer_range: float = 0.02

    def validate_architecture(self):
        """Part of ``@strict`` validation: values the model cannot be built or run with."""
        if self.attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type must be one of {ATTENTION_TYPES}, got {self.attention_type!r}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        for name in ("num_channels", "num_frames", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "global_stride"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "drop_path_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        image_size, patch_size = pair(self.image_size), pair(self.patch_size)
        if any(p < 1 or i < p for i, p in zip(image_size, patch_size)):
            raise ValueError(f"image_size {image_size} must hold at least one patch of patch_size {patch_size}")
        if self.local_window_size is not None:
            window = pair(self.local_window_size)
            if min(window) < 1:
                raise ValueError(f"local_window_size must be positive, got {window}")

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(height, width) of the patch grid at the training resolution."""
        image_size, patch_size = pair(self.image_size), pair(self.patch_size)
        return image_size[0] // patch_size[0], image_size[1] // patch_size[1]


__all__ = ["ATTENTION_TYPES", "TimeSformerConfig"]
