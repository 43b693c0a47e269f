"""Convert transformers' ``VivitForVideoClassification`` (``google/vivit-b-16x2-kinetics400``) to hf_videomodels'
ViViT (model 1, the only one transformers has).

    python conversion/convert_vivit_transformers.py --checkpoint google/vivit-b-16x2-kinetics400 \
        --output vivit-b-16x2-k400-from-transformers

transformers' port keeps the ViT block layout (``vivit.encoder.layer.<i>.attention.attention.query`` in the Hub
files, ``vivit.layers.<i>.attention.q_proj`` in transformers 5); query/key/value are stacked into our fused
projection, the tubelet Conv3d and everything else copy over. Its ``gelu_fast`` is the tanh GELU of Scenic. The
saved processor is Scenic's recipe for the model's frames and resolution (the Hub's processor resizes to
224 without keeping the aspect ratio and normalises with mean/std 0.5, which is the same value range).
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import (
    ConversionError,
    TensorLedger,
    base_arg_parser,
    check_complete,
    load_converted,
    run_script,
    save_converted,
)
from conversion.convert_vit_frames_timm import _take_linear, take_vit_encoder
from conversion.convert_vit_frames_transformers import pick_layout
from conversion.convert_vivit_scenic import model_card, processor_kwargs
from hf_videomodels.models.vivit import ViViTConfig, ViViTForVideoClassification

SHARED_CONFIG_FIELDS = (
    "image_size", "num_frames", "tubelet_size", "num_channels", "hidden_size", "num_hidden_layers",
    "num_attention_heads", "intermediate_size", "hidden_act", "qkv_bias", "layer_norm_eps", "hidden_dropout_prob",
    "attention_probs_dropout_prob", "initializer_range", "id2label", "label2id", "problem_type",
)  # fmt: skip
# Where ``take_vit_encoder`` (written for ViTFramesModel) puts a tensor -> where ViViT keeps it.
VIT_TO_VIVIT = {
    "x.embeddings.cls_token": "vivit.encoder.cls_token",
    "x.embeddings.position_embeddings": "vivit.encoder.position_embeddings",
    "x.embeddings.patch_embeddings.proj.": "vivit.embeddings.patch_embeddings.",
    "x.layers.": "vivit.encoder.layers.",
    "x.layernorm.": "vivit.encoder.layernorm.",
}


def convert_config(their_config) -> ViViTConfig:
    values = their_config if isinstance(their_config, Mapping) else their_config.to_dict()
    settings = {name: values[name] for name in SHARED_CONFIG_FIELDS if values.get(name) is not None}
    if settings.get("hidden_act") == "gelu_fast":
        settings["hidden_act"] = "gelu_pytorch_tanh"  # the same function, the name Scenic ports use here
    if "id2label" not in settings and "num_labels" in values:
        settings["num_labels"] = values["num_labels"]
    return ViViTConfig(model_variant="spatio_temporal", pooling="token", **settings)


def convert_transformers_vivit(
    state_dict: Mapping[str, torch.Tensor], their_config
) -> tuple[ViViTConfig, dict[str, torch.Tensor]]:
    """``VivitForVideoClassification`` state dict + config -> (our config, our state dict); strict."""
    config = convert_config(their_config)
    ledger = TensorLedger(state_dict)
    taken = take_vit_encoder(ledger, pick_layout(state_dict, "vivit"), config.num_hidden_layers, "x.")
    converted = {}
    for key, tensor in taken.items():
        prefix = next((p for p in VIT_TO_VIVIT if key.startswith(p)), None)
        if prefix is None:
            raise ConversionError(f"no ViViT place for {key}")
        converted[VIT_TO_VIVIT[prefix] + key.removeprefix(prefix)] = tensor
    _take_linear(ledger, "classifier", "classifier", converted)
    ledger.finish()
    check_complete(ViViTForVideoClassification(config), converted)
    return config, converted


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a transformers ViViT (Hub id or folder) to an hf_videomodels folder.",
        checkpoint_help="Hub id or folder of a transformers VivitForVideoClassification",
    )
    args = parser.parse_args(argv)
    from transformers import VivitForVideoClassification

    from hf_videomodels.models.vivit import ViViTVideoProcessor

    theirs = VivitForVideoClassification.from_pretrained(args.checkpoint)
    config, converted = convert_transformers_vivit(theirs.state_dict(), theirs.config)
    model = load_converted(ViViTForVideoClassification, config, converted)
    kwargs = processor_kwargs(None, config)
    card = model_card(args.push_to_hub or Path(args.output).name, config, None, kwargs)
    card = card.replace("converted from Scenic's Flax checkpoint", f"converted from transformers' `{args.checkpoint}`")
    return save_converted(
        model, ViViTVideoProcessor(**kwargs), args.output, card, args.push_to_hub, with_code=args.with_code
    )


if __name__ == "__main__":
    run_script(main)
