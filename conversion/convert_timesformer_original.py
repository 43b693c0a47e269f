"""Convert facebookresearch/TimeSformer checkpoints (``TimeSformer_divST_*.pyth``) to hf_videomodels' TimeSformer.

    python -m conversion.convert_timesformer_original --checkpoint TimeSformer_divST_8x32_224_K400.pyth \
        --output timesformer-base-k400
    python conversion/convert_timesformer_original.py --checkpoint TimeSformer_divST_8_224_SSv2.pyth \
        --labels something-something-v2-labels.json --output timesformer-base-ssv2

The ``.pyth`` files are PySlowFast trainer checkpoints: ``{"epoch", "model_state", "optimizer_state", "cfg"}``.
Only ``model_state`` holds weights (keys ``model.*``, the registered wrapper's ``.model`` attribute); ``cfg``
(the training config as YAML) is read to cross-check attention type, frames, crop size and classes; ``epoch``
and ``optimizer_state`` are ignored. The width, depth, MLP size, patch size, classes, frames and resolution
come from the tensors; the number of heads cannot (the original hard-codes 12 for the 768-wide base, and
its config has no field for it), so it defaults to 12 for width 768 and must be passed otherwise.

Every released model is the divided space-time base (patch 16, 768 wide, 12 blocks, 12 heads). The weights
copy over unchanged: our modules keep the original's fused ``[q; k; v]`` layout and its token order.

Preprocessing of the original test pipeline, which the saved video processor reproduces: frames / 255,
then (x - 0.45) / 0.225 on every channel; short side resized to the crop size, 3 spatial crops x 1 clip;
Kinetics samples ``num_frames`` frames every ``frame_sample_rate`` frames (RGB, PyAV), SSv2 one frame per
equal segment (BGR: the SSv2 loader decodes with OpenCV and the channel flip of its config is never
applied on the ``vit`` path).
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from conversion.common import (
    meta_state_dict_from_manifest,
    ConversionError,
    TensorLedger,
    base_arg_parser,
    cfg_value,
    check_complete,
    evaluation_protocol,
    extract_state_dict,
    load_checkpoint,
    load_converted,
    packaged_labels,
    run_script,
    save_converted,
)
from hf_videomodels.model_card import format_setting, render_model_card
from hf_videomodels.models.timesformer.configuration_timesformer import TimeSformerConfig
from hf_videomodels.models.timesformer.modeling_timesformer import (
    ATTENTION_STEPS,
    TimeSformerForVideoClassification,
)

logger = logging.getLogger(__name__)

SOURCE_URL = "https://github.com/facebookresearch/TimeSformer"
BASE_HIDDEN_SIZE, BASE_NUM_HEADS = 768, 12  # hard-coded in the original `vit_base_patch16_224`
MEAN, STD = 0.45, 0.225  # DATA.MEAN / DATA.STD of the original defaults, the same on every channel


@dataclass(frozen=True)
class Dataset:
    name: str  # Hub dataset tag
    num_labels: int
    labels_file: str | None  # packaged class names (hf_videomodels/data/labels/<name>.txt), None: pass --labels
    channel_order: str
    sampling: str  # "clip": num_frames every frame_sample_rate frames; "segments": one per segment


DATASETS = {
    "K400": Dataset("kinetics-400", 400, "kinetics400", "rgb", "clip"),
    "K600": Dataset("kinetics-600", 600, "kinetics600", "rgb", "clip"),
    "SSv2": Dataset("something-something-v2", 174, None, "bgr", "segments"),
}


@dataclass(frozen=True)
class PretrainedVariant:
    """One released checkpoint: what its file name encodes, checked against the tensors on conversion."""

    dataset: str  # key of DATASETS
    num_frames: int
    image_size: int
    frame_sample_rate: int | None  # Kinetics only


# The model zoo of the upstream README (TimeSformer, TimeSformer-HR, TimeSformer-L on K400/K600/SSv2).
# TimeSformer-L on SSv2 uses 64 frames (configs/SSv2/TimeSformer_divST_64_224.yaml), not 96.
PRETRAINED_VARIANTS: dict[str, PretrainedVariant] = {
    "TimeSformer_divST_8x32_224_K400.pyth": PretrainedVariant("K400", 8, 224, 32),
    "TimeSformer_divST_96x4_224_K400.pyth": PretrainedVariant("K400", 96, 224, 4),
    "TimeSformer_divST_16x16_448_K400.pyth": PretrainedVariant("K400", 16, 448, 16),
    "TimeSformer_divST_8x32_224_K600.pyth": PretrainedVariant("K600", 8, 224, 32),
    "TimeSformer_divST_96x4_224_K600.pyth": PretrainedVariant("K600", 96, 224, 4),
    "TimeSformer_divST_16x16_448_K600.pyth": PretrainedVariant("K600", 16, 448, 16),
    "TimeSformer_divST_8_224_SSv2.pyth": PretrainedVariant("SSv2", 8, 224, None),
    "TimeSformer_divST_64_224_SSv2.pyth": PretrainedVariant("SSv2", 64, 224, None),
    "TimeSformer_divST_16_448_SSv2.pyth": PretrainedVariant("SSv2", 16, 448, None),
}


def find_variant(name: str | None) -> PretrainedVariant | None:
    """The table entry for an official file name (with or without ``.pyth`` or a directory), else None."""
    if not name:
        return None
    stem = Path(str(name).split("?")[0]).name.removesuffix(".pyth")
    return PRETRAINED_VARIANTS.get(stem + ".pyth")


def _require(state: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in state:
        raise ConversionError(f"source checkpoint has no tensor {key!r}; is this a TimeSformer checkpoint?")
    return state[key]


def infer_config(
    state: Mapping[str, torch.Tensor],
    cfg: dict | None = None,
    num_attention_heads: int | None = None,
    variant: PretrainedVariant | None = None,
    labels: list[str] | None = None,
    **overrides,
) -> TimeSformerConfig:
    """Sizes from the tensor shapes, cross-checked against the training cfg and the file name's variant."""
    hidden_size = _require(state, "cls_token").shape[-1]
    patch_weight = _require(state, "patch_embed.proj.weight")  # (dim, channels, patch, patch)
    num_patches = _require(state, "pos_embed").shape[1] - 1
    grid_side = math.isqrt(num_patches)
    if grid_side * grid_side != num_patches:
        raise ConversionError(f"pos_embed holds {num_patches} patch positions, not a square grid")
    blocks = {int(match.group(1)) for key in state if (match := re.match(r"blocks\.(\d+)\.", key))}
    if not blocks:
        raise ConversionError("source checkpoint has no tensor under 'blocks.'")
    if "blocks.0.temporal_fc.weight" in state:
        attention_type = "divided_space_time"
    elif "time_embed" in state:
        attention_type = "joint_space_time"
    else:
        attention_type = "space_only"
    num_frames = state["time_embed"].shape[1] if "time_embed" in state else None
    image_size = grid_side * patch_weight.shape[-1]
    num_labels = _require(state, "head.weight").shape[0]

    checks = {
        "attention type": (attention_type, cfg_value(cfg, "TIMESFORMER", "ATTENTION_TYPE")),
        "frames": (num_frames, cfg_value(cfg, "DATA", "NUM_FRAMES")),
        "image size": (image_size, cfg_value(cfg, "DATA", "TRAIN_CROP_SIZE")),
        "classes": (num_labels, cfg_value(cfg, "MODEL", "NUM_CLASSES")),
    }
    if variant is not None:
        checks["frames (file name)"] = (num_frames, variant.num_frames)
        checks["image size (file name)"] = (image_size, variant.image_size)
        checks["classes (file name)"] = (num_labels, DATASETS[variant.dataset].num_labels)
    for what, (from_tensors, declared) in checks.items():
        if from_tensors is not None and declared is not None and from_tensors != declared:
            raise ConversionError(f"{what}: the tensors say {from_tensors}, the checkpoint's metadata {declared}")
    if num_frames is None:  # space_only has no time table: the clip length is only in the cfg
        num_frames = cfg_value(cfg, "DATA", "NUM_FRAMES") or (variant.num_frames if variant else 8)

    if num_attention_heads is None:
        if hidden_size != BASE_HIDDEN_SIZE:
            raise ConversionError(
                f"cannot infer the number of attention heads of a {hidden_size}-wide model; pass num_attention_heads"
            )
        num_attention_heads = BASE_NUM_HEADS
    if labels is None and variant is not None and DATASETS[variant.dataset].labels_file:
        labels = packaged_labels(DATASETS[variant.dataset].labels_file)
    if labels is not None and len(labels) != num_labels:
        raise ConversionError(f"{len(labels)} class names given for a checkpoint with {num_labels} classes")
    label_kwargs = {"num_labels": num_labels}
    if labels is not None:
        label_kwargs = {"id2label": dict(enumerate(labels)), "label2id": {name: i for i, name in enumerate(labels)}}

    settings = {
        "image_size": image_size,
        "patch_size": patch_weight.shape[-1],
        "num_channels": patch_weight.shape[1],
        "num_frames": num_frames,
        "hidden_size": hidden_size,
        "num_hidden_layers": max(blocks) + 1,
        "num_attention_heads": num_attention_heads,
        "intermediate_size": _require(state, "blocks.0.mlp.fc1.weight").shape[0],
        "qkv_bias": "blocks.0.attn.qkv.bias" in state,
        "layer_norm_eps": 1e-6,
        "attention_type": attention_type,
        "drop_path_rate": 0.1,  # the original's training value; no effect at inference
        **label_kwargs,
    }
    settings.update(overrides)
    return TimeSformerConfig(**settings)


