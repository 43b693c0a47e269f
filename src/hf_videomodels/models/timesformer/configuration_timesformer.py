"""TimeSformer configuration (Bertasius et al. 2021, "Is Space-Time Attention All You Need for Video
Understanding?").

Defaults are the released TimeSformer base (``vit_base_patch16_224`` in facebookresearch/TimeSformer):
8 frames of 224x224, patch 16, width 768, 12 blocks of 12 heads, MLP ratio 4, qkv bias, LayerNorm eps 1e-6,
divided space-time attention.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict

from ...configuration_utils import ViTEncoderConfig, check_positive
from ...layers.patch_embed import pair

ATTENTION_TYPES = ("space_only", "joint_space_time", "divided_space_time", "sparse_local_global", "axial")


@strict
class TimeSformerConfig(ViTEncoderConfig):
    r"""
    Args:
        The ViT fields of :class:`~hf_videomodels.configuration_utils.ViTEncoderConfig` (``image_size``,
        ``patch_size``, ``hidden_size``, ..., exact GELU as in the original), with LayerNorm eps 1e-6. Other
        resolutions and clip lengths work at inference: the position and time tables are resized (nearest).
        ``hidden_dropout_prob`` also drops out the embeddings. Then:
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
    """

    model_type = "hfvm_timesformer"

    layer_norm_eps: float = 1e-6
    attention_type: str = "divided_space_time"
    local_window_size: list[int] | tuple[int, int] | None = None
    global_stride: int = 2

    def validate_architecture(self):
        """Part of ``@strict`` validation: values the model cannot be built or run with."""
        if self.attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type must be one of {ATTENTION_TYPES}, got {self.attention_type!r}")
        check_positive(self, ("global_stride",))
        if self.local_window_size is not None:
            window = pair(self.local_window_size)
            if min(window) < 1:
                raise ValueError(f"local_window_size must be positive, got {window}")


__all__ = ["ATTENTION_TYPES", "TimeSformerConfig"]
