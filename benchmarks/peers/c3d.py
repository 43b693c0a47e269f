"""C3D against its peer, the PyTorch port DavideA/c3d-pytorch, with the same random weights.

No pip package ships C3D. Set ``C3D_PYTORCH_MODEL`` to the port's ``C3D_model.py`` (github.com/DavideA/c3d-pytorch)
to benchmark the original class; otherwise the peer is ``PortC3D`` below, the port's forward restated in plain
PyTorch (the same layers and calls, so the same kernels). The port flattens pool5 with ``view``, which fails on a
channels_last_3d tensor, so its users run it contiguous; ours runs channels_last_3d. The port returns softmax
probabilities: its logits are read from fc8 with a forward hook.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

import torch
from torch import nn

from conversion.convert_c3d_pickle import convert_c3d_state_dict
from hf_videomodels.models.c3d import C3DForVideoClassification


class PortC3D(nn.Module):
    """The port's ``C3D``: same module names, pools, ``view(-1, 8192)`` flatten and final softmax."""

    def __init__(self):
        super().__init__()
        widths = {"conv1": (3, 64), "conv2": (64, 128), "conv3a": (128, 256), "conv3b": (256, 256)}
        widths.update({"conv4a": (256, 512), "conv4b": (512, 512), "conv5a": (512, 512), "conv5b": (512, 512)})
        for name, (in_channels, out_channels) in widths.items():
            self.add_module(name, nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1))
        self.pool1 = nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2))
        self.pool2, self.pool3, self.pool4 = (nn.MaxPool3d(2, stride=2) for _ in range(3))
        self.pool5 = nn.MaxPool3d(2, stride=2, padding=(0, 1, 1))
        self.fc6, self.fc7, self.fc8 = nn.Linear(8192, 4096), nn.Linear(4096, 4096), nn.Linear(4096, 487)
        self.dropout, self.relu, self.softmax = nn.Dropout(0.5), nn.ReLU(), nn.Softmax(dim=1)

    def forward(self, x):
        h = self.pool1(self.relu(self.conv1(x)))
        h = self.pool2(self.relu(self.conv2(h)))
        h = self.pool3(self.relu(self.conv3b(self.relu(self.conv3a(h)))))
        h = self.pool4(self.relu(self.conv4b(self.relu(self.conv4a(h)))))
        h = self.pool5(self.relu(self.conv5b(self.relu(self.conv5a(h)))))
        h = self.dropout(self.relu(self.fc6(h.view(-1, 8192))))
        h = self.dropout(self.relu(self.fc7(h)))
        return self.softmax(self.fc8(h))


def _peer() -> nn.Module:
    path = os.environ.get("C3D_PYTORCH_MODEL")
    if not path:
        return PortC3D()
    spec = importlib.util.spec_from_file_location("c3d_pytorch_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.C3D()


def _randomize(model: nn.Module) -> None:
    """Weights of scale gain / sqrt(fan_in) (the reference fixture's recipe), so that raw 0-255 input gives logits
    of order one and the logit difference means something (PyTorch's default init makes them ~0.02)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0, 0.02, generator=generator)
                continue
            gain = {"conv1": 1 / 150, "fc8": 1.0}.get(name.split(".")[0], 1.45)
            param.normal_(0, gain / param[0].numel() ** 0.5, generator=generator)


def c3d_pair(device: torch.device, batch_size: int = 1):
    peer = _peer().eval()
    peer.benchmark_keeps_layout = True  # its view(-1, 8192) needs contiguous pool5 output
    _randomize(peer)
    config, state_dict = convert_c3d_state_dict(peer.state_dict(), labels=[f"class_{i}" for i in range(487)])
    ours = C3DForVideoClassification(config).eval()
    ours.load_state_dict(state_dict, strict=True)
    ours, peer = ours.to(device).to(memory_format=torch.channels_last_3d), peer.to(device)
    clip = torch.randint(0, 256, (batch_size, 16, 3, 112, 112), generator=torch.Generator().manual_seed(1)).float()
    clip = clip.to(device)
    peer_input = clip.permute(0, 2, 1, 3, 4).contiguous()  # the port takes (batch, channels, frames, H, W)
    peer_logits = {}
    peer.fc8.register_forward_hook(lambda _module, _args, output: peer_logits.__setitem__("fc8", output))

    def call(model: nn.Module) -> Callable[[], torch.Tensor]:
        if model is ours:
            return lambda: model(clip).logits

        def run_peer() -> torch.Tensor:
            model(peer_input)
            return peer_logits["fc8"]

        return run_peer

    return call, ours, peer, clip


def benchmark_pairs() -> dict[str, Callable[[torch.device], tuple]]:
    peer = "c3d-pytorch" if os.environ.get("C3D_PYTORCH_MODEL") else "c3d-pytorch restated"
    return {
        f"C3D 16x112 vs {peer} (batch 1)": lambda device: c3d_pair(device, batch_size=1),
        f"C3D 16x112 vs {peer} (batch 8)": lambda device: c3d_pair(device, batch_size=8),
    }
