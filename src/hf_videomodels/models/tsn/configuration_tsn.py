"""TSN configuration: a 2D ResNet applied to every frame, the frame logits combined by a consensus."""

from __future__ import annotations

from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...layers.consensus import CONSENSUS_MODES

BLOCK_TYPES = ("basic", "bottleneck")
# Convs per residual block, and the factor from a block's inner width to its output channels.
CONVS_PER_BLOCK = {"basic": 2, "bottleneck": 3}
BLOCK_EXPANSION = {"basic": 1, "bottleneck": 4}
# The ImageNet ResNets (He et al. 2016, table 1): depth -> blocks per stage. Depth counts the weighted layers:
# the stem conv, every conv of every block, and the classifier.
STAGE_BLOCKS_BY_DEPTH = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def resnet_depth(block_type: str, stage_blocks) -> int:
    """Weighted layers of a ResNet: stem conv + the convs of every block + classifier (ResNet-50: 1 + 48 + 1)."""
    return 2 + CONVS_PER_BLOCK[block_type] * sum(stage_blocks)


@strict
class TSNConfig(PreTrainedConfig):
    r"""Configuration of TSN, the Temporal Segment Network of "Temporal Segment Networks: Towards Good Practices
    for Deep Action Recognition" (Wang et al., ECCV 2016), with a ResNet per frame: every sampled frame goes
    through the same 2D ResNet (He et al., CVPR 2016, in torchvision's "v1.5" form: a bottleneck's stride is in
    its 3x3 conv) and the per-frame logits are combined by a segmental consensus.

    The defaults give ResNet-50 with TSN's average consensus over 8 segments.

    Args:
        depth (`int`, defaults to 50):
            ResNet depth: 18, 34 (basic blocks), 50, 101 or 152 (bottleneck blocks) choose `block_type` and
            `stage_blocks` from the paper's table. Other depths need both given, and must agree with them:
            `depth = 2 + convs per block (2 basic, 3 bottleneck) * total blocks` (e.g. 10 for basic [1, 1, 1, 1],
            26 for bottleneck [2, 2, 2, 2]).
        block_type (`str`, *optional*):
            `"basic"` (two 3x3 convs) or `"bottleneck"` (1x1, 3x3, 1x1 with 4x expansion). Default: from `depth`.
        stage_blocks (`list[int]`, *optional*):
            Residual blocks in each of the four stages. Default: from `depth`.
        stem_channels (`int`, defaults to 64):
            Output channels of the 7x7 stride-2 stem conv.
        stage_channels (`list[int]`, defaults to `(64, 128, 256, 512)`):
            Inner width of each stage's blocks; a stage outputs `width * 4` channels with bottleneck blocks.
            Narrower widths give a small model (the same topology).
        num_channels (`int`, defaults to 3):
            Input channels of each frame (3 for RGB).
        num_frames (`int`, defaults to 8):
            Segments per video, one frame each (TSN's K). The network takes any number of frames; only the
            `"weighted"` consensus, which learns one weight per segment, needs exactly this many.
        image_size (`int`, defaults to 224):
            Frame size the network was trained at. Any size works (the features are globally average-pooled).
        consensus (`str`, defaults to `"mean"`):
            How per-frame logits become the video's: `"mean"` (TSN's average, the default), `"max"`, or
            `"weighted"` (a learned softmax-normalised weight per segment, starting equal).
        dropout_prob (`float`, defaults to 0.8):
            Dropout on the pooled per-frame features before the classifier; 0.8 is TSN's value for RGB.
        partial_batch_norm (`bool`, defaults to `False`):
            TSN's partial BatchNorm for fine-tuning a pretrained network on little data: while training, every
            BatchNorm except the first (the stem's) keeps its running statistics (eval mode) and its scale and
            shift frozen. The first one adapts to the new input distribution.
        zero_init_residual (`bool`, defaults to `False`):
            Initialise the last BatchNorm scale of every residual block to zero, so each block starts as the
            identity (torchvision's `zero_init_residual`; helps training from scratch).
        batch_norm_eps (`float`, defaults to 1e-5):
            BatchNorm epsilon (PyTorch's, as torchvision, timm and transformers use).
        initializer_range (`float`, defaults to 0.02):
            Standard deviation of the truncated normal initialisation of the classifier.
    """

    model_type = "hfvm_tsn"
    consensus_modes: ClassVar[tuple[str, ...]] = CONSENSUS_MODES

    depth: int = 50
    block_type: str | None = None
    stage_blocks: list[int] | tuple[int, ...] | None = None
    stem_channels: int = 64
    stage_channels: list[int] | tuple[int, ...] = (64, 128, 256, 512)
    num_channels: int = 3
    num_frames: int = 8
    image_size: int = 224
    consensus: str = "mean"
    dropout_prob: float | int = 0.8
    partial_batch_norm: bool = False
    zero_init_residual: bool = False
    batch_norm_eps: float = 1e-5
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        if self.block_type is None:
            self.block_type = "basic" if self.depth < 50 else "bottleneck"
        if self.stage_blocks is None:
            if self.depth not in STAGE_BLOCKS_BY_DEPTH:
                raise ValueError(
                    f"depth={self.depth} is not an ImageNet ResNet ({sorted(STAGE_BLOCKS_BY_DEPTH)}): give "
                    "stage_blocks (blocks per stage) and block_type as well"
                )
            self.stage_blocks = STAGE_BLOCKS_BY_DEPTH[self.depth]
        # JSON gives lists back; keep one type so a saved and reloaded config compares equal.
        self.stage_blocks = list(self.stage_blocks)
        self.stage_channels = list(self.stage_channels)
        super().__post_init__(**kwargs)

    @property
    def block_expansion(self) -> int:
        return BLOCK_EXPANSION[self.block_type]

    @property
    def stage_output_channels(self) -> list[int]:
        """Channels each stage outputs (ResNet-50: 256, 512, 1024, 2048)."""
        return [width * self.block_expansion for width in self.stage_channels]

    @property
    def hidden_size(self) -> int:
        """Channels of the per-frame features (512 for ResNet-18/34, 2048 for ResNet-50/101/152)."""
        return self.stage_output_channels[-1]

    def validate_architecture(self):
        super().validate_architecture()
        if self.block_type not in BLOCK_TYPES:
            raise ValueError(f"block_type must be one of {BLOCK_TYPES}, got {self.block_type!r}")
        if len(self.stage_blocks) != 4 or min(self.stage_blocks) < 1:
            raise ValueError(f"stage_blocks must be four positive ints, got {self.stage_blocks}")
        if len(self.stage_channels) != 4 or min(self.stage_channels) < 1:
            raise ValueError(f"stage_channels must be four positive ints, got {self.stage_channels}")
        implied = resnet_depth(self.block_type, self.stage_blocks)
        if implied != self.depth:
            raise ValueError(
                f"depth={self.depth} does not match {self.block_type} blocks {self.stage_blocks}, which make a "
                f"ResNet-{implied} (2 + {CONVS_PER_BLOCK[self.block_type]} convs per block x "
                f"{sum(self.stage_blocks)} blocks); fix depth or stage_blocks"
            )
        for name in ("stem_channels", "num_channels", "num_frames", "image_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.consensus not in self.consensus_modes:
            raise ValueError(f"consensus must be one of {self.consensus_modes}, got {self.consensus!r}")
        if not 0 <= self.dropout_prob < 1:
            raise ValueError(f"dropout_prob must be in [0, 1), got {self.dropout_prob}")


__all__ = ["TSNConfig"]
