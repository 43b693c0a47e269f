"""SlowFast configuration."""

from __future__ import annotations

from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

# Bottleneck blocks per stage (res2 .. res5) of the ResNet depths SlowFast was published with.
RESNET_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
NUM_STAGES = 4
# Total spatial stride before the head: stem conv and max-pool (4), then res3, res4, res5 (2 each).
SPATIAL_STRIDE = 32


@strict
class SlowFastConfig(PreTrainedConfig):
    r"""Configuration of SlowFast (Feichtenhofer, Fan, Malik & He, "SlowFast Networks for Video Recognition",
    ICCV 2019): a Slow pathway at a low frame rate and a thin Fast pathway at ``alpha`` times that rate, each a 3D
    ResNet, with lateral time-strided convs fusing Fast into Slow after the stem, res2, res3 and res4.

    The defaults give the published SlowFast 8x8 R50 (PySlowFast ``configs/Kinetics/SLOWFAST_8x8_R50.yaml``,
    pytorchvideo's hub ``slowfast_r50``).

    Args:
        num_channels (`int`, defaults to 3):
            Input channels (RGB).
        num_frames (`int`, defaults to 32):
            Frames per clip at the **Fast** rate (PySlowFast's ``DATA.NUM_FRAMES``); the Slow pathway sees
            ``num_frames // alpha``. With `image_size` it sets the head's average-pool window (see `head_pool_sizes`).
            Other clip lengths work: any multiple of `alpha`.
        image_size (`int`, defaults to 224):
            Training crop size (``DATA.TRAIN_CROP_SIZE``); sets the head's pool window (`image_size // 32`).
        alpha (`int`, defaults to 4):
            Frame-rate ratio between the pathways (and the time stride of the lateral convs): 4 for "8x8" and
            "16x8", 8 for "4x16".
        beta_inv (`int`, defaults to 8):
            Inverse channel ratio: the Fast pathway has ``1 / beta_inv`` of the Slow pathway's channels.
        fusion_channel_ratio (`int`, defaults to 2):
            A lateral conv outputs ``fusion_channel_ratio`` times the Fast channels it reads.
        fusion_kernel_size (`int`, defaults to 7):
            Temporal kernel of the lateral convs (``FUSION_KERNEL_SZ``): 7 for 8x8 R50, 5 for 4x16 R50 and R101.
        depths (`list[int]`, defaults to `(3, 4, 6, 3)`):
            Bottleneck blocks in res2 .. res5 (both pathways): `(3, 4, 6, 3)` for R50, `(3, 4, 23, 3)` for R101.
        width_per_group (`int`, defaults to 64):
            Slow stem channels and res2 bottleneck width (doubling per stage; blocks output 4x their width).
        slow_temporal_kernel_sizes (`list[int]`, defaults to `(1, 1, 3, 3)`):
            Temporal kernel of each stage's first bottleneck conv in the Slow pathway (res2 .. res5).
        fast_temporal_kernel_sizes (`list[int]`, defaults to `(3, 3, 3, 3)`):
            The same for the Fast pathway.
        slow_temporal_kernel_blocks (`list[int]`, *optional*):
            How many leading blocks of each stage use that temporal kernel in the Slow pathway (the rest use 1):
            PySlowFast's ``RESNET.NUM_BLOCK_TEMP_KERNEL``. Default: every block. ``R101_50_50`` and
            ``R101_50_101`` use `(3, 4, 6, 3)` here (only 6 of res4's 23 blocks are temporal).
        fast_temporal_kernel_blocks (`list[int]`, *optional*):
            The same for the Fast pathway (`(3, 4, 6, 3)` for ``R101_50_50``; every block for ``R101_50_101``).
        slow_stem_temporal_kernel_size (`int`, defaults to 1) / fast_stem_temporal_kernel_size (`int`, defaults to 5):
            Temporal kernel of each pathway's 7x7 stem conv.
        slow_nonlocal_blocks (`list[list[int]]`, *optional*):
            Per stage (res2 .. res5), the indices of the Slow blocks followed by a non-local block
            (``NONLOCAL.LOCATION``; e.g. `[[], [1, 3], [1, 3, 5], []]` for the ``SLOWFAST_NLN`` configs). Default none.
        fast_nonlocal_blocks (`list[list[int]]`, *optional*):
            The same for the Fast pathway.
        nonlocal_pool_size (`list[int]`, defaults to `(1, 2, 2)`):
            Max-pool (kernel = stride) of the keys and values of a non-local block.
        nonlocal_instantiation (`str`, defaults to `"dot_product"`):
            Affinity normalisation of the non-local blocks: `"dot_product"` (divide by the number of positions) or
            `"softmax"` (scaled softmax).
        dropout_prob (`float`, defaults to 0.5):
            Dropout before the classifier.
        batch_norm_eps (`float`, defaults to 1e-5) / batch_norm_momentum (`float`, defaults to 0.1):
            BatchNorm settings (PyTorch's convention).
        initializer_range (`float`, defaults to 0.01):
            Standard deviation of the classifier's initialisation (PySlowFast's head init).
    """

    model_type = "hfvm_slowfast"
    nonlocal_instantiations: ClassVar[tuple[str, ...]] = ("dot_product", "softmax")

    num_channels: int = 3
    num_frames: int = 32
    image_size: int = 224
    alpha: int = 4
    beta_inv: int = 8
    fusion_channel_ratio: int = 2
    fusion_kernel_size: int = 7
    depths: list[int] | tuple[int, ...] = RESNET_DEPTHS[50]
    width_per_group: int = 64
    slow_temporal_kernel_sizes: list[int] | tuple[int, ...] = (1, 1, 3, 3)
    fast_temporal_kernel_sizes: list[int] | tuple[int, ...] = (3, 3, 3, 3)
    slow_temporal_kernel_blocks: list[int] | tuple[int, ...] | None = None
    fast_temporal_kernel_blocks: list[int] | tuple[int, ...] | None = None
    slow_stem_temporal_kernel_size: int = 1
    fast_stem_temporal_kernel_size: int = 5
    slow_nonlocal_blocks: list[list[int]] | tuple | None = None
    fast_nonlocal_blocks: list[list[int]] | tuple | None = None
    nonlocal_pool_size: list[int] | tuple[int, ...] = (1, 2, 2)
    nonlocal_instantiation: str = "dot_product"
    dropout_prob: float | int = 0.5
    batch_norm_eps: float = 1e-5
    batch_norm_momentum: float = 0.1
    initializer_range: float = 0.01

    def __post_init__(self, **kwargs):
        # JSON gives lists back; keep one type so a saved and reloaded config compares equal. Unset per-stage
        # settings are filled in, so the saved config spells the whole architecture out.
        self.depths = list(self.depths)
        self.slow_temporal_kernel_sizes = list(self.slow_temporal_kernel_sizes)
        self.fast_temporal_kernel_sizes = list(self.fast_temporal_kernel_sizes)
        for name in ("slow_temporal_kernel_blocks", "fast_temporal_kernel_blocks"):
            value = getattr(self, name)
            setattr(self, name, list(self.depths) if value is None else list(value))
        for name in ("slow_nonlocal_blocks", "fast_nonlocal_blocks"):
            value = getattr(self, name)
            setattr(self, name, [[] for _ in range(NUM_STAGES)] if value is None else [list(v) for v in value])
        self.nonlocal_pool_size = list(self.nonlocal_pool_size)
        super().__post_init__(**kwargs)

    # ---- derived sizes ---------------------------------------------------------------------------------

    def stage_channels(self, pathway: str) -> list[int]:
        """Output channels of the stem and res2 .. res5 of ``pathway`` ("slow" or "fast"), before fusion."""
        divisor = 1 if pathway == "slow" else self.beta_inv
        return [self.width_per_group // divisor] + [
            self.width_per_group * 4 * 2**i // divisor for i in range(NUM_STAGES)
        ]

    def fusion_channels(self, stage: int) -> int:
        """Channels a lateral conv adds to the Slow pathway after the stem (``stage=0``) or res2..res4 (1..3)."""
        return self.stage_channels("fast")[stage] * self.fusion_channel_ratio

    @property
    def hidden_size(self) -> int:
        """Channels of the head's input: Slow res5 then Fast res5, concatenated (2304 for R50 / R101)."""
        return self.stage_channels("slow")[-1] + self.stage_channels("fast")[-1]

    @property
    def head_pool_sizes(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(Slow, Fast) stride-1 average-pool windows of the head, as PySlowFast and pytorchvideo size them
        from the training clip: (num_frames / alpha, image_size / 32, image_size / 32) and
        (num_frames, image_size / 32, image_size / 32); (8, 7, 7) and (32, 7, 7) for 8x8 R50."""
        side = self.image_size // SPATIAL_STRIDE
        return (self.num_frames // self.alpha, side, side), (self.num_frames, side, side)

    def temporal_kernels(self, pathway: str) -> list[list[int]]:
        """Temporal kernel of the first conv of every block, per stage, for ``pathway``."""
        sizes = getattr(self, f"{pathway}_temporal_kernel_sizes")
        counts = getattr(self, f"{pathway}_temporal_kernel_blocks")
        return [[size if block < count else 1 for block in range(depth)] for size, count, depth in zip(sizes, counts, self.depths)]

    def validate_architecture(self):
        super().validate_architecture()
        positive = {
            "num_channels": self.num_channels,
            "alpha": self.alpha,
            "beta_inv": self.beta_inv,
            "fusion_channel_ratio": self.fusion_channel_ratio,
            "width_per_group": self.width_per_group,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.width_per_group % self.beta_inv:
            raise ValueError(
                f"width_per_group={self.width_per_group} must be a multiple of beta_inv={self.beta_inv} "
                "(the Fast stem has width_per_group / beta_inv channels)"
            )
        for name in ("fusion_kernel_size", "slow_stem_temporal_kernel_size", "fast_stem_temporal_kernel_size"):
            value = getattr(self, name)
            if value < 1 or value % 2 == 0:
                raise ValueError(f"{name} must be a positive odd number (centred temporal padding), got {value}")
        per_stage = (
            "depths",
            "slow_temporal_kernel_sizes",
            "fast_temporal_kernel_sizes",
            "slow_temporal_kernel_blocks",
            "fast_temporal_kernel_blocks",
            "slow_nonlocal_blocks",
            "fast_nonlocal_blocks",
        )
        for name in per_stage:
            if len(getattr(self, name)) != NUM_STAGES:
                raise ValueError(f"{name} must give one entry per stage (res2 .. res5), got {getattr(self, name)}")
        if min(self.depths) < 1:
            raise ValueError(f"depths must be positive, got {self.depths}")
        for pathway in ("slow", "fast"):
            for size in getattr(self, f"{pathway}_temporal_kernel_sizes"):
                if size < 1 or size % 2 == 0:
                    raise ValueError(f"{pathway}_temporal_kernel_sizes must be positive odd numbers, got {size}")
            counts = getattr(self, f"{pathway}_temporal_kernel_blocks")
            if any(not 0 <= count <= depth for count, depth in zip(counts, self.depths)):
                raise ValueError(f"{pathway}_temporal_kernel_blocks={counts} must lie within depths={self.depths}")
            blocks = getattr(self, f"{pathway}_nonlocal_blocks")
            if any(not 0 <= index < depth for stage, depth in zip(blocks, self.depths) for index in stage):
                raise ValueError(f"{pathway}_nonlocal_blocks={blocks} names blocks outside depths={self.depths}")
        if len(self.nonlocal_pool_size) != 3 or min(self.nonlocal_pool_size) < 1:
            raise ValueError(f"nonlocal_pool_size must be three positive ints, got {self.nonlocal_pool_size}")
        if self.nonlocal_instantiation not in self.nonlocal_instantiations:
            raise ValueError(
                f"nonlocal_instantiation must be one of {self.nonlocal_instantiations}, got {self.nonlocal_instantiation!r}"
            )
        if not 0 <= self.dropout_prob < 1:
            raise ValueError(f"dropout_prob must be in [0, 1), got {self.dropout_prob}")
        if self.num_frames < self.alpha or self.num_frames % self.alpha:
            raise ValueError(
                f"num_frames={self.num_frames} must be a positive multiple of alpha={self.alpha}: the Slow pathway "
                f"takes every alpha-th frame and the lateral convs stride time by alpha"
            )
        if self.image_size < SPATIAL_STRIDE:
            raise ValueError(f"image_size={self.image_size} must be at least {SPATIAL_STRIDE} (the network's stride)")


__all__ = ["SlowFastConfig"]
