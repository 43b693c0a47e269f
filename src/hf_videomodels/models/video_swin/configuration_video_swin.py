"""Video Swin Transformer configuration (Liu et al. 2022, "Video Swin Transformer").

Defaults are Swin-T of the released models (SwinTransformer/Video-Swin-Transformer,
``swin_tiny_patch244_window877_kinetics400_1k``): patch (2, 4, 4), window (8, 7, 7), width 96, depths
(2, 2, 6, 2), heads (3, 6, 12, 24), MLP ratio 4, qkv bias, LayerNorm eps 1e-5, drop path 0.1, and the I3D
head (average pool, dropout 0.5, Linear); 32-frame 224x224 clips.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...layers.patch_embed import pair

# (embed_dim, depths, num_heads) of the four sizes of the paper.
SWIN_SIZES = {
    "tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "small": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "base": (128, (2, 2, 18, 2), (4, 8, 16, 32)),
    "large": (192, (2, 2, 18, 2), (6, 12, 24, 48)),
}


def normalise_swin_fields(config) -> None:
    """JSON gives lists back; keep one type so a saved and reloaded (2D or video) Swin config compares equal."""
    for name in ("patch_size", "depths", "num_heads", "window_size"):
        setattr(config, name, [int(v) for v in getattr(config, name)])
    if not isinstance(config.image_size, int):
        config.image_size = list(config.image_size)


def check_swin_sizes(config, window_axes: int, patch_axes: int) -> None:
    """Validation shared by the Swin configs (2D and video): what the model cannot be built or run with."""
    if len(config.depths) != len(config.num_heads) or not config.depths:
        raise ValueError(f"depths {config.depths} and num_heads {config.num_heads} need one entry per stage")
    if min(config.depths) < 1 or min(config.num_heads) < 1:
        raise ValueError(f"depths and num_heads must be positive, got {config.depths} and {config.num_heads}")
    for i, heads in enumerate(config.num_heads):
        width = config.embed_dim * 2**i
        if width % heads:
            raise ValueError(f"stage {i} width {width} (embed_dim * 2**{i}) is not a multiple of its {heads} heads")
    if len(config.window_size) != window_axes or min(config.window_size) < 1:
        raise ValueError(f"window_size must be {window_axes} positive ints, got {config.window_size}")
    if len(config.patch_size) != patch_axes or min(config.patch_size) < 1:
        raise ValueError(f"patch_size must be {patch_axes} positive ints, got {config.patch_size}")
    for name in ("num_channels", "embed_dim"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be positive, got {getattr(config, name)}")
    if config.num_frames < 1 or min(pair(config.image_size)) < 1:
        raise ValueError(f"num_frames and image_size must be positive, got {config.num_frames}, {config.image_size}")
    if config.mlp_ratio <= 0:
        raise ValueError(f"mlp_ratio must be positive, got {config.mlp_ratio}")
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "drop_path_rate", "classifier_dropout"):
        if not 0.0 <= getattr(config, name) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {getattr(config, name)}")


@strict
class VideoSwinConfig(PreTrainedConfig):
    r"""
    Args:
        image_size: training resolution (int or (height, width)); any size works at inference (the
            processor's crop follows it).
        num_frames: training clip length (any length works at inference).
        num_channels: input channels.
        patch_size: (time, height, width) of the 3D patches.
        embed_dim: width of the first stage; each later stage doubles it.
        depths, num_heads: blocks and heads per stage.
        window_size: (time, height, width) attention window in tokens; shrinks per axis on smaller
            inputs (see ``layers/window_attention.py``).
        mlp_ratio: MLP hidden width over block width.
        qkv_bias: bias in the fused qkv projections.
        hidden_act: MLP activation (exact GELU).
        layer_norm_eps: epsilon of every LayerNorm.
        hidden_dropout_prob: dropout after the patch embedding, attention projections and MLPs.
        attention_probs_dropout_prob: dropout on attention probabilities.
        drop_path_rate: stochastic depth of the last block (linear from 0 over all blocks).
        classifier_dropout: dropout before the classifier (the I3D head's 0.5).
        initializer_range: std of the truncated-normal weight init.
    """

    model_type = "hfvm_video_swin"

    image_size: int | list[int] | tuple[int, int] = 224
    num_frames: int = 32
    num_channels: int = 3
    patch_size: list[int] | tuple[int, int, int] = (2, 4, 4)
    embed_dim: int = 96
    depths: list[int] | tuple[int, ...] = (2, 2, 6, 2)
    num_heads: list[int] | tuple[int, ...] = (3, 6, 12, 24)
    window_size: list[int] | tuple[int, int, int] = (8, 7, 7)
    mlp_ratio: float | int = 4.0
    qkv_bias: bool = True
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    drop_path_rate: float | int = 0.1
    classifier_dropout: float | int = 0.5
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        normalise_swin_fields(self)
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        """Part of ``@strict`` validation: values the model cannot be built or run with."""
        check_swin_sizes(self, window_axes=3, patch_axes=3)

    @property
    def num_features(self) -> int:
        """Width of the last stage (the classifier's input)."""
        return self.embed_dim * 2 ** (len(self.depths) - 1)


__all__ = ["SWIN_SIZES", "VideoSwinConfig", "check_swin_sizes", "normalise_swin_fields"]
