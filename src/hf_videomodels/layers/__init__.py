"""Building blocks shared by the architectures (one definition each)."""

from .conv3d import (
    SAME_TF,
    Conv3dAs2d,
    Conv3dOneDNN,
    ConvBNAct3d,
    MaxPool3dKeepDtype,
    MaxPool3dSameTF,
    conv3d_onednn_on_cpu,
    pad_same_tf,
    same_tf_padding,
    triple,
)
from .fuse import (
    fold_batch_norm_into_conv,
    fold_batch_norms,
    folded_residual_forward,
    folded_unit_forward,
    has_folded_batch_norms,
    is_folded,
    onednn_fused_conv,
)
from .inflate import (
    INFLATION_MODES,
    adapt_input_channels,
    cross_modality_conv_weight,
    inflate_conv_weight,
    inflate_state_dict,
    input_convolutions,
    temporal_kernel_sizes_like,
)
from .attention import MultiHeadSelfAttention
from .drop_path import DropPath, drop_path
from .mlp import Mlp
from .patch_embed import FramePatchEmbedding, pair
from .pos_embed import resize_position_embeddings, resize_time_embeddings
from .consensus import CONSENSUS_MODES, FrameConsensus, fold_frames, unfold_frames
from .window_attention import (
    PatchMerging,
    SwinBlock,
    SwinEncoder,
    SwinPatchEmbedding,
    SwinStage,
    WindowAttention,
    relative_position_index,
    resize_relative_position_bias_table,
    shifted_window_mask,
    window_and_shift,
    window_partition,
    window_reverse,
)
