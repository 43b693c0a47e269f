"""I3D (full Inception-V1, 16x224 RGB): ours vs. the original pytorch-i3d ``InceptionI3d``, both loaded from the
reference parity checkpoint in ``../shared/reference/i3d``.

The original code is not part of this package: point ``PYTORCH_I3D`` (or ``bench_models.py --pytorch-i3d``) at
its ``pytorch_i3d.py`` (github.com/piergiaj/pytorch-i3d); without it the row is skipped.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

from conversion.convert_i3d_pytorch_i3d import convert_pytorch_i3d_state_dict
from hf_videomodels import I3DForVideoClassification

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "i3d"


def _original_module():
    path = os.environ.get("PYTORCH_I3D")
    if not path or not Path(path).is_file():
        raise FileNotFoundError("set PYTORCH_I3D (or --pytorch-i3d) to the original pytorch_i3d.py")
    spec = importlib.util.spec_from_file_location("pytorch_i3d", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def i3d_rgb(device: torch.device):
    original = _original_module()
    checkpoint = torch.load(REFERENCE / "rgb_imagenet_parity.pt", map_location="cpu", weights_only=True)
    peer = original.InceptionI3d(400, in_channels=3)
    peer.load_state_dict(checkpoint)
    config, state_dict = convert_pytorch_i3d_state_dict(checkpoint)
    ours = I3DForVideoClassification(config)
    ours.load_state_dict(state_dict, strict=True)
    from safetensors.torch import load_file

    clip = load_file(REFERENCE / "inputs.safetensors")["rgb"].float()[:1]  # (B, C, T, H, W)
    pixel_values = clip.transpose(1, 2).contiguous().to(device)  # ours: (B, T, C, H, W)

    def call(model):
        if model is ours:
            return lambda: model(pixel_values).logits
        # The original returns per-time logits; ours averages them over time (temporal_pooling="mean").
        return lambda: model(pixel_values.transpose(1, 2)).mean(dim=2)

    return call, ours.to(device).eval(), peer.to(device).eval(), pixel_values


def benchmark_pairs():
    return {"I3D rgb 16x224 vs pytorch-i3d": i3d_rgb}