@dataclass(frozen=True)
class SourceLayout:
    """Where a TimeSformer implementation keeps each tensor: module names relative to its state dict root
    (``block`` formats with the block index; the block's module names are relative to it)."""

    cls_token: str
    position_embeddings: str
    time_embeddings: str
    patch_embedding: str
    final_norm: str
    head: str
    block: str
    spatial_norm: str
    spatial_qkv: str
    spatial_proj: str
    mlp_norm: str
    fc1: str
    fc2: str
    temporal_norm: str
    temporal_qkv: str
    temporal_proj: str
    temporal_fc: str


ORIGINAL_LAYOUT = SourceLayout(
    cls_token="cls_token",
    position_embeddings="pos_embed",
    time_embeddings="time_embed",
    patch_embedding="patch_embed.proj",
    final_norm="norm",
    head="head",
    block="blocks.{i}",
    spatial_norm="norm1",
    spatial_qkv="attn.qkv",
    spatial_proj="attn.proj",
    mlp_norm="norm2",
    fc1="mlp.fc1",
    fc2="mlp.fc2",
    temporal_norm="temporal_norm1",
    temporal_qkv="temporal_attn.qkv",
    temporal_proj="temporal_attn.proj",
    temporal_fc="temporal_fc",
)


def tensor_renames(config: TimeSformerConfig, layout: SourceLayout = ORIGINAL_LAYOUT) -> list[tuple[str, str]]:
    """(source key, our key) for every tensor of a TimeSformer classifier laid out as ``layout``."""
    linear = ("weight", "bias")
    qkv = linear if config.qkv_bias else ("weight",)
    spatial_step = next(name for name in ATTENTION_STEPS[config.attention_type] if name != "time")
    embeddings = "timesformer.embeddings"
    renames = [
        (layout.cls_token, f"{embeddings}.cls_token"),
        (layout.position_embeddings, f"{embeddings}.position_embeddings"),
    ]
    if config.attention_type != "space_only":
        renames.append((layout.time_embeddings, f"{embeddings}.time_embeddings"))
    modules = [
        (layout.patch_embedding, f"{embeddings}.patch_embeddings.proj", linear),
        (layout.final_norm, "timesformer.layernorm", linear),
        (layout.head, "classifier", linear),
    ]
    for i in range(config.num_hidden_layers):
        source, target = layout.block.format(i=i), f"timesformer.layers.{i}"
        step = f"{target}.attentions.{spatial_step}"
        block_modules = [
            (layout.spatial_norm, f"{step}.norm", linear),
            (layout.spatial_qkv, f"{step}.attention.qkv", qkv),
            (layout.spatial_proj, f"{step}.attention.proj", linear),
            (layout.mlp_norm, f"{target}.mlp_norm", linear),
            (layout.fc1, f"{target}.mlp.fc1", linear),
            (layout.fc2, f"{target}.mlp.fc2", linear),
        ]
        if config.attention_type == "divided_space_time":
            time = f"{target}.attentions.time"
            block_modules += [
                (layout.temporal_norm, f"{time}.norm", linear),
                (layout.temporal_qkv, f"{time}.attention.qkv", qkv),
                (layout.temporal_proj, f"{time}.attention.proj", linear),
                (layout.temporal_fc, f"{time}.fc", linear),
            ]
        modules += [(f"{source}.{name}", our_name, tensors) for name, our_name, tensors in block_modules]
    renames += [(f"{source}.{name}", f"{target}.{name}") for source, target, names in modules for name in names]
    return renames


