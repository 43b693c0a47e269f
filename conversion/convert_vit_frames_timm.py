"""Convert a timm ``vit_*_patch16_224`` image ViT (a state dict) to hf_videomodels' ViT per frame.

    python conversion/convert_vit_frames_timm.py --checkpoint vit_base_patch16_224.pth \
        --timm-name vit_base_patch16_224.augreg2_in21k_ft_in1k --output vit-base-frames

Sizes come from the tensors (width, depth, patch, resolution, MLP, classes); heads are width / 64 unless
``--num-heads`` says otherwise (64 is the head width of every ViT-Ti/S/B/L). timm's ViT uses LayerNorm eps
1e-6, exact GELU and the cls token for classification; checkpoints with a ``fc_norm``, layer scale or
register tokens are refused. The saved processor resizes frames to the checkpoint's resolution and normalises
with the mean/std of the timm pretrained config named by ``--timm-name`` (read from timm's table, nothing is
downloaded); 1000-class heads get ImageNet's class names in logit order.

This module also holds the mapping shared with the transformers converter: our layout is timm's block layout.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch

from conversion.common import (
    ConversionError,
    TensorLedger,
    base_arg_parser,
    check_complete,
    load_checkpoint,
    load_converted,
    run_script,
    save_converted,
)
from hf_videomodels.model_card import render_model_card
from hf_videomodels.models.vit_frames import ViTFramesConfig, ViTFramesForVideoClassification

HEAD_WIDTH = 64  # every ViT-Ti/S/B/L has 64-wide heads


class ViTLayout(NamedTuple):
    """Where an image ViT keeps its tensors. ``qkv`` is one fused name, or three names (query, key, value)."""

    cls_token: str
    position_embeddings: str
    patch_embedding: str
    block: str  # format string with {i}
    norm1: str
    qkv: str | tuple[str, str, str]
    proj: str
    norm2: str
    fc1: str
    fc2: str
    final_norm: str
    head: str


TIMM_LAYOUT = ViTLayout(
    "cls_token", "pos_embed", "patch_embed.proj", "blocks.{i}", "norm1", "attn.qkv", "attn.proj", "norm2",
    "mlp.fc1", "mlp.fc2", "norm", "head",
)  # fmt: skip


def _take_linear(ledger: TensorLedger, source: str, target: str, out: dict) -> None:
    out[f"{target}.weight"] = ledger.take(f"{source}.weight")
    if f"{source}.bias" in ledger:
        out[f"{target}.bias"] = ledger.take(f"{source}.bias")


def count_blocks(keys, block: str) -> int:
    count = 0
    while any(key.startswith(block.format(i=count) + ".") for key in keys):
        count += 1
    return count


def take_vit_encoder(ledger: TensorLedger, layout: ViTLayout, num_layers: int, prefix: str) -> dict[str, torch.Tensor]:
    """An image ViT's embeddings, blocks and final norm as the keys of ``ViTFramesModel`` under ``prefix``."""
    out = {
        f"{prefix}embeddings.cls_token": ledger.take(layout.cls_token),
        f"{prefix}embeddings.position_embeddings": ledger.take(layout.position_embeddings),
    }
    _take_linear(ledger, layout.patch_embedding, f"{prefix}embeddings.patch_embeddings.proj", out)
    for i in range(num_layers):
        source, target = layout.block.format(i=i), f"{prefix}layers.{i}"
        for ours, theirs in (("norm1", layout.norm1), ("attention.proj", layout.proj), ("norm2", layout.norm2),
                             ("mlp.fc1", layout.fc1), ("mlp.fc2", layout.fc2)):  # fmt: skip
            _take_linear(ledger, f"{source}.{theirs}", f"{target}.{ours}", out)
        if isinstance(layout.qkv, str):
            _take_linear(ledger, f"{source}.{layout.qkv}", f"{target}.attention.qkv", out)
        else:  # separate query / key / value: rows stacked in that order are the fused layout
            parts = [f"{source}.{name}" for name in layout.qkv]
            out[f"{target}.attention.qkv.weight"] = torch.cat([ledger.take(f"{p}.weight") for p in parts])
            if f"{parts[0]}.bias" in ledger:
                out[f"{target}.attention.qkv.bias"] = torch.cat([ledger.take(f"{p}.bias") for p in parts])
    _take_linear(ledger, layout.final_norm, f"{prefix}layernorm", out)
    return out


