"""R3D-18, MC3-18 and R(2+1)D-18 (16x112x112 clips) against torchvision's own ``r3d_18``, ``mc3_18`` and
``r2plus1d_18``, with the same weights: torchvision's random initialisation with non-trivial BatchNorm statistics,
converted by ``conversion/convert_video_resnet_torchvision.py``.

Both models run in eval mode in ``channels_last_3d`` (weights and, for the peer, its (B, C, T, H, W) input), the
layout torchvision's video-model users pick on CPU and GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torchvision.models import video

from conversion.convert_video_resnet_torchvision import PUBLISHED, convert_torchvision_state_dict
from hf_videomodels.models.video_resnet import VideoResNetForVideoClassification

CLIP = (16, 112, 112)


def _randomize_batch_norm(model: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)


def torchvision_pair(builder: str, device: torch.device):
    torch.manual_seed(0)
    peer = getattr(video, builder)()
    _randomize_batch_norm(peer)
    config, converted = convert_torchvision_state_dict(peer.state_dict())
    with torch.device("meta"):
        ours = VideoResNetForVideoClassification(config)
    ours.load_state_dict(converted, strict=True, assign=True)
    ours, peer = (model.eval().to(device, memory_format=torch.channels_last_3d) for model in (ours, peer))
    frames, height, width = CLIP
    pixel_values = torch.randn(1, frames, 3, height, width, generator=torch.Generator().manual_seed(1)).to(device)
    peer_input = pixel_values.transpose(1, 2).contiguous(memory_format=torch.channels_last_3d)  # (B, C, T, H, W)

    def call(model: torch.nn.Module) -> Callable[[], torch.Tensor]:
        if model is ours:
            return lambda: ours(pixel_values).logits
        return lambda: peer(peer_input)

    return call, ours, peer, pixel_values


def benchmark_pairs() -> dict[str, Callable[[torch.device], tuple]]:
    return {f"{builder} 16x112 vs torchvision": partial(torchvision_pair, builder) for builder in PUBLISHED}