def rename_tensors(
    state: Mapping[str, torch.Tensor], config: TimeSformerConfig, layout: SourceLayout
) -> dict[str, torch.Tensor]:
    """Our state dict from a source one: every source tensor used exactly once (``ConversionError`` names a
    missing or left-over key), the result checked to load strictly (names and shapes) into ours."""
    ledger = TensorLedger(state)
    converted = {target: ledger.take(source) for source, target in tensor_renames(config, layout)}
    ledger.finish()
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        check_complete(TimeSformerForVideoClassification(config), converted)
    return converted


def convert_timesformer_checkpoint(
    checkpoint: Mapping,
    num_attention_heads: int | None = None,
    variant: str | None = None,
    labels: list[str] | None = None,
    **config_overrides,
) -> tuple[TimeSformerConfig, dict[str, torch.Tensor]]:
    """An original ``.pyth`` checkpoint (or its bare state dict) -> (``TimeSformerConfig``, our state dict).

    Args:
        checkpoint: the loaded container; weights are read from ``model_state`` (else ``model`` /
            ``module``), the ``cfg`` YAML only for cross-checks, other entries ignored.
        num_attention_heads: heads per block; default 12 for a 768-wide model, required otherwise.
        variant: official file name (``TimeSformer_divST_8x32_224_K400.pyth``) for the class names and a
            check of frames / resolution / classes against the tensors.
        labels: class names in logit order (default: the packaged Kinetics names for K400/K600 variants).
        config_overrides: any other ``TimeSformerConfig`` field.

    Every source tensor is used exactly once; ``ConversionError`` names any missing or left-over key, and the
    result is checked to load strictly (names and shapes) into ``TimeSformerForVideoClassification``.
    """
    state, cfg = extract_state_dict(checkpoint)
    known = find_variant(variant)
    if variant is not None and known is None:
        raise ConversionError(f"unknown TimeSformer variant {variant!r}; known: {sorted(PRETRAINED_VARIANTS)}")
    config = infer_config(state, cfg, num_attention_heads, known, labels, **config_overrides)
    return config, rename_tensors(state, config, ORIGINAL_LAYOUT)


