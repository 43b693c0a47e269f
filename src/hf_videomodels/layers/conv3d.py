"""3D convolution building blocks shared by the video CNNs (I3D, C3D, R(2+1)D, SlowFast, two-stream).

Two padding modes:

* an int or a (t, h, w) tuple: ordinary symmetric padding, done by the conv itself;
* ``"same_tf"``: TensorFlow's ``padding="SAME"``. The output size is ``ceil(size / stride)`` and the total
  padding ``max(k - stride, 0)`` (size divisible by the stride) or ``max(k - size % stride, 0)`` (otherwise),
  with the odd pixel going to the *end* of the dimension. With a stride above 1 the amount depends on the
  input size, so it is computed in ``forward``. Ports of TensorFlow checkpoints (DeepMind's I3D) need it:
  PyTorch's symmetric ``k // 2`` gives the same shapes but shifts every strided window by one pixel.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from transformers.activations import ACT2FN

from .fuse import folded_unit_forward

SAME_TF = "same_tf"

Size3d = int | Sequence[int]
Padding3d = str | int | Sequence[int]


def triple(value: Size3d) -> tuple[int, int, int]:
    """``3`` -> ``(3, 3, 3)``; a sequence of three ints is returned as a tuple."""
    if isinstance(value, int):
        return (value, value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 3:
        raise ValueError(f"expected an int or three ints (time, height, width), got {value}")
    return value


def same_tf_padding(size: int, kernel_size: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding of one dimension as (before, after); the extra pixel goes after."""
    if size % stride == 0:
        total = max(kernel_size - stride, 0)
    else:
        total = max(kernel_size - size % stride, 0)
    return total // 2, total - total // 2