def config_from_tensors(state_dict: Mapping[str, torch.Tensor], layout: ViTLayout, **settings) -> ViTFramesConfig:
    """A ViT-per-frame config whose sizes are read from an image ViT's tensors (heads: width / 64 by default)."""
    patch_weight = state_dict[f"{layout.patch_embedding}.weight"]
    hidden_size, num_channels, patch_h, patch_w = patch_weight.shape
    side = round((state_dict[layout.position_embeddings].shape[1] - 1) ** 0.5)
    if side * side + 1 != state_dict[layout.position_embeddings].shape[1]:
        raise ConversionError(f"{layout.position_embeddings} does not hold a cls position and a square grid")
    first_fc1 = f"{layout.block.format(i=0)}.{layout.fc1}.weight"
    qkv = layout.qkv if isinstance(layout.qkv, str) else layout.qkv[0]
    settings = {
        "image_size": [side * patch_h, side * patch_w],
        "patch_size": [patch_h, patch_w],
        "num_channels": num_channels,
        "hidden_size": hidden_size,
        "num_hidden_layers": count_blocks(state_dict, layout.block),
        "num_attention_heads": max(1, hidden_size // HEAD_WIDTH),
        "intermediate_size": state_dict[first_fc1].shape[0],
        "qkv_bias": f"{layout.block.format(i=0)}.{qkv}.bias" in state_dict,
        "num_labels": state_dict[f"{layout.head}.weight"].shape[0],
        **settings,
    }
    return ViTFramesConfig(**settings)


def convert_timm_vit(
    state_dict: Mapping[str, torch.Tensor], num_heads: int | None = None, **settings
) -> tuple[ViTFramesConfig, dict[str, torch.Tensor]]:
    """A timm ViT state dict -> (our config, our ``ViTFramesForVideoClassification`` state dict); strict."""
    if "state_dict" in state_dict:  # a training checkpoint wrapping the weights
        state_dict = state_dict["state_dict"]
    for required in ("cls_token", "pos_embed", "patch_embed.proj.weight", "head.weight"):
        if required not in state_dict:
            raise ConversionError(f"not a timm ViT state dict with a classifier: no tensor {required!r}")
    if num_heads is not None:
        settings["num_attention_heads"] = num_heads
    config = config_from_tensors(state_dict, TIMM_LAYOUT, layer_norm_eps=1e-6, **settings)
    ledger = TensorLedger(state_dict)
    converted = take_vit_encoder(ledger, TIMM_LAYOUT, config.num_hidden_layers, "vit.")
    _take_linear(ledger, "head", "classifier", converted)
    ledger.finish()
    check_complete(ViTFramesForVideoClassification(config), converted)
    return config, converted


def timm_normalisation(timm_name: str | None) -> tuple[list[float], list[float]]:
    """Mean and std of a timm pretrained config (``vit_base_patch16_224.augreg2_in21k_ft_in1k``); timm's own
    table, no download. Without a name: 0.5 / 0.5, the value of every ``vit_*_patch16_224`` tag."""
    if timm_name is None:
        return [0.5] * 3, [0.5] * 3
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(timm_name)
    if cfg is None:
        raise ConversionError(f"timm has no pretrained config {timm_name!r}")
    return list(cfg.mean), list(cfg.std)


def imagenet_labels(num_labels: int) -> dict[int, str] | None:
    if num_labels != 1000:
        return None
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return {i: info.index_to_description(i) for i in range(1000)}


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser("Convert a timm vit_*_patch16_224 state dict to an hf_videomodels ViT per frame folder.")
    parser.add_argument("--timm-name", default=None, help="timm model tag whose mean/std the processor uses")
    parser.add_argument("--num-heads", type=int, default=None, help="attention heads (default: width / 64)")
    parser.add_argument("--num-frames", type=int, default=8, help="frames per clip of the processor")
    args = parser.parse_args(argv)
    checkpoint = load_checkpoint(args.checkpoint)
    config, converted = convert_timm_vit(checkpoint, args.num_heads, num_frames=args.num_frames)
    labels = imagenet_labels(config.num_labels)
    if labels:
        config.id2label, config.label2id = labels, {name: i for i, name in labels.items()}
    model = load_converted(ViTFramesForVideoClassification, config, converted)
    mean, std = timm_normalisation(args.timm_name)
    source = f"Converted from the timm image ViT `{args.timm_name or Path(args.checkpoint).name}`."
    return save_vit_frames(model, args, (mean, std), config.image_size, source, base_model=None)


def save_vit_frames(model, args, mean_std, image_size, source: str, base_model: str | None) -> Path:
    """Write a converted ViT per frame with its processor (frames resized to ``image_size``, the source's
    mean/std) and card."""
    from hf_videomodels.models.vit_frames import ViTFramesVideoProcessor

    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    mean, std = mean_std
    processor = ViTFramesVideoProcessor(
        num_frames=args.num_frames, size={"height": height, "width": width},
        crop_size={"height": height, "width": width}, image_mean=mean, image_std=std,
    )  # fmt: skip
    card = render_model_card(
        model_id=args.push_to_hub or Path(args.output).name,
        architecture="ViT per frame",
        base_model=base_model,
        datasets=[],
        metrics=None,
        source=source,
        preprocessing={
            "frames": f"{args.num_frames}, one per segment",
            "resize": f"{height} × {width}",
            "mean": mean,
            "std": std,
        },  # fmt: skip
        notes="An image classifier applied to every frame; the frame logits are averaged. Frames never see each "
        "other, so it cannot tell motion directions apart.",
    )
    return save_converted(model, processor, args.output, card, args.push_to_hub, with_code=args.with_code)


if __name__ == "__main__":
    run_script(main)
