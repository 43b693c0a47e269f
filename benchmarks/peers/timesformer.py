"""TimeSformer (divided space-time, base 8x224): ours vs. transformers' ``TimesformerForVideoClassification``
(random weights in theirs, converted to ours with ``conversion/convert_timesformer_transformers.py``). The
second row times our explicit ("eager") attention path instead of SDPA."""

from __future__ import annotations

import functools

import torch

from conversion.convert_timesformer_transformers import convert_transformers_timesformer
from hf_videomodels import TimeSformerForVideoClassification


def timesformer_divided(device: torch.device, attn_implementation: str = "sdpa"):
    from transformers import TimesformerConfig, TimesformerForVideoClassification

    torch.manual_seed(0)
    peer = TimesformerForVideoClassification(
        TimesformerConfig(num_labels=400, num_frames=8, image_size=224, attention_type="divided_space_time")
    )
    config, state_dict = convert_transformers_timesformer(peer.state_dict(), peer.config)
    ours = TimeSformerForVideoClassification._from_config(config, attn_implementation=attn_implementation)
    ours.load_state_dict(state_dict, strict=True)
    pixel_values = torch.randn(1, 8, 3, 224, 224, generator=torch.Generator().manual_seed(1)).to(device)

    def call(model):
        return lambda: model(pixel_values).logits

    return call, ours.to(device).eval(), peer.to(device).eval(), pixel_values


def benchmark_pairs():
    return {
        "TimeSformer divST 8x224 vs transformers": timesformer_divided,
        "TimeSformer divST 8x224 (our eager attention) vs transformers": functools.partial(
            timesformer_divided, attn_implementation="eager"
        ),
    }
