"""Swin (2D) converters against the libraries themselves, with random weights: transformers
``SwinForImageClassification``, timm ``SwinTransformer`` and torchvision ``swin_t/s/b``, at 224 and at a
non-square size (every stage at least a window wide, where the libraries agree on windows)."""

from __future__ import annotations

import pytest
import timm
import torch
import torchvision
import transformers

from conversion.convert_swin_timm import convert_timm_state_dict
from conversion.convert_swin_torchvision import convert_torchvision_state_dict
from conversion.convert_swin_transformers import convert_transformers_state_dict
from hf_videomodels.models.swin import SwinForVideoClassification

from .test_video_swin_conversion import randomize_

BOUND = 1e-4
SMALL = {"embed_dim": 16, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 2, 4]}


def _ours(config, state) -> SwinForVideoClassification:
    with torch.device("meta"):
        model = SwinForVideoClassification(config)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _compare(peer: torch.nn.Module, config, state, images: torch.Tensor, peer_logits=lambda out: out) -> float:
    model = _ours(config, state)
    with torch.no_grad():
        expected = peer_logits(peer(images))
        logits = model(images.unsqueeze(1)).logits  # each image is a one-frame clip
    assert expected.abs().max() > 0.1
    return (logits - expected).abs().max().item()


@pytest.mark.parametrize("size", [(224, 224), (256, 320)])
def test_transformers_parity(size):
    torch.manual_seed(0)
    peer_config = transformers.SwinConfig(image_size=list(size), num_labels=5, **SMALL)
    peer = transformers.SwinForImageClassification(peer_config).eval()
    randomize_(peer, seed=1)
    config, state = convert_transformers_state_dict(peer.state_dict(), peer.config.id2label)
    assert config.id2label == peer.config.id2label
    images = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(2))
    assert _compare(peer, config, state, images, lambda out: out.logits) < BOUND


# timm rolls before padding to whole windows (the others pad first), so it agrees only where no stage needs
# padding: sizes whose every stage is a multiple of the window.
@pytest.mark.parametrize("size", [(224, 224), (224, 448)])
def test_timm_parity(size):
    peer = timm.models.swin_transformer.SwinTransformer(img_size=size, num_classes=5, **SMALL).eval()
    randomize_(peer, seed=3)
    config, state = convert_timm_state_dict(peer.state_dict())
    images = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(4))
    assert _compare(peer, config, state, images) < BOUND


@pytest.mark.parametrize("name, size", [("swin_t", (224, 224)), ("swin_s", (256, 320)), ("swin_b", (224, 256))])
def test_torchvision_parity(name, size):
    with torch.device("meta"):  # torchvision's init is slow and replaced anyway
        peer = getattr(torchvision.models, name)(num_classes=5)
    peer = peer.to_empty(device="cpu").eval()
    for module in peer.modules():
        if hasattr(module, "define_relative_position_index"):
            module.define_relative_position_index()
    randomize_(peer, seed=5)
    config, state = convert_torchvision_state_dict(peer.state_dict())
    assert (config.embed_dim, config.depths) == {"swin_t": (96, [2, 2, 6, 2]), "swin_s": (96, [2, 2, 18, 2]),
                                                  "swin_b": (128, [2, 2, 18, 2])}[name]
    images = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(6))
    assert _compare(peer, config, state, images) < BOUND
