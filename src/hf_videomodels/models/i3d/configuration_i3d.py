"""I3D configuration."""

from __future__ import annotations

import math
from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

# Inception-V1's channel plan, per block: (1x1, 3x3 reduce, 3x3, second 3x3 reduce, second 3x3, pool proj).
# GoogLeNet's "5x5" branch is a 3x3 conv in the TF-slim Inception-V1 that I3D inflates.
INCEPTION_V1_CHANNELS = (
    (64, 96, 128, 16, 32, 32),  # mixed_3b
    (128, 128, 192, 32, 96, 64),  # mixed_3c
    (192, 96, 208, 16, 48, 64),  # mixed_4b
    (160, 112, 224, 24, 64, 64),  # mixed_4c
    (128, 128, 256, 24, 64, 64),  # mixed_4d
    (112, 144, 288, 32, 64, 64),  # mixed_4e
    (256, 160, 320, 32, 128, 128),  # mixed_4f
    (256, 160, 320, 32, 128, 128),  # mixed_5b
    (384, 192, 384, 48, 128, 128),  # mixed_5c
)
INCEPTION_BLOCK_NAMES = ("3b", "3c", "4b", "4c", "4d", "4e", "4f", "5b", "5c")

# Total stride of the network before the head (stem conv, then the 4a and 5a pools in time; plus the
# 2a, 3a pools in space).
TEMPORAL_STRIDE = 8
SPATIAL_STRIDE = 32


