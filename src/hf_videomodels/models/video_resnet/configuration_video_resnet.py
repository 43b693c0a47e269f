"""VideoResNet configuration: R3D, MC3 and R(2+1)D from one config."""

from __future__ import annotations

from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

# Residual blocks per stage of the published depths.
DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


@strict
class VideoResNetConfig(PreTrainedConfig):
    r"""Configuration of the video ResNets of "A Closer Look at Spatiotemporal Convolutions for Action Recognition"
    (Tran et al., CVPR 2018): R3D (full 3D convolutions), MC3 (mixed: 3D in the first stages, 2D after) and
    R(2+1)D (each 3D convolution split into a 2D spatial and a 1D temporal one).

    The defaults give torchvision's `r2plus1d_18`. `convolution="3d"` with `stem_type="basic"` gives `r3d_18`,
    `convolution="mixed"` with `stem_type="basic"` gives `mc3_18`; `depths=(3, 4, 6, 3)`,
    `midplanes_from="conv_input"` and `batch_norm_eps=1e-3` the R(2+1)D-34 of ig65m-pytorch (Caffe2 / VMZ).

    Args:
        num_channels (`int`, defaults to 3):
            Input channels (3 for RGB).
        num_frames (`int`, defaults to 16):
            Frames per clip the model is meant to see. The network ends with a global average pool, so any clip
            length and frame size (at least 1) is accepted.
        image_size (`int`, defaults to 112):
            Height and width of the frames the model was trained on.
        convolution (`str`, defaults to `"2plus1d"`):
            The residual blocks' 3x3x3 convolution: `"3d"` (R3D), `"mixed"` (MC3: 3x3x3 in the first
            `mixed_3d_stages` stages, 1x3x3 without temporal extent after, which then never stride in time) or
            `"2plus1d"` (R(2+1)D: 1x3x3 to `midplanes` channels, BatchNorm, ReLU, then 3x1x1).
        mixed_3d_stages (`int`, defaults to 1):
            With `convolution="mixed"`, how many leading stages keep 3D convolutions (torchvision's MC3-18: 1).
        stem_type (`str`, defaults to `"2plus1d"`):
            `"basic"`: one 3x7x7 convolution (stride 1x2x2); `"2plus1d"`: 1x7x7 (stride 1x2x2) to
            `stem_mid_channels`, BatchNorm, ReLU, then 3x1x1. Each is followed by BatchNorm and ReLU.
        stem_channels (`int`, defaults to 64):
            Output channels of the stem.
        stem_mid_channels (`int`, defaults to 45):
            Channels between the two convolutions of the `"2plus1d"` stem (45 in torchvision and VMZ).
        depths (`list[int]`, defaults to `(2, 2, 2, 2)`):
            Residual blocks in each of the four stages: (2, 2, 2, 2) for 18 layers, (3, 4, 6, 3) for 34.
        hidden_sizes (`list[int]`, defaults to `(64, 128, 256, 512)`):
            Output channels of each stage. Stages after the first halve time (except 2D stages) and space.
        midplanes_from (`str`, defaults to `"block_input"`):
            How a (2+1)D convolution's intermediate width is chosen so that it has as many parameters as a 3x3x3
            one, `(c_in * c_out * 27) // (c_in * 9 + 3 * c_out)`: `"block_input"` takes `c_in` as the block's
            input channels for both of its convolutions (torchvision), `"conv_input"` takes each convolution's
            own input (Caffe2 / VMZ, hence ig65m-pytorch; it differs for the second convolution of each
            stage's first block: 288, 576, 1152 channels instead of 230, 460, 921).
        batch_norm_eps (`float`, defaults to 1e-5):
            BatchNorm epsilon (ig65m-pytorch sets 1e-3, the Caffe2 value its weights were trained with).
        batch_norm_momentum (`float`, defaults to 0.1):
            BatchNorm momentum in PyTorch's convention (the weight of the new batch; ig65m-pytorch sets 0.9).
        zero_init_residual (`bool`, defaults to `False`):
            Start each block's last BatchNorm scale at zero, so a fresh block is the identity (off in torchvision).
        dropout_prob (`float`, defaults to 0.0):
            Dropout before the classifier (none in torchvision and ig65m-pytorch).
        initializer_range (`float`, defaults to 0.02):
            Standard deviation of the truncated normal initialisation of the classifier.
    """

    model_type = "hfvm_video_resnet"
    convolutions: ClassVar[tuple[str, ...]] = ("3d", "mixed", "2plus1d")
    stem_types: ClassVar[tuple[str, ...]] = ("basic", "2plus1d")
    midplanes_rules: ClassVar[tuple[str, ...]] = ("block_input", "conv_input")

    num_channels: int = 3
    num_frames: int = 16
    image_size: int = 112
    convolution: str = "2plus1d"
    mixed_3d_stages: int = 1
    stem_type: str = "2plus1d"
    stem_channels: int = 64
    stem_mid_channels: int = 45
    depths: list[int] | tuple[int, ...] = DEPTHS[18]
    hidden_sizes: list[int] | tuple[int, ...] = (64, 128, 256, 512)
    midplanes_from: str = "block_input"
    batch_norm_eps: float = 1e-5
    batch_norm_momentum: float = 0.1
    zero_init_residual: bool = False
    dropout_prob: float | int = 0.0
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        # JSON gives lists back; keep one type so a saved and reloaded config compares equal.
        self.depths = list(self.depths)
        self.hidden_sizes = list(self.hidden_sizes)
        super().__post_init__(**kwargs)

    @property
    def hidden_size(self) -> int:
        """Channels of the last feature map (512 for the published models)."""
        return self.hidden_sizes[-1]

    def stage_convolution(self, stage: int) -> str:
        """The convolution of stage ``stage`` (0-based): "3d", "2d" (1x3x3, MC3's later stages) or "2plus1d"."""
        if self.convolution == "mixed":
            return "3d" if stage < self.mixed_3d_stages else "2d"
        return self.convolution

    def validate_architecture(self):
        super().validate_architecture()
        for name in ("num_channels", "num_frames", "image_size", "stem_channels", "stem_mid_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name, choices in (
            ("convolution", self.convolutions),
            ("stem_type", self.stem_types),
            ("midplanes_from", self.midplanes_rules),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if len(self.depths) != 4 or min(self.depths) < 1:
            raise ValueError(f"depths must be four positive ints (blocks per stage), got {self.depths}")
        if len(self.hidden_sizes) != 4 or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be four positive ints (channels per stage), got {self.hidden_sizes}")
        if not 0 <= self.mixed_3d_stages <= 4:
            raise ValueError(f"mixed_3d_stages must be between 0 and 4, got {self.mixed_3d_stages}")
        if not 0 <= self.dropout_prob < 1:
            raise ValueError(f"dropout_prob must be in [0, 1), got {self.dropout_prob}")


__all__ = ["DEPTHS", "VideoResNetConfig"]
