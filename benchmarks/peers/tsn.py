"""TSN against its peer: torchvision's resnet50 applied to every frame, its logits averaged over the frames.

Both models hold the same weights (torchvision's random ResNet-50 with non-trivial BatchNorm statistics,
converted by ``conversion/convert_tsn_resnet.py``), run in eval mode on an 8-segment clip of 224 x 224 frames,
channels_last (the 2D layout users pick for ResNets).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision

from conversion.convert_tsn_resnet import convert_resnet_state_dict
from hf_videomodels.models.tsn import TSNForVideoClassification

NUM_SEGMENTS = 8


def _randomize_batch_norm(model: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)


def resnet50_per_frame(device: torch.device):
    torch.manual_seed(0)
    peer = torchvision.models.resnet50()
    _randomize_batch_norm(peer)
    config, converted = convert_resnet_state_dict(peer.state_dict(), "torchvision")
    with torch.device("meta"):
        ours = TSNForVideoClassification(config)
    ours.load_state_dict(converted, strict=True, assign=True)
    ours, peer = (model.eval().to(device, memory_format=torch.channels_last) for model in (ours, peer))
    pixel_values = torch.randn(1, NUM_SEGMENTS, 3, 224, 224, device=device)

    def call(model: torch.nn.Module) -> Callable[[], torch.Tensor]:
        if model is ours:
            return lambda: ours(pixel_values).logits
        return lambda: peer(pixel_values.flatten(0, 1)).unflatten(0, pixel_values.shape[:2]).mean(dim=1)

    return call, ours, peer, pixel_values


def benchmark_pairs() -> dict[str, Callable[[torch.device], tuple]]:
    return {"resnet50 per frame (TSN) vs torchvision": resnet50_per_frame}
