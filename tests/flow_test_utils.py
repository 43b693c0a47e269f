"""Flow models for the flow tests: torchvision's RAFT behind RAFT's ``clip_flow`` interface, and a counting
wrapper to see when flow is (re)computed."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class TorchvisionClipFlow(nn.Module):
    """torchvision's ``raft_small`` / ``raft_large`` with ``clip_flow(pixel_values, num_iterations)``: pads every
    frame to a multiple of 8 as RAFT's ``InputPadder`` does (replicate, split evenly, the extra pixel after),
    takes the last iteration's flow, crops back."""

    def __init__(self, raft: nn.Module):
        super().__init__()
        self.raft = raft.eval()

    def clip_flow(self, pixel_values: torch.Tensor, num_iterations: int = 12) -> torch.Tensor:
        batch, frames, channels, height, width = pixel_values.shape
        pad_height, pad_width = -height % 8, -width % 8
        padding = (pad_width // 2, pad_width - pad_width // 2, pad_height // 2, pad_height - pad_height // 2)
        first = F.pad(pixel_values[:, :-1].reshape(-1, channels, height, width), padding, mode="replicate")
        second = F.pad(pixel_values[:, 1:].reshape(-1, channels, height, width), padding, mode="replicate")
        flow = self.raft(first, second, num_flow_updates=num_iterations)[-1]
        flow = flow[..., padding[2] : padding[2] + height, padding[0] : padding[0] + width]
        return flow.reshape(batch, frames - 1, 2, height, width)


def torchvision_raft_small(seed: int = 0) -> TorchvisionClipFlow:
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(seed)
    return TorchvisionClipFlow(raft_small(weights=None, progress=False))


class CountingFlow(nn.Module):
    """Wraps a flow model and counts the frame pairs it is asked for."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.pairs = 0

    def clip_flow(self, pixel_values: torch.Tensor, num_iterations: int = 12) -> torch.Tensor:
        self.pairs += pixel_values.shape[0] * (pixel_values.shape[1] - 1)
        return self.model.clip_flow(pixel_values, num_iterations=num_iterations)
