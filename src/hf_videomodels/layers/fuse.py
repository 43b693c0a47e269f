"""Inference-time folding of BatchNorm into the convolution before it.

In eval mode a BatchNorm is an affine map per channel, ``y = (x - mean) * s + beta`` with ``s = gamma /
sqrt(var + eps)``, so after a convolution it can be folded into the convolution's weight (``w * s`` per output
channel) and bias (``(b - mean) * s + beta``): one op and one pass over the activations fewer per unit, with the
same numbers up to float rounding. The package's CNN units (``ConvBNAct3d``, TSN's ``ConvBNAct2d`` and stem) name
their convolution ``conv`` and the BatchNorm applied right after it ``bn``; :func:`fold_batch_norms` folds every
such pair and replaces the BatchNorm by an ``nn.Identity``.

A folded model is for inference only: it has no BatchNorm left to train, and its state dict (conv biases, no
``bn.*`` keys) no longer matches its config, so ``VideoPreTrainedModel`` refuses ``train()`` and
``save_pretrained`` on it (:func:`has_folded_batch_norms`). Reload the model to get the unfolded one back.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..errors import UserInputError

FOLDED_MARK = "batch_norm_folded"  # set on each unit whose BatchNorm was folded into its conv


def _conv_bn_pair(module: nn.Module) -> tuple[nn.modules.conv._ConvNd, _BatchNorm] | None:
    conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
    if isinstance(conv, nn.modules.conv._ConvNd) and isinstance(bn, _BatchNorm) and not conv.transposed:
        return conv, bn
    return None


@torch.no_grad()
def fold_batch_norm_into_conv(conv: nn.modules.conv._ConvNd, bn: _BatchNorm) -> None:
    """Fold the eval-mode ``bn`` into ``conv`` in place (computed in float64, stored in the conv's dtype and
    memory format; the conv gains a bias if it had none)."""
    if bn.running_mean is None or bn.running_var is None:
        raise UserInputError("a BatchNorm without running statistics cannot be folded: it normalises every batch")
    scale = bn.running_var.double().add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight.double()
    shift = -bn.running_mean.double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    if conv.bias is not None:
        shift = shift + conv.bias.double() * scale
    weight = conv.weight
    weight.copy_(weight.double() * scale.view(-1, *[1] * (weight.ndim - 1)))  # copy_ keeps the layout
    if conv.bias is None:
        conv.bias = nn.Parameter(torch.empty(weight.shape[0], dtype=weight.dtype, device=weight.device))
    conv.bias.copy_(shift)


def fold_batch_norms(model: nn.Module) -> int:
    """Fold the BatchNorm of every conv + BatchNorm unit of ``model`` (modules with ``conv`` and ``bn``
    children, the BatchNorm applied to the conv's output) into the conv; returns how many were folded.

    Refuses a model in training mode: training updates the statistics that folding freezes into the weights.
    """
    if any(module.training for module in model.modules()):
        raise UserInputError("fuse_conv_bn is for inference and the model is in training mode: call model.eval() first")
    folded = 0
    for module in model.modules():
        pair = _conv_bn_pair(module)
        if pair is None:
            continue
        fold_batch_norm_into_conv(*pair)
        module.bn = nn.Identity().eval()
        setattr(module, FOLDED_MARK, True)
        folded += 1
    # Inside an autocast block, autocast keeps the low-precision copies of the weights it has cast; they are stale now.
    torch.clear_autocast_cache()
    return folded


def has_folded_batch_norms(model: nn.Module) -> bool:
    """Whether :func:`fold_batch_norms` has folded any BatchNorm of ``model`` (or of a model inside it)."""
    return any(getattr(module, FOLDED_MARK, False) for module in model.modules())
