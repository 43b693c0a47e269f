"""Convert transformers' ``TimesformerForVideoClassification`` (e.g. ``facebook/timesformer-base-finetuned-k400``)
to hf_videomodels' TimeSformer.

    python conversion/convert_timesformer_transformers.py --checkpoint facebook/timesformer-base-finetuned-k400 \
        --output timesformer-base-k400-from-transformers
    python conversion/convert_timesformer_transformers.py --checkpoint my-save-pretrained-folder --output ours

transformers ports the same original code with other module names (``attention.attention.qkv``,
``attention.output.dense``, ``temporal_dense``, ...); tensors copy over unchanged. Its configs and video
processors differ from the original pipeline in one respect worth knowing: the Hub checkpoints normalise
with mean/std 0.5 (transformers' converter's choice) where the original used 0.45/0.225; the processor
written here keeps the Hub checkpoint's own settings. A folder with no image or video processor (a plain
``save_pretrained`` of the model) gets the original recipe of the published checkpoint with the same frames,
resolution and classes (else the Kinetics recipe), and a warning listing what was assumed. The converted
model is run against the source on a random clip, and the card states the measured difference.

transformers supports ``divided_space_time``, ``space_only`` and ``joint_space_time``. Its ``space_only``
classifier reads every frame's cls token (one prediction per frame) instead of the original's frame average
before the final LayerNorm; the converted model follows the original.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import (
    ConversionError,
    base_arg_parser,
    evaluation_protocol,
    load_converted,
    run_script,
    save_converted,
)
from conversion.convert_timesformer_original import (
    DATASETS,
    PRETRAINED_VARIANTS,
    TIMESFORMER_TEST,
    PretrainedVariant,
    SourceLayout,
    preprocessing_rows,
    rename_tensors,
    video_processor_kwargs,
)
from hf_videomodels.model_card import render_model_card, size_fields
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
PARITY_TOLERANCE = 1e-4  # fp32, the project's bar for a port


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


def transformers_processor_kwargs(config: TimeSformerConfig, their_processor=None, source: str = "the model") -> dict:
    """Video processor settings for a transformers TimeSformer folder.

    Frame sampling and channel order follow the original recipe of the matching published checkpoint (the
    image processor those folders ship has no notion of time); resize, crop and normalisation are the
    folder's own processor's (the Hub ports use mean/std 0.5 where the original used 0.45/0.225). A folder
    without a processor (a plain ``save_pretrained`` of the model) gets the whole original recipe, with a
    warning that names every assumed setting.
    """
    variant = matching_variant(config)
    kwargs = video_processor_kwargs(config, variant, None)
    if their_processor is None:
        name = next((name for name, known in PRETRAINED_VARIANTS.items() if known == variant), None)
        recipe = (
            f"the original recipe of the published checkpoint {name}"
            if name
            else f"the original Kinetics recipe (no published checkpoint has {config.num_frames} frames at "
            f"{config.image_size} px and {config.num_labels} classes)"
        )
        assumed = "; ".join(f"{key} {value}" for key, value in preprocessing_rows(kwargs).items())
        logger.warning(
            "%s has no image or video processor: assuming %s: %s. If the model was trained otherwise, edit "
            "video_preprocessor_config.json in the output folder.",
            source,
            recipe,
            assumed,
        )
        return kwargs
    crop = their_processor.crop_size
    kwargs.update(
        size=size_fields(their_processor.size),
        crop_size={"height": crop["height"], "width": crop["width"]},
        do_rescale=their_processor.do_rescale,
        rescale_factor=their_processor.rescale_factor,
        do_normalize=their_processor.do_normalize,
        image_mean=list(their_processor.image_mean),
        image_std=list(their_processor.image_std),
    )
    return kwargs


def load_their_processor(checkpoint: str):
    """The folder's (or Hub repo's) image or video processor, or None when it has neither."""
    from transformers import AutoVideoProcessor

    try:  # reads video_preprocessor_config.json, else an image processor's preprocessor_config.json
        return AutoVideoProcessor.from_pretrained(checkpoint)
    except OSError as error:
        logger.info("no processor loaded from %s: %s", checkpoint, error)
        return None


def measure_parity(theirs, ours: TimeSformerForVideoClassification, seed: int = 0) -> tuple[str, float]:
    """(what was compared, max abs difference) between transformers' model and the converted one on one
    random clip of the model's own frames and size (fp32, eval mode).

    The logits are compared, except for ``space_only``, where transformers classifies every frame and we
    average the frames as the original does: there the hidden states of every block are compared.
    """
    config = ours.config
    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    generator = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn(1, config.num_frames, config.num_channels, size, size, generator=generator)
    theirs, ours = theirs.eval(), ours.eval()
    with torch.no_grad():
        expected = theirs(pixel_values, output_hidden_states=True)
        actual = ours(pixel_values, output_hidden_states=True)
    if config.attention_type == "space_only":
        pairs = zip(actual.hidden_states, expected.hidden_states, strict=True)
        return "hidden states of every block", max((a - e).abs().max().item() for a, e in pairs)
    return "logits", (actual.logits - expected.logits).abs().max().item()


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a transformers TimeSformer (Hub id or folder) to an hf_videomodels folder.",
        checkpoint_help="Hub id or folder of a transformers TimesformerForVideoClassification",
    )
    args = parser.parse_args(argv)
    from transformers import TimesformerForVideoClassification

    from hf_videomodels.models.timesformer import TimeSformerVideoProcessor

    theirs = TimesformerForVideoClassification.from_pretrained(args.checkpoint)
    config, converted = convert_transformers_timesformer(theirs.state_dict(), theirs.config)
    model = load_converted(TimeSformerForVideoClassification, config, converted)
    compared, difference = measure_parity(theirs, model)
    if difference > PARITY_TOLERANCE:
        raise ConversionError(f"the converted model's {compared} differ from the source's by {difference:.2e}")
    processor_kwargs = transformers_processor_kwargs(config, load_their_processor(args.checkpoint), args.checkpoint)
    processor = TimeSformerVideoProcessor(**processor_kwargs)
    model_id = args.push_to_hub or Path(args.output).name
    card = render_model_card(
        model_id=model_id,
        architecture="TimeSformer",
        base_model=args.checkpoint,  # kept only if it is a Hub id
        datasets=[],
        metrics=None,
        source=f"Converted from transformers' TimeSformer `{args.checkpoint}`.",
        preprocessing=preprocessing_rows(processor_kwargs),
        notes=(
            "Weights copied unchanged from transformers' port. Checked at conversion on one random "
            f"{config.num_frames}-frame clip at {config.image_size} px: the {compared} differ from the source "
            f"model's by at most {difference:.1e} (max abs, fp32)."
        ),
        evaluation_protocol=evaluation_protocol(processor_kwargs, TIMESFORMER_TEST),
    )
    return save_converted(model, processor, args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
