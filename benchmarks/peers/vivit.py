"""ViViT and ViT per frame against transformers (random weights in theirs, converted to ours).

* ViViT-B/16x2 model 1 (32 x 224, 400 classes) vs transformers' ``VivitForVideoClassification`` with SDPA, same
  weights (``conversion/convert_vivit_transformers.py``).
* ViT-B/16 per frame (8 frames, 1000 classes) vs transformers' ``ViTForImageClassification`` run on the 8
  frames as one image batch and averaged, same weights (``conversion/convert_vit_frames_transformers.py``).
* ViViT models 2, 3 and 4 at the same width and clip, against transformers' model 1 (no library has them):
  these rows compare cost, not outputs, and their weights are their own.

``scale="tiny"`` builds the same rows at a toy size, for a quick smoke run.
"""

from __future__ import annotations

import functools

import torch

from conversion.convert_vit_frames_transformers import convert_transformers_vit
from conversion.convert_vivit_transformers import convert_transformers_vivit
from hf_videomodels.models.vit_frames import ViTFramesForVideoClassification
from hf_videomodels.models.vivit import ViViTConfig, ViViTForVideoClassification

SIZES = {
    # frames, image, tubelet, width, depth, heads, mlp
    "base": {"num_frames": 32, "image_size": 224, "tubelet_size": [2, 16, 16], "hidden_size": 768,
             "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "tiny": {"num_frames": 4, "image_size": 32, "tubelet_size": [2, 16, 16], "hidden_size": 48,
             "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 96},
}  # fmt: skip
FACTORISED = {
    "model 2 (factorised encoder)": {"model_variant": "factorised_encoder", "temporal_num_hidden_layers": 4},
    "model 3 (factorised self-attention)": {"model_variant": "factorised_self_attention", "pooling": "gap"},
    "model 4 (factorised dot-product attention)": {
        "model_variant": "factorised_dot_product_attention",
        "pooling": "gap",
    },
}


def _transformers_vivit(size: dict):
    from transformers import VivitConfig, VivitForVideoClassification

    torch.manual_seed(0)
    config = VivitConfig(**size, num_labels=400, hidden_act="gelu_fast", layer_norm_eps=1e-6)
    return VivitForVideoClassification._from_config(config, attn_implementation="sdpa")


def _clip(size: dict, device: torch.device) -> torch.Tensor:
    shape = (1, size["num_frames"], 3, size["image_size"], size["image_size"])
    return torch.randn(shape, generator=torch.Generator().manual_seed(1)).to(device)


def _logits(pixel_values):
    return lambda model: lambda: model(pixel_values).logits


def vivit_model_1(device: torch.device, scale: str = "base"):
    size = SIZES[scale]
    peer = _transformers_vivit(size)
    config, state_dict = convert_transformers_vivit(peer.state_dict(), peer.config)
    ours = ViViTForVideoClassification(config)
    ours.load_state_dict(state_dict, strict=True)
    pixel_values = _clip(size, device)
    return _logits(pixel_values), ours.to(device).eval(), peer.to(device).eval(), pixel_values


def vivit_factorised(device: torch.device, settings: dict, scale: str = "base"):
    size = SIZES[scale]
    peer = _transformers_vivit(size)
    torch.manual_seed(0)
    heads = {
        "temporal_num_attention_heads": size["num_attention_heads"],
        "temporal_intermediate_size": size["intermediate_size"],
    }
    ours = ViViTForVideoClassification(ViViTConfig(**size, **heads, **settings, num_labels=400))
    pixel_values = _clip(size, device)
    return _logits(pixel_values), ours.to(device).eval(), peer.to(device).eval(), pixel_values


class _PerFrameViT(torch.nn.Module):
    """transformers' image ViT on every frame of a clip, logits averaged (what ours computes)."""

    def __init__(self, image_model):
        super().__init__()
        self.image_model = image_model

    def forward(self, pixel_values):
        logits = self.image_model(pixel_values.flatten(0, 1)).logits.unflatten(0, pixel_values.shape[:2])
        return type("Output", (), {"logits": logits.mean(1)})()


def vit_per_frame(device: torch.device, scale: str = "base"):
    from transformers import ViTConfig, ViTForImageClassification

    size = SIZES[scale]
    torch.manual_seed(0)
    width = {key: size[key] for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")}
    vit_config = ViTConfig(image_size=size["image_size"], patch_size=size["tubelet_size"][1], num_labels=1000, **width)
    image_model = ViTForImageClassification._from_config(vit_config, attn_implementation="sdpa")
    config, state_dict = convert_transformers_vit(image_model.state_dict(), image_model.config, num_frames=8)
    ours = ViTFramesForVideoClassification(config)
    ours.load_state_dict(state_dict, strict=True)
    pixel_values = _clip({**size, "num_frames": 8}, device)
    return _logits(pixel_values), ours.to(device).eval(), _PerFrameViT(image_model).to(device).eval(), pixel_values


def benchmark_pairs(scale: str = "base"):
    pairs = {
        "ViViT-B/16x2 model 1, 32x224 vs transformers (SDPA)": functools.partial(vivit_model_1, scale=scale),
        "ViT-B/16 per frame, 8x224 vs transformers ViT per frame": functools.partial(vit_per_frame, scale=scale),
    }
    for name, settings in FACTORISED.items():
        pairs[f"ViViT-B/16x2 {name}, 32x224 vs transformers model 1"] = functools.partial(
            vivit_factorised, settings=settings, scale=scale
        )
    return pairs
