"""C3D configuration."""

from __future__ import annotations

import math

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...layers import pair

CONV_NAMES = ("conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b")
# Sports-1M C3D's plan, one entry per conv of CONV_NAMES.
C3D_CHANNELS = (64, 128, 256, 256, 512, 512, 512, 512)

# pool2..pool5 halve time (floor), pool1..pool4 halve space (floor); pool5 then pads space by one on each
# side before its 2x2 window, giving floor(size / 16) + 1 there. So 16 frames of 112x112 -> 1 x 4 x 4.
TEMPORAL_STRIDE = 16
SPATIAL_STRIDE_BEFORE_POOL5 = 16


def pool5_size(frames: int, height: int, width: int) -> tuple[int, int, int]:
    """(time, height, width) of pool5's output for a clip of this size (0 where the clip is too small)."""

    def spatial(size: int) -> int:
        before_pool5 = size // SPATIAL_STRIDE_BEFORE_POOL5
        return before_pool5 // 2 + 1 if before_pool5 > 0 else 0

    return frames // TEMPORAL_STRIDE, spatial(height), spatial(width)


def inputs_for_pool5(time: int, height: int, width: int) -> tuple[range, range, range]:
    """The frame counts and pixel sizes that give a pool5 map of this (time, height, width): fc6 only takes
    the size it was built for, and each pool5 size comes from a range of input sizes."""

    def spatial(size: int) -> range:
        low = 2 * SPATIAL_STRIDE_BEFORE_POOL5 * (size - 1)
        return range(max(low, SPATIAL_STRIDE_BEFORE_POOL5), low + 2 * SPATIAL_STRIDE_BEFORE_POOL5)

    return range(TEMPORAL_STRIDE * time, TEMPORAL_STRIDE * (time + 1)), spatial(height), spatial(width)


@strict
class C3DConfig(PreTrainedConfig):
    r"""Configuration of C3D, the 3D ConvNet of "Learning Spatiotemporal Features with 3D Convolutional
    Networks" (Tran et al., ICCV 2015).

    The defaults give the published Sports-1M network as the PyTorch port DavideA/c3d-pytorch defines it
    (487 classes, 16 frames of 112x112 pixels, fc6 taking the 512 x 1 x 4 x 4 = 8192 pool5 values).

    Args:
        num_channels (`int`, defaults to 3):
            Input channels (RGB).
        num_frames (`int`, defaults to 16):
            Frames per clip. With `image_size` it fixes the size of fc6's input: clips of
            `config.accepted_input_sizes` frames and pixels give the same pool5 map and are accepted, any
            other size is refused (16-31 frames of 96-127 pixels for the default).
        image_size (`int` or `list[int]`, defaults to 112):
            Height and width of the frames (an int for square frames, or `(height, width)`).
        conv_channels (`list[int]`, defaults to `(64, 128, 256, 256, 512, 512, 512, 512)`):
            Output channels of the eight 3x3x3 convs conv1, conv2, conv3a, conv3b, conv4a, conv4b, conv5a, conv5b.
        fc_size (`int`, defaults to 4096):
            Width of fc6 and fc7; fc7's ReLU output is the bare model's `pooler_output` (the "C3D features").
        dropout_prob (`float`, defaults to 0.5):
            Dropout after fc6's and fc7's ReLU.
        initializer_range (`float`, defaults to 0.02):
            Standard deviation of the truncated normal initialisation of the classifier (fc8).
    """

    model_type = "hfvm_c3d"

    num_channels: int = 3
    num_frames: int = 16
    image_size: int | list[int] | tuple[int, ...] = 112
    conv_channels: list[int] | tuple[int, ...] = C3D_CHANNELS
    fc_size: int = 4096
    dropout_prob: float | int = 0.5
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        # JSON gives lists back; keep one type so a saved and reloaded config compares equal.
        if not isinstance(self.image_size, int):
            self.image_size = list(self.image_size)
        self.conv_channels = list(self.conv_channels)
        super().__post_init__(**kwargs)

    @property
    def hidden_size(self) -> int:
        """Width of the features the classifier sees (fc7's output)."""
        return self.fc_size

    @property
    def pool5_size(self) -> tuple[int, int, int]:
        """(time, height, width) of the pool5 map that fc6 takes: (1, 4, 4) for 16 frames of 112x112."""
        return pool5_size(self.num_frames, *pair(self.image_size))

    @property
    def fc6_in_features(self) -> int:
        """Length of the flattened pool5 map, fc6's input: 8192 for the default."""
        return self.conv_channels[-1] * math.prod(self.pool5_size)

    @property
    def accepted_input_sizes(self) -> tuple[range, range, range]:
        """The frame counts, heights and widths that give fc6 its input size."""
        return inputs_for_pool5(*self.pool5_size)

    def validate_architecture(self):
        super().validate_architecture()
        if self.num_channels < 1:
            raise ValueError(f"num_channels must be positive, got {self.num_channels}")
        if len(self.conv_channels) != len(CONV_NAMES) or min(self.conv_channels) < 1:
            raise ValueError(
                f"conv_channels must be {len(CONV_NAMES)} positive ints ({', '.join(CONV_NAMES)}), "
                f"got {self.conv_channels}"
            )
        if self.fc_size < 1:
            raise ValueError(f"fc_size must be positive, got {self.fc_size}")
        if not 0 <= self.dropout_prob < 1:
            raise ValueError(f"dropout_prob must be in [0, 1), got {self.dropout_prob}")
        height, width = pair(self.image_size)
        if min(self.pool5_size) < 1:
            raise ValueError(
                f"num_frames={self.num_frames}, image_size={self.image_size} is too small for C3D: pool5 needs at "
                f"least {TEMPORAL_STRIDE} frames of {SPATIAL_STRIDE_BEFORE_POOL5}x{SPATIAL_STRIDE_BEFORE_POOL5} "
                f"pixels (the network halves time four times and space five times); got {height}x{width} pixels"
            )


__all__ = ["C3DConfig"]
