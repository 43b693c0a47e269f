"""Convert transformers' ``TimesformerForVideoClassification`` (e.g. ``facebook/timesformer-base-finetuned-k400``)
to hf_videomodels' TimeSformer.

    python -m conversion.convert_timesformer_transformers --checkpoint facebook/timesformer-base-finetuned-k400 \
        --output timesformer-base-k400-from-transformers

transformers ports the same original code with other module names (``attention.attention.qkv``,
``attention.output.dense``, ``temporal_dense``, ...); tensors copy over unchanged. Its configs and video
processors differ from the original pipeline in one respect worth knowing: the Hub checkpoints normalise
with mean/std 0.5 (transformers' converter's choice) where the original used 0.45/0.225; the processor
written here keeps the Hub checkpoint's own settings.

transformers supports ``divided_space_time``, ``space_only`` and ``joint_space_time``. Its ``space_only``
classifier reads every frame's cls token (one prediction per frame) instead of the original's frame average
before the final LayerNorm; the converted model follows the original.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import ConversionError, base_arg_parser, load_converted, save_converted
from conversion.convert_timesformer_original import (
    DATASETS,
    PRETRAINED_VARIANTS,
    PretrainedVariant,
    SourceLayout,
    rename_tensors,
    video_processor_kwargs,
)
from hf_videomodels.models.timesformer.configuration_timesformer import TimeSformerConfig
from hf_videomodels.models.timesformer.modeling_timesformer import TimeSformerForVideoClassification

logger = logging.getLogger(__name__)

# TimesformerConfig fields that mean the same in ours (everything else of theirs is generic PreTrainedConfig).
SHARED_CONFIG_FIELDS = (
    "image_size", "patch_size", "num_channels", "num_frames", "hidden_size", "num_hidden_layers",
    "num_attention_heads", "intermediate_size", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
    "initializer_range", "layer_norm_eps", "qkv_bias", "attention_type", "drop_path_rate",
    "id2label", "label2id", "problem_type",
)  # fmt: skip
SUPPORTED_ATTENTION_TYPES = ("divided_space_time", "space_only", "joint_space_time")


def convert_config(their_config) -> TimeSformerConfig:
    """transformers' ``TimesformerConfig`` (object or dict) -> ``TimeSformerConfig``."""
    values = their_config if isinstance(their_config, Mapping) else their_config.to_dict()
    if values.get("attention_type", "divided_space_time") not in SUPPORTED_ATTENTION_TYPES:
        raise ConversionError(f"unsupported attention_type {values['attention_type']!r}")
    settings = {name: values[name] for name in SHARED_CONFIG_FIELDS if values.get(name) is not None}
    if "id2label" not in settings and "num_labels" in values:
        settings["num_labels"] = values["num_labels"]
    return TimeSformerConfig(**settings)


# transformers' module names, relative to TimesformerForVideoClassification's state dict root.
TRANSFORMERS_LAYOUT = SourceLayout(
    cls_token="timesformer.embeddings.cls_token",
    position_embeddings="timesformer.embeddings.position_embeddings",
    time_embeddings="timesformer.embeddings.time_embeddings",
    patch_embedding="timesformer.embeddings.patch_embeddings.projection",
    final_norm="timesformer.layernorm",
    head="classifier",
    block="timesformer.encoder.layer.{i}",
    spatial_norm="layernorm_before",
    spatial_qkv="attention.attention.qkv",
    spatial_proj="attention.output.dense",
    mlp_norm="layernorm_after",
    fc1="intermediate.dense",
    fc2="output.dense",
    temporal_norm="temporal_layernorm",
    temporal_qkv="temporal_attention.attention.qkv",
    temporal_proj="temporal_attention.output.dense",
    temporal_fc="temporal_dense",
)


def convert_transformers_timesformer(
    state_dict: Mapping[str, torch.Tensor], their_config
) -> tuple[TimeSformerConfig, dict[str, torch.Tensor]]:
    """transformers' ``TimesformerForVideoClassification`` state dict + config -> (our config, our state dict).

    Strict: every tensor is used exactly once and the result loads strictly into ours.
    """
    config = convert_config(their_config)
    return config, rename_tensors(state_dict, config, TRANSFORMERS_LAYOUT)


def matching_variant(config: TimeSformerConfig) -> PretrainedVariant | None:
    """The published original checkpoint with this model's frames, resolution and class count, if any: the
    Hub's facebook/timesformer-* models are those checkpoints' weights."""
    for variant in PRETRAINED_VARIANTS.values():
        dataset = DATASETS[variant.dataset]
        if (variant.num_frames, variant.image_size, dataset.num_labels) == (
            config.num_frames,
            config.image_size,
            config.num_labels,
        ):
            return variant
    return None


def transformers_processor_kwargs(config: TimeSformerConfig, image_processor) -> dict:
    """Video processor settings for a transformers TimeSformer folder.

    Frame sampling and channel order follow the original recipe of the matching published checkpoint (the
    image processor those folders ship has no notion of time); resize, crop and normalisation are the
    folder's own image processor's (the Hub ports use mean/std 0.5 where the original used 0.45/0.225).
    """
    kwargs = video_processor_kwargs(config, matching_variant(config), None)
    crop = image_processor.crop_size
    kwargs.update(
        size=dict(image_processor.size),
        crop_size={"height": crop["height"], "width": crop["width"]},
        do_rescale=image_processor.do_rescale,
        rescale_factor=image_processor.rescale_factor,
        do_normalize=image_processor.do_normalize,
        image_mean=list(image_processor.image_mean),
        image_std=list(image_processor.image_std),
    )
    return kwargs


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser("Convert a transformers TimeSformer (Hub id or folder) to an hf_videomodels folder.")
    args = parser.parse_args(argv)
    from transformers import AutoImageProcessor, TimesformerForVideoClassification

    from hf_videomodels.model_card import render_model_card
    from hf_videomodels.models.timesformer import TimeSformerVideoProcessor

    theirs = TimesformerForVideoClassification.from_pretrained(args.checkpoint)
    config, converted = convert_transformers_timesformer(theirs.state_dict(), theirs.config)
    model = load_converted(TimeSformerForVideoClassification, config, converted)
    processor_kwargs = transformers_processor_kwargs(config, AutoImageProcessor.from_pretrained(args.checkpoint))
    processor = TimeSformerVideoProcessor(**processor_kwargs)
    model_id = args.push_to_hub or Path(args.output).name
    card = render_model_card(
        model_id=model_id,
        architecture="TimeSformer",
        base_model=str(args.checkpoint),
        datasets=[],
        metrics=None,
        source=f"Converted from transformers' TimeSformer `{args.checkpoint}`.",
        preprocessing={key: str(value) for key, value in processor_kwargs.items()},
        notes="Weights copied unchanged from transformers' port; logits match it within 1e-4 (fp32).",
    )
    return save_converted(model, processor, args.output, card, args.push_to_hub)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
