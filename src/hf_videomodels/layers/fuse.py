"""Inference-time folding of BatchNorm into the convolution before it.

In eval mode a BatchNorm is an affine map per channel, ``y = (x - mean) * s + beta`` with ``s = gamma /
sqrt(var + eps)``, so after a convolution it can be folded into the convolution's weight (``w * s`` per output
channel) and bias (``(b - mean) * s + beta``): one op and one pass over the activations fewer per unit, with the
same numbers up to float rounding. The package's CNN units (``ConvBNAct3d``, TSN's ``ConvBNAct2d`` and stem) name
their convolution ``conv`` and the BatchNorm applied right after it ``bn``; :func:`fold_batch_norms` folds every
such pair and replaces the BatchNorm by an ``nn.Identity``.

On the CPU, a folded unit's conv, bias and ReLU (and a residual block's final sum, where the block asks for it) then
run as one oneDNN call (:func:`onednn_fused_conv`), in fp32 and under bf16 autocast: no pass over the activations
is left for BatchNorm, ReLU or the residual add (a ResNet bottleneck's conv + add + ReLU in bf16: about a third of
the time of the three ops). Under bf16 autocast the unit also keeps the bf16 copy of its weights between calls (recast
when the weights change) instead of casting them on every call as autocast does.

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
_FUSABLE_CONVS = (nn.Conv2d, nn.Conv3d)


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


def is_folded(unit: nn.Module) -> bool:
    return getattr(unit, FOLDED_MARK, False)


def folded_unit_forward(unit: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """A folded conv + BatchNorm unit (``conv``, ``act`` a ReLU or the identity) as one oneDNN call, or None where
    the unit is not folded or :func:`onednn_fused_conv` does not apply (then the unit runs its own ops)."""
    if not is_folded(unit) or not isinstance(unit.act, (nn.ReLU, nn.Identity)):
        return None
    return onednn_fused_conv(unit.conv, x, relu=isinstance(unit.act, nn.ReLU))


def folded_residual_forward(unit: nn.Module, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor | None:
    """``relu(unit(x) + residual)``, the end of a residual block, as one oneDNN call when ``unit`` is a folded conv +
    BatchNorm unit without activation; None otherwise (the block runs its own ops)."""
    if not is_folded(unit) or not isinstance(unit.act, nn.Identity):
        return None
    return onednn_fused_conv(unit.conv, x, relu=True, residual=residual)


def _bf16_weights(conv: nn.modules.conv._ConvNd) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The conv's weight and bias cast to bf16, cached on the conv until either changes (in-place updates bump the
    tensor's version; a new tensor has a new address)."""
    tensors = (conv.weight, conv.bias)
    key = tuple((t._version, t.data_ptr(), t.device) for t in tensors if t is not None)
    cached = conv.__dict__.get("_bf16_weights")
    if cached is None or cached[0] != key:
        cached = (key, *(None if t is None else t.detach().to(torch.bfloat16) for t in tensors))
        conv.__dict__["_bf16_weights"] = cached  # a plain attribute: not a buffer, not in the state dict
    return cached[1], cached[2]


def onednn_fused_conv(
    conv: nn.modules.conv._ConvNd, x: torch.Tensor, relu: bool, residual: torch.Tensor | None = None
) -> torch.Tensor | None:
    """``relu?(conv(x) [+ residual])`` as one oneDNN call (the convolution with its bias, the sum and the ReLU
    as post-ops), for CPU inference in fp32 or under bf16 autocast (then in bf16, as autocast would run the conv,
    with the bf16 weights cached: :func:`_bf16_weights`). None where it does not apply (training or gradients,
    ``torch.compile``, another device or dtype, padding modes other than zeros): the caller runs the plain ops."""
    if (
        x.device.type != "cpu"
        or not isinstance(conv, _FUSABLE_CONVS)  # the package's subclasses compute the same convolution
        or torch.is_grad_enabled()
        or torch.compiler.is_compiling()
        or not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled)
        or conv.padding_mode != "zeros"
        or isinstance(conv.padding, str)
        or conv.weight.dtype != torch.float32
        or conv.weight.device.type != "cpu"
        or (residual is not None and residual.shape[1] != conv.out_channels)
    ):
        return None
    weight, bias = conv.weight, conv.bias
    if torch.is_autocast_enabled("cpu"):
        if torch.get_autocast_dtype("cpu") != torch.bfloat16 or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return None
        weight, bias = _bf16_weights(conv)
        x = x.to(torch.bfloat16)
        residual = None if residual is None else residual.to(torch.bfloat16)
    elif x.dtype != torch.float32 or (residual is not None and residual.dtype != torch.float32):
        return None
    settings = (conv.padding, conv.stride, conv.dilation, conv.groups)
    pointwise = torch.ops.mkldnn._convolution_pointwise
    if residual is None:
        return pointwise(x, weight, bias, *settings, "relu" if relu else "none", [], "")
    return pointwise.binary(x, residual, weight, bias, *settings, "add", None, "relu" if relu else None, [], "")