def video_processor_kwargs(config: TimeSformerConfig, variant: PretrainedVariant | None, cfg: dict | None) -> dict:
    """The original test-time preprocessing (module docstring) as ``TimeSformerVideoProcessor`` settings."""
    if variant is not None:
        dataset, sample_rate = DATASETS[variant.dataset], variant.frame_sample_rate
    else:
        ssv2 = str(cfg_value(cfg, "TEST", "DATASET") or "").lower() == "ssv2"
        dataset = DATASETS["SSv2" if ssv2 else "K400"]
        sample_rate = None if ssv2 else cfg_value(cfg, "DATA", "SAMPLING_RATE") or 32
    crop = config.image_size if isinstance(config.image_size, int) else min(config.image_size)
    kwargs = {
        "num_frames": config.num_frames,
        "sampling": dataset.sampling,
        "num_clips": cfg_value(cfg, "TEST", "NUM_ENSEMBLE_VIEWS") or 1,
        "num_crops": cfg_value(cfg, "TEST", "NUM_SPATIAL_CROPS") or 3,
        "view_fusion": "logits",  # see TIMESFORMER_TEST
        "size": {"shortest_edge": crop},
        "crop_size": {"height": crop, "width": crop},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [MEAN] * config.num_channels,
        "image_std": [STD] * config.num_channels,
        "channel_order": dataset.channel_order,
        "num_channels": config.num_channels,
    }
    if dataset.sampling == "clip":
        # PySlowFast samples as if every video ran at TARGET_FPS 30, starts the single test clip at the first
        # frame (delta * 0 / 1) and clamps indices past the end of a short video (repeats its last frame).
        target_fps = cfg_value(cfg, "DATA", "TARGET_FPS") or 30
        kwargs.update(frame_sample_rate=sample_rate, target_fps=target_fps, clip_alignment="start", short_video="clamp")
    return kwargs


