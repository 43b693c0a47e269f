"""Video Swin against torchvision's ``swin3d_t`` and ``swin3d_b``: same (random, torchvision-initialised)
weights, converted by ``conversion/convert_video_swin_torchvision.py``; one 32 x 224 x 224 clip per sample.

``benchmark_pairs()`` maps a row name to ``builder(device) -> (call, ours, peer, example_input)``;
``call(model)`` is a zero-argument closure computing that model's logits (ours takes
``(batch, frames, C, H, W)``, torchvision ``(batch, C, frames, H, W)``). ``batch_size`` and ``CLIP`` can be
changed by the caller (the lead's harness: CPU batch 1, CUDA batch 8).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

REPO_ROOT = str(Path(__file__).resolve().parents[2])
if REPO_ROOT not in sys.path:  # the conversion scripts live beside the package
    sys.path.insert(0, REPO_ROOT)

CLIP = (32, 224, 224)  # frames, height, width: the published Kinetics input
PEERS = ("swin3d_t", "swin3d_b")


def _builder(name: str, batch_size: int) -> Callable[[torch.device], tuple]:
    def build(device: torch.device):
        import torchvision

        from conversion.common import load_converted
        from conversion.convert_video_swin_torchvision import convert_torchvision_state_dict
        from hf_videomodels.models.video_swin import VideoSwinForVideoClassification

        torch.manual_seed(0)
        peer = getattr(torchvision.models.video, name)().eval()
        config, state = convert_torchvision_state_dict(peer.state_dict())
        ours = load_converted(VideoSwinForVideoClassification, config, state)
        ours, peer = ours.to(device), peer.to(device)
        frames, height, width = CLIP
        clip = torch.randn(batch_size, frames, 3, height, width, device=device)
        peer_clip = clip.transpose(1, 2)

        def call(model: nn.Module) -> Callable[[], torch.Tensor]:
            if model is peer:
                return lambda: peer(peer_clip)
            return lambda: model(clip).logits

        return call, ours, peer, clip

    return build


def benchmark_pairs(batch_size: int = 1) -> dict[str, Callable[[torch.device], tuple]]:
    return {f"Video Swin vs torchvision {name}": _builder(name, batch_size) for name in PEERS}


if __name__ == "__main__":  # smoke run: one forward each on a small clip, and the logit difference
    CLIP = (8, 64, 64)
    for row, build in benchmark_pairs().items():
        call, ours, peer, _ = build(torch.device("cpu"))
        with torch.no_grad():
            difference = (call(ours)() - call(peer)()).abs().max().item()
        print(f"{row}: max abs logit difference {difference:.2e}")
