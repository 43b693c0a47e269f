"""Convert transformers' ``ViTForImageClassification`` (``google/vit-base-patch16-224`` layout) to
hf_videomodels' ViT per frame.

    python conversion/convert_vit_frames_transformers.py --checkpoint google/vit-base-patch16-224 \
        --output vit-base-frames

Both module layouts are read: the Hub files' (``vit.encoder.layer.<i>.attention.attention.query``, as
transformers 4 saved them) and transformers 5's in-memory names (``vit.layers.<i>.attention.q_proj``).
Query, key and value are stacked into our fused projection; everything else copies over. The folder's
``ViTImageProcessor`` settings (resize, mean/std) become the video processor's, applied to every frame.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import ConversionError, TensorLedger, base_arg_parser, check_complete, load_converted, run_script
from conversion.convert_vit_frames_timm import ViTLayout, _take_linear, save_vit_frames, take_vit_encoder
from hf_videomodels.models.vit_frames import ViTFramesConfig, ViTFramesForVideoClassification


def transformers_layouts(root: str) -> tuple[ViTLayout, ViTLayout]:
    """(Hub-file layout, transformers 5 layout) of a transformers ViT-style model under ``root`` ("vit", "vivit").

    The Hub files (google/vit-base-patch16-224) and transformers 4 use the first; transformers 5 renames the
    modules when loading, and its state dicts use the second."""
    hub = ViTLayout(
        cls_token=f"{root}.embeddings.cls_token",
        position_embeddings=f"{root}.embeddings.position_embeddings",
        patch_embedding=f"{root}.embeddings.patch_embeddings.projection",
        block=f"{root}.encoder.layer.{{i}}",
        norm1="layernorm_before",
        qkv=("attention.attention.query", "attention.attention.key", "attention.attention.value"),
        proj="attention.output.dense",
        norm2="layernorm_after",
        fc1="intermediate.dense",
        fc2="output.dense",
        final_norm=f"{root}.layernorm",
        head="classifier",
    )
    renamed = hub._replace(
        block=f"{root}.layers.{{i}}",
        qkv=("attention.q_proj", "attention.k_proj", "attention.v_proj"),
        proj="attention.o_proj",
        fc1="mlp.fc1",
        fc2="mlp.fc2",
    )
    return hub, renamed


HUB_VIT_LAYOUT, TRANSFORMERS5_VIT_LAYOUT = transformers_layouts("vit")


def pick_layout(state_dict: Mapping[str, torch.Tensor], root: str) -> ViTLayout:
    hub, new = transformers_layouts(root)
    return hub if f"{root}.encoder.layer.0.layernorm_before.weight" in state_dict else new


# ViTConfig fields that mean the same in ours.
SHARED_CONFIG_FIELDS = (
    "image_size", "patch_size", "num_channels", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "hidden_act", "qkv_bias", "layer_norm_eps", "hidden_dropout_prob",
    "attention_probs_dropout_prob", "initializer_range", "id2label", "label2id", "problem_type",
)  # fmt: skip


def convert_config(their_config, **settings) -> ViTFramesConfig:
    """transformers' ``ViTConfig`` (object or dict) -> ``ViTFramesConfig``."""
    values = their_config if isinstance(their_config, Mapping) else their_config.to_dict()
    if values.get("encoder_stride") is not None and values.get("model_type") not in (None, "vit"):
        raise ConversionError(f"not a ViT config: model_type {values.get('model_type')!r}")
    ours = {name: values[name] for name in SHARED_CONFIG_FIELDS if values.get(name) is not None}
    if "id2label" not in ours and "num_labels" in values:
        ours["num_labels"] = values["num_labels"]
    return ViTFramesConfig(**{**ours, **settings})


def convert_transformers_vit(
    state_dict: Mapping[str, torch.Tensor], their_config, **settings
) -> tuple[ViTFramesConfig, dict[str, torch.Tensor]]:
    """``ViTForImageClassification`` state dict + config -> (our config, our state dict). Strict: every tensor
    used once (a pooler, which the classifier does not use, is refused)."""
    config = convert_config(their_config, **settings)
    ledger = TensorLedger(state_dict)
    layout = pick_layout(state_dict, "vit")
    converted = take_vit_encoder(ledger, layout, config.num_hidden_layers, "vit.")
    _take_linear(ledger, "classifier", "classifier", converted)
    ledger.finish()
    check_complete(ViTFramesForVideoClassification(config), converted)
    return config, converted


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a transformers ViTForImageClassification (Hub id or folder) to a ViT per frame folder.",
        checkpoint_help="Hub id or folder of a transformers ViTForImageClassification",
    )
    parser.add_argument("--num-frames", type=int, default=8, help="frames per clip of the processor")
    args = parser.parse_args(argv)
    from transformers import ViTForImageClassification, ViTImageProcessor

    theirs = ViTForImageClassification.from_pretrained(args.checkpoint)
    config, converted = convert_transformers_vit(theirs.state_dict(), theirs.config, num_frames=args.num_frames)
    model = load_converted(ViTFramesForVideoClassification, config, converted)
    try:
        image_processor = ViTImageProcessor.from_pretrained(args.checkpoint)
        mean_std = (list(image_processor.image_mean), list(image_processor.image_std))
        image_size = (image_processor.size["height"], image_processor.size["width"])
    except OSError:  # a plain save_pretrained folder: google/vit-base-patch16-224's settings at this resolution
        mean_std, image_size = ([0.5] * 3, [0.5] * 3), config.image_size
    source = f"Converted from transformers' ViT `{args.checkpoint}`."
    return save_vit_frames(model, args, mean_std, image_size, source, base_model=args.checkpoint)


if __name__ == "__main__":
    run_script(main)