# How TimeSformer's test combines a video's views (the published numbers), for the model card.
TIMESFORMER_TEST = (
    "TimeSformer's test (`tools/test_net.py` with PySlowFast's `TestMeter`, ensemble method `sum`) sums the views' "
    "outputs, and its model returns the head's logits (no softmax in eval mode, unlike PySlowFast's heads): the "
    "views' logits are combined, which ranks the classes as their average does. The test's docstring speaks of "
    "averaging softmax scores; the code sums logits."
)
# What tests/test_timesformer_conversion.py measures for this checkpoint family (and asserts stays within the bound).
PARITY_BOUND = 1e-5
VERIFIED_BY_TESTS = (
    "Checked by the project's tests (the released weights cannot be run there): every tensor of this file's "
    "layout, as listed in its manifest, is mapped exactly once and loads strictly into the model; and small "
    "models of the original code in the original `.pyth` container (random weights, 2 blocks, 96 wide; "
    "divided, joint and space-only attention), converted by this script, reproduce the original "
    f"implementation's logits, features and per-block hidden states within {PARITY_BOUND:.0e} (max abs, fp32), "
    "also with resized time and position tables."
)


def preprocessing_rows(processor_kwargs: dict) -> dict[str, str]:
    """The model card's preprocessing table (and the converters' warnings) for these processor settings."""
    frames = processor_kwargs["num_frames"]
    if processor_kwargs["sampling"] == "clip":
        sampling = f"{frames} frames, one every {processor_kwargs['frame_sample_rate']}"
    else:
        sampling = f"{frames} frames, the middle of {frames} equal segments"
    crop = format_setting(processor_kwargs["crop_size"])
    values = "x"
    if processor_kwargs["do_rescale"]:
        factor = format_setting(processor_kwargs["rescale_factor"])
        values = f"x / {factor.removeprefix('1/')}" if factor.startswith("1/") else f"x × {factor}"
    if processor_kwargs["do_normalize"]:
        mean, std = processor_kwargs["image_mean"], processor_kwargs["image_std"]
        if len(set(mean)) == len(set(std)) == 1:  # the same on every channel
            values = f"({values} - {format_setting(mean[0])}) / {format_setting(std[0])}"
        else:
            values = f"({values} - mean) / std, mean {format_setting(mean)}, std {format_setting(std)}"
    return {
        "channel order": processor_kwargs["channel_order"].upper(),
        "frames": sampling,
        "resize": format_setting(processor_kwargs["size"]),
        "crop": f"{processor_kwargs['num_crops']} crops of {crop}, {processor_kwargs['num_clips']} clip(s)",
        "values": values,
    }


