"""Convert a transformers ``SwinForImageClassification`` folder (e.g. ``microsoft/swin-tiny-patch4-window7-224``)
to hf_videomodels' Swin, the image model applied per frame.

    python -m conversion.convert_swin_transformers --checkpoint microsoft/swin-tiny-patch4-window7-224 \
        --output swin-tiny-per-frame

The folder is loaded with transformers (which also renames the tensors of older folders), and its state
dict is mapped onto ours: the separate query / key / value Linears are stacked into our fused ``qkv``
(``[q; k; v]``, heads contiguous in each, as every Swin original), the rest is renamed one to one. The
ImageNet labels of the folder carry over; the frame logits are averaged over the clip.

This module also holds what the Swin (2D) converters share (timm and torchvision: ``convert_swin_timm``,
``convert_swin_torchvision``): rule-based renaming with the tensor ledger, and the config read from the
converted tensors.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import math
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import ConversionError, TensorLedger, base_arg_parser, check_complete, load_converted, run_script, save_converted
from hf_videomodels.layers.window_attention import relative_position_index
from hf_videomodels.model_card import render_model_card
from hf_videomodels.models.swin.configuration_swin import SwinConfig
from hf_videomodels.models.swin.modeling_swin import SwinForVideoClassification

BLOCK = "swin.encoder.stages.{stage}.blocks.{block}."
INDEX_SUFFIX = "relative_position_index"

# transformers' Swin (5.x names) -> ours; {stage} {block} are filled from the match.
TRANSFORMERS_RULES = (
    (r"swin\.embeddings\.patch_embeddings\.projection\.(.+)", r"swin.encoder.patch_embed.proj.\1"),
    (r"swin\.embeddings\.norm\.(.+)", r"swin.encoder.patch_embed.norm.\1"),
    (r"swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_before\.(.+)", r"swin.encoder.stages.\1.blocks.\2.norm1.\3"),
    (r"swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_after\.(.+)", r"swin.encoder.stages.\1.blocks.\2.norm2.\3"),
    (r"swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.o_proj\.(.+)", r"swin.encoder.stages.\1.blocks.\2.attn.proj.\3"),
    (r"swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.relative_position_bias\.(relative_position_.+)",
     r"swin.encoder.stages.\1.blocks.\2.attn.\3"),
    (r"swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.mlp\.(fc\d)\.(.+)", r"swin.encoder.stages.\1.blocks.\2.mlp.\3.\4"),
    (r"swin\.encoder\.layers\.(\d+)\.downsample\.(.+)", r"swin.encoder.stages.\1.downsample.\2"),
    (r"swin\.layernorm\.(.+)", r"swin.encoder.norm.\1"),
    (r"classifier\.(.+)", r"classifier.\1"),
)
TRANSFORMERS_QKV = r"swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.{}_proj\.(weight|bias)"


def rename_by_rules(
    state: Mapping[str, torch.Tensor], rules, fused_qkv: str | None = None
) -> dict[str, torch.Tensor]:
    """Our-layout tensors from ``state``: each key renamed by the first matching ``(pattern, template)`` rule
    (a template may be a function of the match, as ``re.sub`` takes);
    with ``fused_qkv`` (a pattern with ``{}`` for q / k / v and groups stage, block, tensor name) separate
    query, key and value tensors are stacked into our ``qkv``. Every tensor is used exactly once; an index
    buffer is checked against ours and kept. ``ConversionError`` names unknown keys."""
    ledger = TensorLedger(state)
    converted = {}
    if fused_qkv is not None:
        for key in list(state):
            if match := re.fullmatch(fused_qkv.format("q"), key):
                parts = [ledger.take(re.sub(r"\.q_proj\.", f".{p}_proj.", key)) for p in "qkv"]
                stage, block, name = match.groups()
                converted[BLOCK.format(stage=stage, block=block) + f"attn.qkv.{name}"] = torch.cat(parts)
    for key in list(state):
        if fused_qkv is not None and any(re.fullmatch(fused_qkv.format(p), key) for p in "qkv"):
            continue
        for pattern, template in rules:
            if re.fullmatch(pattern, key):
                target = re.sub(pattern, template, key)
                break
        else:
            raise ConversionError(f"unknown checkpoint key {key!r}")
        tensor = ledger.take(key)
        if target.endswith(INDEX_SUFFIX):  # (N, N), or flattened (torchvision)
            tokens = math.isqrt(tensor.numel())
            tensor, side = tensor.reshape(tokens, tokens), math.isqrt(tokens)
            if tensor.device.type != "meta" and not torch.equal(tensor, relative_position_index((side, side))):
                raise ConversionError(f"{key} is not the relative position index of a {side}x{side} window")
        converted[target] = tensor
    ledger.finish()
    return converted


def config_from_converted(converted: Mapping[str, torch.Tensor], **overrides) -> SwinConfig:
    """The Swin config our-layout tensors imply (square windows)."""
    try:
        patch = converted["swin.encoder.patch_embed.proj.weight"]
        depths, num_heads = [], []
        while f"swin.encoder.stages.{len(depths)}.blocks.0.norm1.weight" in converted:
            stage = len(depths)
            block_count = sum(1 for k in converted if re.fullmatch(rf"swin\.encoder\.stages\.{stage}\.blocks\.\d+\.norm1\.weight", k))
            depths.append(block_count)
            num_heads.append(converted[f"swin.encoder.stages.{stage}.blocks.0.attn.relative_position_bias_table"].shape[1])
        rows = converted["swin.encoder.stages.0.blocks.0.attn.relative_position_bias_table"].shape[0]
        fc1 = converted["swin.encoder.stages.0.blocks.0.mlp.fc1.weight"]
        num_labels = converted["classifier.weight"].shape[0]
    except KeyError as err:
        raise ConversionError(f"not a Swin checkpoint: missing {err}") from err
    window = (math.isqrt(rows) + 1) // 2
    if (2 * window - 1) ** 2 != rows:
        raise ConversionError(f"a bias table of {rows} rows is not one of a square window")
    settings = dict(
        num_channels=patch.shape[1],
        patch_size=list(patch.shape[2:]),
        embed_dim=patch.shape[0],
        depths=depths,
        num_heads=num_heads,
        window_size=[window, window],
        mlp_ratio=fc1.shape[0] / fc1.shape[1],
        qkv_bias="swin.encoder.stages.0.blocks.0.attn.qkv.bias" in converted,
        num_labels=num_labels,
    )
    return SwinConfig(**{**settings, **overrides})


def finish_conversion(converted: dict[str, torch.Tensor], **overrides) -> tuple[SwinConfig, dict[str, torch.Tensor]]:
    """Config from the tensors, index buffers the source did not save added, and a strict shape check."""
    config = config_from_converted(converted, **overrides)
    for i, depth in enumerate(config.depths):
        for j in range(depth):
            converted.setdefault(BLOCK.format(stage=i, block=j) + f"attn.{INDEX_SUFFIX}", relative_position_index(config.window_size))
    with torch.device("meta"):
        check_complete(SwinForVideoClassification(config), converted)
    return config, converted


def id2label_settings(id2label: Mapping[int, str] | None) -> dict:
    if not id2label:
        return {}
    id2label = {int(i): name for i, name in id2label.items()}
    return {"id2label": id2label, "label2id": {name: i for i, name in id2label.items()}}


def convert_transformers_state_dict(
    state_dict: Mapping[str, torch.Tensor], id2label: Mapping[int, str] | None = None, **overrides
) -> tuple[SwinConfig, dict[str, torch.Tensor]]:
    """A transformers ``SwinForImageClassification`` state dict (5.x names) -> (``SwinConfig``, ours)."""
    converted = rename_by_rules(state_dict, TRANSFORMERS_RULES, fused_qkv=TRANSFORMERS_QKV)
    return finish_conversion(converted, **{**id2label_settings(id2label), **overrides})


def per_frame_card(model_id: str, source: str) -> str:
    """The model card of a Swin image model converted to run per frame."""
    return render_model_card(
        model_id=model_id,
        architecture="Swin",
        base_model=None,
        datasets=["imagenet-1k"],
        metrics=None,
        source=source,
        preprocessing={"frames": "8, one per equal segment", "resize": "short side 256 (bicubic)", "crop": "centre 224",
                       "values": "(x / 255 - mean) / std, ImageNet mean and std"},
        notes="An ImageNet image classifier applied to every frame; the clip's logits are the frame logits' "
        "average. Checked by the project's tests against the source library with random weights within 1e-4.",
    )


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a transformers SwinForImageClassification folder to an hf_videomodels per-frame Swin.",
        checkpoint_help="a local folder or Hub id of a SwinForImageClassification model",
    )
    args = parser.parse_args(argv)
    from transformers import SwinForImageClassification

    from hf_videomodels.models.swin import SwinVideoProcessor

    source = SwinForImageClassification.from_pretrained(args.checkpoint)
    config, converted = convert_transformers_state_dict(source.state_dict(), source.config.id2label)
    model = load_converted(SwinForVideoClassification, config, converted)
    card = per_frame_card(args.push_to_hub or Path(args.output).name, f"transformers `{args.checkpoint}`")
    processor = SwinVideoProcessor.for_model_config(config)
    return save_converted(model, processor, args.output, card, args.push_to_hub, with_code=args.with_code)


if __name__ == "__main__":
    run_script(main)
