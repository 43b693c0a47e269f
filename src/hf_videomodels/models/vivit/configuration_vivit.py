"""ViViT configuration (Arnab et al. 2021, "ViViT: A Video Vision Transformer"), the four models of the paper
as google-research/scenic implements them (``scenic/projects/vivit``).

Defaults are the released ViViT-B/16x2 Kinetics-400 model 1 (``configs/kinetics400/vivit_base_k400.py``):
32 frames of 224x224 cut into 2x16x16 tubelets (16 x 14 x 14 tokens), width 768, 12 blocks of 12 heads,
MLP 3072, tanh-approximated GELU (flax ``nn.gelu``), LayerNorm eps 1e-6, classification on a cls token.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...configuration_utils import VIT_DROPOUTS, VIT_SIZES, check_positive, check_probabilities
from ...layers.patch_embed import pair

MODEL_VARIANTS = (
    "spatio_temporal",  # model 1: one transformer over every tubelet token
    "factorised_encoder",  # model 2: a spatial transformer per temporal index, then a temporal one
    "factorised_self_attention",  # model 3: each block attends over time, then over space
    "factorised_dot_product_attention",  # model 4: half the heads attend over space, half over time
)
TOKENIZERS = ("tubelet", "uniform_frames")
POOLINGS = ("token", "gap")
ATTENTION_ORDERS = ("time_space", "space_time")


@strict
class ViViTConfig(PreTrainedConfig):
    r"""
    Args:
        image_size: training resolution (int or (height, width)); sets the position table. Other resolutions
            and clip lengths work: the table is interpolated linearly over the token grid.
        num_frames: training clip length.
        tubelet_size: (time, height, width) of a tubelet (Scenic's ``patches.size`` is ordered (h, w, t)).
            With ``tokenizer="uniform_frames"`` the time size is unused.
        num_channels: input channels.
        tokenizer: ``"tubelet"`` (a strided Conv3d over tubelets) or ``"uniform_frames"`` (Scenic's
            ``temporal_sampling``: ``num_sampled_frames`` frames picked uniformly, each cut into 2-D patches).
        num_sampled_frames: frames ``"uniform_frames"`` picks (None: every frame).
        model_variant: one of ``MODEL_VARIANTS`` (models 1 to 4 of the paper).
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: the (spatial) transformer.
        temporal_num_hidden_layers, temporal_num_attention_heads, temporal_intermediate_size: the temporal
            transformer of the factorised encoder (model 2).
        attention_order: model 3's order of the two attentions in a block.
        pooling: ``"token"`` (a cls token is prepended and classified; Scenic's ``classifier='token'``) or
            ``"gap"`` (the mean of every output token). Models 3 and 4 only support ``"gap"``, as in Scenic.
        hidden_act: MLP activation; Scenic's flax ``nn.gelu`` is the tanh approximation.
        qkv_bias: bias in the query/key/value projections.
        layer_norm_eps: epsilon of every LayerNorm (flax's default 1e-6).
        hidden_dropout_prob: dropout on embeddings, attention outputs and MLPs.
        attention_probs_dropout_prob: dropout on attention probabilities.
        drop_path_rate: stochastic depth of the last block (linear from 0); model 3's blocks have none, as
            in Scenic.
        class_splits: sizes of consecutive groups of logits that are separate classification heads sharing
            one Linear (Epic-Kitchens: ``[300, 97]``, nouns then verbs); None for a single head.
        initializer_range: std of the truncated-normal weight init.
    """

    model_type = "hfvm_vivit"

    image_size: int | list[int] | tuple[int, int] = 224
    num_frames: int = 32
    tubelet_size: list[int] | tuple[int, int, int] = (2, 16, 16)
    num_channels: int = 3
    tokenizer: str = "tubelet"
    num_sampled_frames: int | None = None
    model_variant: str = "spatio_temporal"
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    temporal_num_hidden_layers: int = 4
    temporal_num_attention_heads: int = 12
    temporal_intermediate_size: int = 3072
    attention_order: str = "time_space"
    pooling: str = "token"
    hidden_act: str = "gelu_pytorch_tanh"
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-6
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    drop_path_rate: float | int = 0.0
    class_splits: list[int] | None = None
    initializer_range: float = 0.02

    def validate_architecture(self):
        """Part of ``@strict`` validation: values the model cannot be built or run with."""
        for name, choices in (("model_variant", MODEL_VARIANTS), ("tokenizer", TOKENIZERS), ("pooling", POOLINGS),
                              ("attention_order", ATTENTION_ORDERS)):  # fmt: skip
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if self.model_variant in MODEL_VARIANTS[2:] and self.pooling != "gap":
            raise ValueError(f"model_variant {self.model_variant!r} has no cls token: set pooling='gap' (as Scenic)")
        for width, heads, prefix in ((self.hidden_size, self.num_attention_heads, ""),
                                     (self.hidden_size, self.temporal_num_attention_heads, "temporal_")):  # fmt: skip
            if width % heads != 0:
                raise ValueError(f"hidden_size ({width}) must be a multiple of {prefix}num_attention_heads ({heads})")
        if self.model_variant == "factorised_dot_product_attention" and self.num_attention_heads % 2:
            raise ValueError(
                f"factorised dot-product attention splits the heads between space and time: num_attention_heads "
                f"must be even, got {self.num_attention_heads}"
            )
        check_positive(self, (*VIT_SIZES, "temporal_num_hidden_layers", "temporal_num_attention_heads",
                              "temporal_intermediate_size"))  # fmt: skip
        check_probabilities(self, VIT_DROPOUTS)
        if len(self.tubelet_size) != 3 or min(self.tubelet_size) < 1:
            raise ValueError(f"tubelet_size must be three positive ints (time, height, width), got {self.tubelet_size}")
        if self.num_sampled_frames is not None and self.num_sampled_frames < 1:
            raise ValueError(f"num_sampled_frames must be positive or None, got {self.num_sampled_frames}")
        if self.class_splits is not None and (min(self.class_splits) < 1 or sum(self.class_splits) != self.num_labels):
            raise ValueError(
                f"class_splits {self.class_splits} must be positive and sum to num_labels ({self.num_labels})"
            )
        if any(size < tubelet for size, tubelet in zip(self.token_grid_input, self.token_grid_divisor)):
            raise ValueError(
                f"a {self.num_frames}-frame clip of {pair(self.image_size)} px holds no whole tubelet of "
                f"{tuple(self.tubelet_size)}"
            )

    @property
    def token_grid_input(self) -> tuple[int, int, int]:
        frames = self.num_frames
        if self.tokenizer == "uniform_frames" and self.num_sampled_frames is not None:
            frames = min(frames, self.num_sampled_frames)  # Scenic keeps every frame when asked for more
        return (frames, *pair(self.image_size))

    @property
    def token_grid_divisor(self) -> tuple[int, int, int]:
        time = 1 if self.tokenizer == "uniform_frames" else self.tubelet_size[0]
        return (time, self.tubelet_size[1], self.tubelet_size[2])

    @property
    def token_grid(self) -> tuple[int, int, int]:
        """(time, height, width) of the token grid at the training clip length and resolution."""
        return tuple(size // step for size, step in zip(self.token_grid_input, self.token_grid_divisor))


__all__ = ["ATTENTION_ORDERS", "MODEL_VARIANTS", "POOLINGS", "TOKENIZERS", "ViViTConfig"]
