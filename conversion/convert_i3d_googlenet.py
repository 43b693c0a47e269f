"""Build an I3D backbone from a 2D ImageNet Inception-V1 by inflation (the I3D paper's bootstrapping).

torchvision's ``googlenet`` is the same Inception-V1 with BatchNorm (eps 1e-3) that I3D inflates, with the
same channel plan and a 3x3 conv (not 5x5) in its third branch. Its ImageNet weights expect inputs in
[-1, 1] (``transform_input=True`` turns ImageNet-normalised input back into that range), the same as
I3D's, so the inflated model uses I3D's preprocessing unchanged.

Names: conv1 / conv2 / conv3 -> conv_1a (7x7 -> 7x7x7), conv_2b (1x1), conv_2c (3x3 -> 3x3x3);
inception3a ... inception5b -> mixed_3b ... mixed_5c, with branch1 -> branch0, branch2.{0,1} ->
branch1_{reduce,conv}, branch3.{0,1} -> branch2_{reduce,conv}, branch4.1 -> branch3_proj.
The ImageNet classifier (``fc``) and auxiliary heads (``aux1``, ``aux2``) are not used: a video model
trains a new classifier.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from conversion.common import TensorLedger, check_complete
from conversion.convert_i3d_pytorch_i3d import take_conv_bn_unit
from hf_videomodels.layers import inflate_state_dict, temporal_kernel_sizes_like
from hf_videomodels.models.i3d.configuration_i3d import INCEPTION_BLOCK_NAMES, I3DConfig
from hf_videomodels.models.i3d.modeling_i3d import I3DModel

GOOGLENET_STEM = {"conv1": "conv_1a", "conv2": "conv_2b", "conv3": "conv_2c"}
GOOGLENET_BLOCKS = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")  # -> INCEPTION_BLOCK_NAMES
GOOGLENET_BRANCHES = {
    "branch1": "branch0",
    "branch2.0": "branch1_reduce",
    "branch2.1": "branch1_conv",
    "branch3.0": "branch2_reduce",
    "branch3.1": "branch2_conv",
    "branch4.1": "branch3_proj",  # branch4.0 is the parameter-free max-pool
}
UNUSED_PREFIXES = ("fc.", "aux1.", "aux2.")


def inflate_googlenet_state_dict(
    googlenet_state_dict: Mapping[str, torch.Tensor], mode: str = "mean"
) -> tuple[I3DConfig, dict[str, torch.Tensor]]:
    """A torchvision GoogLeNet state dict -> (``I3DConfig``, ``I3DModel`` state dict) with inflated convs.

    ``mode``: "mean" (the paper: each 2D filter repeated over time and divided by the temporal size) or
    "center" (the 2D filter at the middle time slice). Every GoogLeNet tensor is used except the ImageNet
    classifier and auxiliary heads, which are dropped explicitly.
    """
    unused = {key for key in googlenet_state_dict if key.startswith(UNUSED_PREFIXES)}
    ledger = TensorLedger(googlenet_state_dict, optional=unused)
    for key in sorted(unused):
        ledger.skip(key)
    renamed: dict[str, torch.Tensor] = {}
    for source, target in GOOGLENET_STEM.items():
        take_conv_bn_unit(ledger, source, target, renamed, conv="conv")
    for source_block, name in zip(GOOGLENET_BLOCKS, INCEPTION_BLOCK_NAMES):
        for source, target in GOOGLENET_BRANCHES.items():
            take_conv_bn_unit(ledger, f"inception{source_block}.{source}", f"mixed_{name}.{target}", renamed, "conv")
    ledger.finish()

    config = I3DConfig(num_channels=renamed["conv_1a.conv.weight"].shape[1])
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        target_model = I3DModel(config)
    temporal_sizes = temporal_kernel_sizes_like(renamed, target_model.state_dict())
    converted = inflate_state_dict(renamed, temporal_sizes, mode=mode)
    check_complete(target_model, converted)
    return config, converted