def static_same_tf_padding(kernel_size: Size3d, stride: Size3d) -> tuple[int, int, int] | None:
    """The symmetric padding equal to 'SAME' for every input size, or None if it depends on the size.

    With stride 1 the total padding is always ``k - 1``, symmetric when ``k`` is odd, so the conv's own
    padding can do it and the extra ``F.pad`` copy is skipped.
    """
    kernel_size, stride = triple(kernel_size), triple(stride)
    if all(s == 1 and k % 2 == 1 for k, s in zip(kernel_size, stride)):
        return tuple((k - 1) // 2 for k in kernel_size)
    return None


def pad_same_tf(x: torch.Tensor, kernel_size: Size3d, stride: Size3d) -> torch.Tensor:
    """Zero-pad a (batch, channels, time, height, width) tensor as TensorFlow's 'SAME' would before a conv/pool."""
    kernel_size, stride = triple(kernel_size), triple(stride)
    pads: list[int] = []
    # F.pad lists the last dimension first: (w_before, w_after, h_before, h_after, t_before, t_after).
    for dim in (2, 1, 0):
        pads.extend(same_tf_padding(x.shape[2 + dim], kernel_size[dim], stride[dim]))
    if not any(pads):
        return x
    return F.pad(x, pads)


def _resolve_padding(padding: Padding3d, kernel_size: Size3d, stride: Size3d) -> tuple[tuple[int, int, int], bool]:
    """Padding the layer itself applies, and whether 'SAME' padding must still be added in ``forward``."""
    if isinstance(padding, str):
        if padding != SAME_TF:
            raise ValueError(f"padding must be an int, three ints or {SAME_TF!r}, got {padding!r}")
        static = static_same_tf_padding(kernel_size, stride)
        return (static, False) if static is not None else ((0, 0, 0), True)
    return triple(padding), False


class Conv3dAs2d(nn.Conv3d):
    """A ``Conv3d`` that runs as a ``Conv2d`` when its kernel is spatial only (1 x kh x kw, no time stride or
    padding) or temporal only (kt x 1 x 1, no spatial stride or padding) and its input is ``channels_last_3d``.

    Folding the frames into the batch (spatial kernels) or height and width into one axis (temporal kernels) is
    then a view, in and out, and the 2D kernels of oneDNN are faster than its 3D ones on these shapes (an R(2+1)D
    temporal 3x1x1 convolution several times, a 1x3x3 one by a sixth, single-threaded CPU). Parameters, state
    dict and results (up to float rounding) are the ``Conv3d``'s; any other input takes the 3D path.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        foldable = x.ndim == 5 and self.padding_mode == "zeros" and not isinstance(self.padding, str)
        if not foldable or not x.is_contiguous(memory_format=torch.channels_last_3d):
            return super().forward(x)
        (kt, kh, kw), (st, sh, sw), (pt, ph, pw) = self.kernel_size, self.stride, self.padding
        batch, channels, time, height, width = x.shape
        if kt == 1 and st == 1 and pt == 0:
            frames = x.permute(0, 2, 1, 3, 4).reshape(batch * time, channels, height, width)
            out = F.conv2d(
                frames, self.weight.squeeze(2), self.bias, (sh, sw), (ph, pw), self.dilation[1:], self.groups
            )
            return out.view(batch, time, *out.shape[1:]).permute(0, 2, 1, 3, 4)
        if kh == kw == 1 and sh == sw == 1 and ph == pw == 0:
            pixels = x.reshape(batch, channels, time, height * width)
            out = F.conv2d(
                pixels, self.weight.squeeze(-1), self.bias, (st, 1), (pt, 0), (self.dilation[0], 1), self.groups
            )
            return out.view(*out.shape[:3], height, width)
        return super().forward(x)


def _onednn_convolution(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor | None:
    """oneDNN's ``conv(x)`` for CPU fp32 inference; None where PyTorch's own dispatch should run."""
    if (
        x.device.type == "cpu"
        and x.dtype == conv.weight.dtype == torch.float32
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
        and not torch.compiler.is_compiling()
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
        and conv.padding_mode == "zeros"
        and not isinstance(conv.padding, str)
    ):
        return torch.mkldnn_convolution(
            x, conv.weight, conv.bias, conv.padding, conv.stride, conv.dilation, conv.groups
        )
    return None


def conv3d_onednn_on_cpu(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)``, but CPU fp32 inference always goes through oneDNN (mkldnn).

    For a batch of one clip PyTorch picks its native kernel whenever ``N * C * T * H`` is small (C3D's conv1,
    conv4a and conv5 at batch 1), and on channels_last_3d tensors that kernel is about half as fast as oneDNN's
    (plus a layout copy each way). Training, autocast, ``torch.compile`` and other devices run ``conv`` unchanged.
    """
    out = _onednn_convolution(conv, x)
    return conv(x) if out is None else out


class Conv3dOneDNN(nn.Conv3d):
    """A ``Conv3d`` whose CPU fp32 inference always goes through oneDNN (see :func:`conv3d_onednn_on_cpu`): faster
    at batch 1 on channels_last_3d. Parameters, state dict and results (up to float rounding) are the
    ``Conv3d``'s."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = _onednn_convolution(self, x)
        return super().forward(x) if out is None else out


class ConvBNAct3d(nn.Module):
    """Conv3d -> BatchNorm3d (optional) -> activation (optional): the unit every 3D CNN stacks.

    Args:
        in_channels, out_channels, kernel_size, stride: as for ``nn.Conv3d``.
        padding: an int / (t, h, w) tuple for symmetric padding, or ``"same_tf"`` (see the module docstring).
        bias: give the conv a bias (usually not: the BatchNorm shift plays that role).
        batch_norm: add a ``BatchNorm3d`` after the conv.
        eps, momentum: BatchNorm settings in PyTorch's convention (TensorFlow's decay 0.99 is momentum 0.01).
        activation: a name from transformers' ``ACT2FN`` ("relu", "gelu", ...), a module, or None. ``"relu"`` runs
            in place (on the conv / BatchNorm output, which nothing else holds).
        conv_class: the conv's class, ``nn.Conv3d`` or a subclass with the same parameters and a faster path:
            :class:`Conv3dAs2d` (2D kernels for 1 x k x k and k x 1 x 1 convs on ``channels_last_3d`` input) or
            :class:`Conv3dOneDNN` (CPU fp32 inference always through oneDNN, faster at batch 1).

    Submodules are ``conv``, ``bn`` (when ``batch_norm``) and ``act``, so state dict keys read
    ``<unit>.conv.weight`` / ``<unit>.bn.running_mean``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3d,
        stride: Size3d = 1,
        padding: Padding3d = 0,
        bias: bool = False,
        batch_norm: bool = True,
        eps: float = 1e-5,
        momentum: float = 0.1,
        activation: str | nn.Module | None = "relu",
        conv_class: type[nn.Conv3d] = nn.Conv3d,
    ):
        super().__init__()
        self.kernel_size, self.stride = triple(kernel_size), triple(stride)
        conv_padding, self.pad_in_forward = _resolve_padding(padding, self.kernel_size, self.stride)
        self.conv = conv_class(
            in_channels, out_channels, self.kernel_size, stride=self.stride, padding=conv_padding, bias=bias
        )
        self.bn = nn.BatchNorm3d(out_channels, eps=eps, momentum=momentum) if batch_norm else None
        if activation == "relu":
            activation = nn.ReLU(inplace=True)
        elif isinstance(activation, str):
            activation = ACT2FN[activation]
        self.act = activation if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_in_forward:
            x = pad_same_tf(x, self.kernel_size, self.stride)
        out = folded_unit_forward(self, x)  # after fuse_conv_bn(), on the CPU: one oneDNN call
        if out is not None:
            return out
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)


class MaxPool3dKeepDtype(nn.MaxPool3d):
    """A ``MaxPool3d`` that pools in its input's dtype under autocast. CPU autocast runs ``max_pool3d`` in fp32, a
    cast of the whole map to fp32 and an fp32 output that the next conv casts back; the maxima are the same values
    either way (a maximum of bf16 numbers is one of them), so the cast only costs time (SlowFast's Slow stem map
    64x8x112x112: about as long as the pool itself)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.amp.is_autocast_available(x.device.type):  # the meta device
            return super().forward(x)
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x)


class MaxPool3dSameTF(nn.MaxPool3d):
    """Max-pool with TensorFlow 'SAME' output size, padding with **zeros** as pytorch-i3d does.

    TensorFlow itself ignores padded positions (like -inf padding); zero padding gives the same result
    whenever the input is non-negative, which holds where this pool is used: after a ReLU.
    """

    def __init__(self, kernel_size: Size3d, stride: Size3d):
        super().__init__(triple(kernel_size), stride=triple(stride), padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_same_tf(x, self.kernel_size, self.stride)
        if x.device.type != "cpu" or x.is_contiguous(memory_format=torch.channels_last_3d):
            return super().forward(x)
        # PyTorch's CPU max-pool is several times faster on channels_last_3d tensors (I3D's 3x3x3 pool on
        # 192x32x28x28: 465 ms contiguous, 96 ms with both layout conversions), so pool in that layout and
        # hand back the caller's.
        return super().forward(x.contiguous(memory_format=torch.channels_last_3d)).contiguous()
