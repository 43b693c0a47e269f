"""RAFT configuration."""

from __future__ import annotations

from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

# The encoders downsample by 8 (a stride-2 stem and two stride-2 stages); flow is estimated on that grid.
DOWNSAMPLE_FACTOR = 8

# Field values of the two published models that differ from the large defaults.
SMALL_MODEL = {
    "encoder_block": "bottleneck",
    "encoder_channels": [32, 32, 64, 96],
    "feature_size": 128,
    "context_norm": "none",
    "hidden_size": 96,
    "context_size": 64,
    "corr_radius": 3,
    "motion_corr_channels": [96],
    "motion_flow_channels": [64, 32],
    "motion_output_size": 82,
    "gru_type": "conv",
    "flow_head_hidden_size": 128,
    "upsampling": "bilinear",
}


@strict
class RaftConfig(PreTrainedConfig):
    r"""Configuration of RAFT, "Recurrent All-Pairs Field Transforms for Optical Flow" (Teed & Deng, ECCV 2020).

    The defaults give the published large model (princeton-vl/RAFT's `RAFT(args)`, torchvision's `raft_large`);
    `RaftConfig.small()` gives the small one (`--small`, torchvision's `raft_small`).

    Args:
        num_channels (`int`, defaults to 3):
            Channels of each input frame (RGB).
        encoder_block (`str`, defaults to `"residual"`):
            Block of the feature and context encoders: `"residual"` (two 3x3 convs, the large model) or
            `"bottleneck"` (1x1, 3x3, 1x1 convs with a quarter of the channels inside, the small model).
        encoder_channels (`list[int]`, defaults to `(64, 64, 96, 128)`):
            Channels of the encoders' 7x7 stride-2 stem conv and of their three stages of two blocks (strides 1,
            2, 2), so the encoders downsample by 8.
        feature_size (`int`, defaults to 256):
            Channels of the feature encoder's output, the features correlated between the two frames.
        feature_norm (`str`, defaults to `"instance"`):
            Normalisation in the feature encoder: `"instance"` (InstanceNorm2d without affine parameters, as both
            published models), `"batch"` or `"none"`.
        context_norm (`str`, defaults to `"batch"`):
            Normalisation in the context encoder: `"batch"` (large model), `"none"` (small model) or `"instance"`.
        hidden_size (`int`, defaults to 128):
            Channels of the GRU's hidden state, initialised from the first `hidden_size` context channels (tanh).
        context_size (`int`, defaults to 128):
            Channels of the context features fed to every update (the rest of the context encoder's output, relu).
        corr_levels (`int`, defaults to 4):
            Levels of the correlation pyramid (each halves the second frame's resolution). Frames must be at least
            `8 * 2 ** corr_levels` pixels (128 by default) high and wide, so that the coarsest level keeps 2 cells.
        corr_radius (`int`, defaults to 4):
            The lookup reads a `(2 * radius + 1)`-square window on every level (4 large, 3 small).
        motion_corr_channels (`list[int]`, defaults to `(256, 192)`):
            Convs of the motion encoder's correlation branch (a 1x1, then 3x3 convs).
        motion_flow_channels (`list[int]`, defaults to `(128, 64)`):
            Convs of the motion encoder's flow branch (a 7x7, then 3x3 convs).
        motion_output_size (`int`, defaults to 128):
            Channels of the motion features, the current flow's two channels included.
        gru_type (`str`, defaults to `"separable"`):
            `"separable"`: a 1x5 then a 5x1 convolutional GRU step per update (large); `"conv"`: one 3x3 step (small).
        flow_head_hidden_size (`int`, defaults to 256):
            Channels of the hidden 3x3 conv of the head predicting the flow update.
        upsampling (`str`, defaults to `"convex"`):
            How the 1/8-resolution flow is brought to full resolution: `"convex"` (a learned convex combination of
            the 3x3 neighbours, large) or `"bilinear"` (small).
        mask_hidden_size (`int`, defaults to 256):
            Channels of the hidden conv of the convex-upsampling mask head.
        mask_scale (`float`, defaults to 0.25):
            Factor applied to the mask head's output (the original's "scale mask to balance gradients").
        dropout (`float`, defaults to 0.0):
            Channel dropout on the encoders' outputs in training (the original's `--dropout`).
        batch_norm_eps (`float`, defaults to 1e-5):
            BatchNorm epsilon of the context encoder (PyTorch's default, as the original).
        num_iterations (`int`, defaults to 12):
            Refinement iterations when `forward` is not given `num_iterations` (the original trains with 12 and
            evaluates with 24 on KITTI and FlyingChairs, 32 on Sintel).
        loss_gamma (`float`, defaults to 0.8):
            Weight decay of the sequence loss: the prediction of iteration i of N weighs `gamma ** (N - i - 1)`.
        max_flow (`float`, defaults to 400.0):
            Ground-truth flow of this magnitude or more is left out of the loss.
        initializer_range (`float`, defaults to 0.02):
            Standard deviation of the truncated normal initialisation of layers no ReLU follows.
    """

    model_type = "hfvm_raft"
    encoder_blocks: ClassVar[tuple[str, ...]] = ("residual", "bottleneck")
    norm_types: ClassVar[tuple[str, ...]] = ("instance", "batch", "none")
    gru_types: ClassVar[tuple[str, ...]] = ("separable", "conv")
    upsampling_modes: ClassVar[tuple[str, ...]] = ("convex", "bilinear")

    num_channels: int = 3
    encoder_block: str = "residual"
    encoder_channels: list[int] | tuple[int, ...] = (64, 64, 96, 128)
    feature_size: int = 256
    feature_norm: str = "instance"
    context_norm: str = "batch"
    hidden_size: int = 128
    context_size: int = 128
    corr_levels: int = 4
    corr_radius: int = 4
    motion_corr_channels: list[int] | tuple[int, ...] = (256, 192)
    motion_flow_channels: list[int] | tuple[int, ...] = (128, 64)
    motion_output_size: int = 128
    gru_type: str = "separable"
    flow_head_hidden_size: int = 256
    upsampling: str = "convex"
    mask_hidden_size: int = 256
    mask_scale: float | int = 0.25
    dropout: float | int = 0.0
    batch_norm_eps: float = 1e-5
    num_iterations: int = 12
    loss_gamma: float | int = 0.8
    max_flow: float | int = 400.0
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        # JSON gives lists back; keep one type so a saved and reloaded config compares equal.
        self.encoder_channels = list(self.encoder_channels)
        self.motion_corr_channels = list(self.motion_corr_channels)
        self.motion_flow_channels = list(self.motion_flow_channels)
        super().__post_init__(**kwargs)

    @classmethod
    def large(cls, **overrides) -> RaftConfig:
        """The published large model (5.3 M parameters), with ``overrides``."""
        return cls(**overrides)

    @classmethod
    def small(cls, **overrides) -> RaftConfig:
        """The published small model (1.0 M parameters), with ``overrides``."""
        return cls(**{**SMALL_MODEL, **overrides})

    @property
    def corr_channels(self) -> int:
        """Correlation features per position: a (2r+1)^2 window on each pyramid level."""
        return self.corr_levels * (2 * self.corr_radius + 1) ** 2

    @property
    def min_input_size(self) -> int:
        """Smallest height and width: the coarsest pyramid level must keep 2 cells. With one, the original's
        lookup divides by ``size - 1 = 0`` and its flow is NaN (torchvision's models state 128 x 128 too)."""
        return DOWNSAMPLE_FACTOR * 2**self.corr_levels

    def validate_architecture(self):
        super().validate_architecture()
        choices = {
            "encoder_block": self.encoder_blocks,
            "feature_norm": self.norm_types,
            "context_norm": self.norm_types,
            "gru_type": self.gru_types,
            "upsampling": self.upsampling_modes,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if len(self.encoder_channels) != 4 or min(self.encoder_channels) < 1:
            raise ValueError(
                f"encoder_channels must be four positive ints (stem, then three stages), got {self.encoder_channels}"
            )
        if self.encoder_block == "bottleneck" and any(c % 4 for c in self.encoder_channels[1:]):
            raise ValueError(f"bottleneck stages need channels divisible by 4, got {self.encoder_channels}")
        for name in ("motion_corr_channels", "motion_flow_channels"):
            channels = getattr(self, name)
            if not channels or min(channels) < 1:
                raise ValueError(f"{name} must be a non-empty list of positive ints, got {channels}")
        positive = ("num_channels", "feature_size", "hidden_size", "context_size", "corr_levels",
                    "flow_head_hidden_size", "mask_hidden_size", "num_iterations")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.corr_radius < 0:
            raise ValueError(f"corr_radius must be at least 0, got {self.corr_radius}")
        if self.motion_output_size < 3:
            raise ValueError(f"motion_output_size counts the 2 flow channels and must be at least 3, got "
                             f"{self.motion_output_size}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 < self.loss_gamma <= 1:
            raise ValueError(f"loss_gamma must be in (0, 1], got {self.loss_gamma}")
        if self.max_flow <= 0:
            raise ValueError(f"max_flow must be positive, got {self.max_flow}")


__all__ = ["RaftConfig"]
