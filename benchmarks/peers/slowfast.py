"""SlowFast vs. pytorchvideo's ``slowfast_r50`` (the same network as PySlowFast's), same weights, one process.

The peer is built with random weights (BatchNorm statistics randomised too, so no layer is the identity),
converted to ours with ``conversion/convert_slowfast_pytorchvideo.py``. Both models start from the same
Fast-rate clip: ours picks the Slow frames inside its forward, the peer's closure does the same selection
(pytorchvideo's ``PackPathway`` step) before calling it, so both time the same work. Batch 1 on the CPU, 8 on
CUDA. Ours runs as converted: its weights are in ``channels_last_3d`` (``SlowFastPreTrainedModel.channels_last_3d``),
the layout oneDNN / cuDNN convolve fastest, which the bench script also gives the peer.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from conversion.convert_slowfast_pytorchvideo import convert_pytorchvideo_checkpoint  # noqa: E402
from hf_videomodels.models.slowfast import SlowFastForVideoClassification, slow_frame_indices  # noqa: E402

NUM_FRAMES, SIZE, ALPHA = 32, 224, 4


def _randomize(model: torch.nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0, 0.1, generator=generator)


def _slowfast_r50_pair(device: torch.device):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pytorchvideo.models.hub import slowfast_r50
    torch.manual_seed(0)
    peer = slowfast_r50(pretrained=False).eval()
    _randomize(peer)
    config, converted = convert_pytorchvideo_checkpoint(peer.state_dict(), variant="SLOWFAST_8x8_R50")
    ours = SlowFastForVideoClassification(config)
    ours.load_state_dict(converted, strict=True)
    ours.eval().to(device)
    peer.to(device)
    batch = 8 if device.type == "cuda" else 1
    clip = torch.randn(batch, NUM_FRAMES, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1)).to(device)
    slow_indices = slow_frame_indices(NUM_FRAMES, ALPHA).to(device)

    def call(model: torch.nn.Module) -> Callable[[], torch.Tensor]:
        if model is ours:
            return lambda: model(clip).logits

        def run_peer() -> torch.Tensor:
            fast = clip.transpose(1, 2)  # (batch, channels, frames, H, W), the peer's layout
            return model([fast.index_select(2, slow_indices), fast])

        return run_peer

    return call, ours, peer, clip


def benchmark_pairs() -> dict[str, Callable[[torch.device], tuple]]:
    return {
        "SlowFast 8x8 R50 (pytorchvideo slowfast_r50)": _slowfast_r50_pair,
    }


if __name__ == "__main__":  # smoke run: one forward each, logits compared
    for name, build in benchmark_pairs().items():
        call, ours, peer, _ = build(torch.device("cpu"))
        with torch.no_grad():
            difference = (call(ours)() - call(peer)()).abs().max().item()
        print(f"{name}: max abs logits difference {difference:.2e}")
