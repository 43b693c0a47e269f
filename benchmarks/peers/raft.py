"""RAFT large and small against torchvision's ``raft_large`` / ``raft_small``: 12 iterations on a pair of
368 x 496 frames (a Sintel-sized crop, as the original evaluates at 436 x 1024 padded; the size torchvision's
docs use), the "logits" being the final full-resolution flow.

Both models hold the same weights: torchvision's random ones (with non-trivial BatchNorm statistics and a small
flow head, so that the correlation lookups stay inside the frame), converted by
``conversion/convert_raft_torchvision.py``. torchvision upsamples the flow of every iteration (its forward returns
them all); ours upsamples only the last one unless asked for all of them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision

from conversion.convert_raft_torchvision import convert_torchvision_state_dict
from hf_videomodels.models.raft import RaftModel

HEIGHT, WIDTH = 368, 496
NUM_ITERATIONS = 12


def _randomize(peer: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in peer.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
        peer.update_block.flow_head.conv2.weight.mul_(0.1)


def _builder(name: str) -> Callable[[torch.device], tuple]:
    def build(device: torch.device):
        torch.manual_seed(0)
        peer = getattr(torchvision.models.optical_flow, name)()
        _randomize(peer)
        config, converted = convert_torchvision_state_dict(peer.state_dict())
        with torch.device("meta"):
            ours = RaftModel(config)
        ours.load_state_dict(converted, strict=True, assign=True)
        ours, peer = ours.eval().to(device), peer.eval().to(device)
        generator = torch.Generator().manual_seed(0)
        pairs = (torch.rand(1, 2, 3, HEIGHT, WIDTH, generator=generator) * 2 - 1).to(device)

        def call(model: torch.nn.Module) -> Callable[[], torch.Tensor]:
            if model is ours:
                return lambda: ours(pairs, num_iterations=NUM_ITERATIONS).flow
            return lambda: peer(pairs[:, 0], pairs[:, 1], num_flow_updates=NUM_ITERATIONS)[-1]

        return call, ours, peer, pairs

    return build


def benchmark_pairs() -> dict[str, Callable[[torch.device], tuple]]:
    return {
        "RAFT large vs torchvision raft_large": _builder("raft_large"),
        "RAFT small vs torchvision raft_small": _builder("raft_small"),
    }