@strict
class I3DConfig(PreTrainedConfig):
    r"""Configuration of I3D, the Inflated 3D ConvNet (Inception-V1 inflated to 3D) of "Quo Vadis, Action
    Recognition? A New Model and the Kinetics Dataset" (Carreira & Zisserman, CVPR 2017).

    The defaults give the published architecture (DeepMind's kinetics-i3d, piergiaj/pytorch-i3d).

    Args:
        num_channels (`int`, defaults to 3):
            Input channels: 3 for RGB frames, 2 for the (x, y) optical-flow stream.
        num_frames (`int`, defaults to 64):
            Frames per clip the model is meant to see. 64 is the I3D training clip (Kinetics and Charades).
            The network is convolutional in time, so other lengths work as long as they are at least
            `min_input_size[0]`: logits are produced per output time step (about one per 8 frames) and pooled.
        image_size (`int`, defaults to 224):
            Height and width of the frames. Larger inputs give several spatial logit positions, which are
            averaged; smaller than `min_input_size[1:]` is refused.
        stem_channels (`list[int]`, defaults to `(64, 64, 192)`):
            Output channels of the stem convs (7x7x7 stride 2, 1x1x1, 3x3x3).
        inception_channels (`list[list[int]]`, defaults to Inception-V1's plan):
            For each of the 9 Inception blocks (mixed_3b ... mixed_5c): output channels of the 1x1 branch,
            the 3x3 branch's 1x1 reduction and 3x3 conv, the second 3x3 branch's reduction and conv, and the
            pool branch's 1x1 projection. A block's output has the sum of channels 0, 2, 4 and 5.
        pooler_kernel_size (`list[int]`, defaults to `(2, 7, 7)`):
            (time, height, width) kernel of the average pool before the classifier (stride 1, no padding), as in
            the original head. It sets the smallest accepted input, `min_input_size`: (9, 193, 193) by default.
        dropout_prob (`float`, defaults to 0.5):
            Dropout before the classifier (the original's `dropout_keep_prob=0.5` is used as a drop probability).
        batch_norm_eps (`float`, defaults to 1e-3):
            BatchNorm epsilon (TensorFlow's value; PyTorch's 1e-5 moves the converted logits visibly).
        batch_norm_momentum (`float`, defaults to 0.01):
            BatchNorm momentum in PyTorch's convention (TensorFlow's decay 0.99).
        temporal_pooling (`str`, defaults to `"mean"`):
            How per-time-step logits become clip logits: `"mean"` as DeepMind's Kinetics evaluation (average the
            logits over time), or `"max"` as pytorch-i3d's Charades training (max over time).
        initializer_range (`float`, defaults to 0.02):
            Standard deviation of the truncated normal initialisation of conv weights.
    """

    model_type = "hfvm_i3d"
    temporal_pooling_modes: ClassVar[tuple[str, ...]] = ("mean", "max")

    num_channels: int = 3
    num_frames: int = 64
    image_size: int = 224
    stem_channels: list[int] | tuple[int, ...] = (64, 64, 192)
    inception_channels: list[list[int]] | tuple[tuple[int, ...], ...] = INCEPTION_V1_CHANNELS
    pooler_kernel_size: list[int] | tuple[int, ...] = (2, 7, 7)
    dropout_prob: float | int = 0.5
    batch_norm_eps: float = 1e-3
    batch_norm_momentum: float = 0.01
    temporal_pooling: str = "mean"
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        # JSON gives lists back; keep one type so a saved and reloaded config compares equal.
        self.stem_channels = list(self.stem_channels)
        self.inception_channels = [list(block) for block in self.inception_channels]
        self.pooler_kernel_size = list(self.pooler_kernel_size)
        super().__post_init__(**kwargs)

    @property
    def hidden_size(self) -> int:
        """Channels of the last feature map (1024 for the standard model)."""
        last = self.inception_channels[-1]
        return last[0] + last[2] + last[4] + last[5]

    @property
    def min_input_size(self) -> tuple[int, int, int]:
        """Smallest (frames, height, width) the head accepts: the network shrinks time by 8 and space by 32
        (rounding up) before the stride-1 average pool, whose window must fit."""
        kt, kh, kw = self.pooler_kernel_size
        return (TEMPORAL_STRIDE * (kt - 1) + 1, SPATIAL_STRIDE * (kh - 1) + 1, SPATIAL_STRIDE * (kw - 1) + 1)

    def num_output_steps(self, num_frames: int) -> int:
        """Per-time logits the head gives for a clip of ``num_frames`` (e.g. 64 -> 7, 16 -> 1)."""
        return math.ceil(num_frames / TEMPORAL_STRIDE) - self.pooler_kernel_size[0] + 1

    def validate_architecture(self):
        super().validate_architecture()
        if self.num_channels < 1:
            raise ValueError(f"num_channels must be positive, got {self.num_channels}")
        if len(self.stem_channels) != 3 or min(self.stem_channels) < 1:
            raise ValueError(f"stem_channels must be three positive ints, got {self.stem_channels}")
        blocks = self.inception_channels
        if len(blocks) != len(INCEPTION_BLOCK_NAMES) or any(len(b) != 6 or min(b) < 1 for b in blocks):
            raise ValueError(
                f"inception_channels must list {len(INCEPTION_BLOCK_NAMES)} blocks of six positive ints "
                f"(1x1, 3x3 reduce, 3x3, 3x3 reduce, 3x3, pool proj), got {blocks}"
            )
        if len(self.pooler_kernel_size) != 3 or min(self.pooler_kernel_size) < 1:
            raise ValueError(f"pooler_kernel_size must be three positive ints, got {self.pooler_kernel_size}")
        if self.temporal_pooling not in self.temporal_pooling_modes:
            raise ValueError(
                f"temporal_pooling must be one of {self.temporal_pooling_modes}, got {self.temporal_pooling!r}"
            )
        if not 0 <= self.dropout_prob < 1:
            raise ValueError(f"dropout_prob must be in [0, 1), got {self.dropout_prob}")
        min_frames, min_height, min_width = self.min_input_size
        if self.num_frames < min_frames or self.image_size < max(min_height, min_width):
            raise ValueError(
                f"num_frames={self.num_frames}, image_size={self.image_size} is too small for the head's "
                f"pooler_kernel_size={tuple(self.pooler_kernel_size)} average pool: it needs at least {min_frames} "
                f"frames of {min_height}x{min_width} pixels. Raise num_frames / image_size, or lower "
                f"pooler_kernel_size (kt, kh, kw): the minimum is {TEMPORAL_STRIDE} * (kt - 1) + 1 frames of "
                f"{SPATIAL_STRIDE} * (kh - 1) + 1 pixels"
            )


__all__ = ["I3DConfig"]