def model_card(model_id: str, config: TimeSformerConfig, checkpoint_name: str, processor_kwargs: dict) -> str:
    variant = find_variant(checkpoint_name)
    dataset = DATASETS[variant.dataset] if variant else None
    preprocessing = preprocessing_rows(processor_kwargs)
    notes = (
        f"Converted from `{checkpoint_name}` of [TimeSformer]({SOURCE_URL}) ({config.attention_type}, "
        f"{config.num_frames} frames at {config.image_size}px). {VERIFIED_BY_TESTS} Other clip lengths / "
        "resolutions work: the time and position tables are resized (nearest) as the original forward does."
    )
    if dataset is not None and dataset.channel_order == "bgr":
        notes += (
            "\n\nThe SSv2 models were trained on **BGR** frames (OpenCV decoding; the config's channel flip is "
            "never applied on this model's path); the video processor reverses the channels accordingly."
        )
    return render_model_card(
        model_id=model_id,
        architecture="TimeSformer",
        base_model=None,
        datasets=[dataset.name] if dataset else [],
        metrics=None,
        source=f"TimeSformer (Bertasius, Wang & Torresani, ICML 2021), converted from {SOURCE_URL}.",
        preprocessing=preprocessing,
        notes=notes,
        evaluation_protocol=evaluation_protocol(processor_kwargs, TIMESFORMER_TEST),
    )


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for every published TimeSformer checkpoint, from the manifests in
    ``reference_dir`` (``shared/reference``); read by ``model_cards/generate.py``."""
    cards = {}
    for file_name, variant in PRETRAINED_VARIANTS.items():
        stem = file_name.removesuffix(".pyth")
        state_dict = meta_state_dict_from_manifest(reference_dir / "timesformer" / f"{stem}.manifest.json")
        config, _ = convert_timesformer_checkpoint({"model_state": state_dict}, variant=file_name)
        kwargs = video_processor_kwargs(config, variant, None)
        cards[f"{stem}.md"] = model_card(stem.lower().replace("_", "-"), config, file_name, kwargs)
    return cards


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a facebookresearch/TimeSformer .pyth checkpoint to an hf_videomodels folder.",
        default_labels="the packaged Kinetics-400/600 names; SSv2 needs its labels JSON",
    )
    parser.add_argument(
        "--variant",
        default=None,
        help="official file name if the checkpoint was renamed (default: the checkpoint's own file name)",
    )
    parser.add_argument("--num-heads", type=int, default=None, help="attention heads (default 12 for width 768)")
    args = parser.parse_args(argv)
    from hf_videomodels.models.timesformer import TimeSformerVideoProcessor

    checkpoint_name = Path(str(args.checkpoint).split("?")[0]).name
    variant_name = args.variant or (checkpoint_name if find_variant(checkpoint_name) else None)
    checkpoint = load_checkpoint(args.checkpoint)
    variant = find_variant(variant_name)
    if variant is not None and DATASETS[variant.dataset].labels_file is None and args.labels is None:
        logger.warning("no class names for %s: pass --labels (SSv2: the dataset's labels JSON)", variant_name)
    config, converted = convert_timesformer_checkpoint(checkpoint, args.num_heads, variant_name, args.labels)
    model = load_converted(TimeSformerForVideoClassification, config, converted)
    _, cfg = extract_state_dict(checkpoint)
    processor_kwargs = video_processor_kwargs(config, variant, cfg)
    processor = TimeSformerVideoProcessor(**processor_kwargs)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, config, variant_name or checkpoint_name, processor_kwargs)
    return save_converted(model, processor, args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
