"""ResNet-50 per frame (TSN, average consensus, 8x224): ours vs. torchvision's ``resnet50`` applied to every frame
and its logits averaged over the frames, as TSN combines them (random torchvision weights, converted to ours with
``conversion/convert_tsn_resnet.py``)."""

from __future__ import annotations

import torch
from conversion.convert_tsn_resnet import convert_resnet_state_dict
from hf_videomodels.models.tsn import TSNForVideoClassification


def resnet50_per_frame(device: torch.device):
    from torchvision.models import resnet50

    torch.manual_seed(0)
    peer = resnet50()
    config, state_dict = convert_resnet_state_dict(peer.state_dict(), "torchvision")
    ours = TSNForVideoClassification(config)
    ours.load_state_dict(state_dict, strict=True)
    pixel_values = torch.randn(1, 8, 3, 224, 224, generator=torch.Generator().manual_seed(1)).to(device)

    def call(model):
        if model is ours:
            return lambda: model(pixel_values).logits
        return lambda: model(pixel_values.flatten(0, 1)).unflatten(0, pixel_values.shape[:2]).mean(dim=1)

    return call, ours.to(device).eval(), peer.to(device).eval(), pixel_values


def benchmark_pairs():
    return {"ResNet-50 per frame (TSN) 8x224 vs torchvision resnet50": resnet50_per_frame}
