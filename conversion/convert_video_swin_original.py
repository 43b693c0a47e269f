"""Convert SwinTransformer/Video-Swin-Transformer checkpoints (mmaction2 ``.pth``) to hf_videomodels' Video Swin.

    python -m conversion.convert_video_swin_original \
        --checkpoint swin_tiny_patch244_window877_kinetics400_1k.pth --output video-swin-tiny-k400
    python conversion/convert_video_swin_original.py --checkpoint swin_base_patch244_window1677_sthv2.pth \
        --labels something-something-v2-labels.json --output video-swin-base-ssv2

The files are mmcv checkpoints: ``{"meta", "state_dict", ("optimizer", "amp")}``. Only ``state_dict`` is read
(keys ``backbone.*`` of ``SwinTransformer3D`` and ``cls_head.*`` of ``I3DHead``); the rest is trainer
bookkeeping. Every tensor maps one to one onto ours (``backbone.layers.{i}`` -> ``stages.{i}``): the qkv rows,
the bias tables and the patch-merging channel order are the original's. ``relative_position_index`` (a
persistent buffer of the original) is a function of the window: it is checked to equal ours and carried over.

The sizes come from the tensors: width and patch size from the patch embedding, blocks per stage, heads
from the bias tables, the window from the bias table and index sizes (square spatial windows), classes
from the head.
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
    ConversionError,
    TensorLedger,
    base_arg_parser,
    check_complete,
    evaluation_protocol,
    load_checkpoint,
    load_converted,
    meta_state_dict_from_manifest,
    packaged_labels,
    run_script,
    save_converted,
)
from hf_videomodels.layers.window_attention import relative_position_index
from hf_videomodels.model_card import format_setting, render_model_card
from hf_videomodels.models.video_swin.configuration_video_swin import VideoSwinConfig
from hf_videomodels.models.video_swin.modeling_video_swin import VideoSwinForVideoClassification

logger = logging.getLogger(__name__)

SOURCE_URL = "https://github.com/SwinTransformer/Video-Swin-Transformer"
IGNORED_CONTAINER_KEYS = ("meta", "optimizer", "amp")
# mmaction's img_norm_cfg on the 0-255 scale, RGB: the ImageNet mean and std times 255.
MEAN_255 = (123.675, 116.28, 103.53)
STD_255 = (58.395, 57.12, 57.375)
# Original key prefix -> ours; block and merging names below them are the same.
PREFIXES = (
    ("backbone.layers.", "video_swin.encoder.stages."),
    ("backbone.", "video_swin.encoder."),
    ("cls_head.fc_cls.", "classifier."),
)


@dataclass(frozen=True)
class Dataset:
    name: str  # Hub dataset tag
    num_labels: int
    labels_file: str | None  # packaged class names, None: pass --labels
    sampling: str  # "clip": 32 frames every 2, 4 clips; "segments": 32 equal segments, 1 clip


DATASETS = {
    "K400": Dataset("kinetics-400", 400, "kinetics400", "clip"),
    "K600": Dataset("kinetics-600", 600, "kinetics600", "clip"),
    "SSv2": Dataset("something-something-v2", 174, None, "segments"),
}


@dataclass(frozen=True)
class PretrainedVariant:
    """One released checkpoint (the table of the original README and its configs)."""

    size: str
    dataset: str
    window_size: tuple[int, int, int]
    drop_path_rate: float
    pretraining: str  # the ImageNet model it was initialised from


PRETRAINED_VARIANTS = {
    "swin_tiny_patch244_window877_kinetics400_1k": PretrainedVariant("tiny", "K400", (8, 7, 7), 0.1, "ImageNet-1K"),
    "swin_small_patch244_window877_kinetics400_1k": PretrainedVariant("small", "K400", (8, 7, 7), 0.1, "ImageNet-1K"),
    "swin_base_patch244_window877_kinetics400_1k": PretrainedVariant("base", "K400", (8, 7, 7), 0.3, "ImageNet-1K"),
    "swin_base_patch244_window877_kinetics400_22k": PretrainedVariant("base", "K400", (8, 7, 7), 0.2, "ImageNet-22K"),
    "swin_base_patch244_window877_kinetics600_22k": PretrainedVariant("base", "K600", (8, 7, 7), 0.2, "ImageNet-22K"),
    "swin_base_patch244_window1677_sthv2": PretrainedVariant("base", "SSv2", (16, 7, 7), 0.4, "Kinetics-400 (22K)"),
}


def find_variant(name: str | None) -> PretrainedVariant | None:
    """The table entry for an official file name (with or without ``.pth`` or a directory), else None."""
    if not name:
        return None
    return PRETRAINED_VARIANTS.get(Path(str(name).split("?")[0]).name.removesuffix(".pth"))


def extract_state_dict(checkpoint: Mapping) -> Mapping[str, torch.Tensor]:
    """``checkpoint["state_dict"]`` of an mmcv container, or the container itself if it is a bare state dict."""
    if "state_dict" in checkpoint:
        unknown = set(checkpoint) - {"state_dict", *IGNORED_CONTAINER_KEYS}
        if unknown:
            logger.warning("ignoring unknown checkpoint entries %s", sorted(unknown))
        return checkpoint["state_dict"]
    if any(key.startswith("backbone.") for key in checkpoint):
        return checkpoint
    raise ConversionError(f"no 'state_dict' and no 'backbone.*' keys in the checkpoint; found {sorted(checkpoint)[:10]}")


def our_key(key: str) -> str:
    for source, target in PREFIXES:
        if key.startswith(source):
            return target + key[len(source):]
    raise ConversionError(f"unknown checkpoint key {key!r} (expected 'backbone.*' or 'cls_head.fc_cls.*')")


def infer_window(table_rows: int, index_tokens: int) -> tuple[int, int, int]:
    """(Wd, Wh, Ww) from a bias table's rows ``(2Wd-1)(2Wh-1)(2Ww-1)`` and its window's tokens ``Wd Wh Ww``,
    for the square spatial windows every released model uses."""
    for side in range(1, math.isqrt(index_tokens) + 1):
        depth, rest = divmod(index_tokens, side * side)
        if rest == 0 and (2 * depth - 1) * (2 * side - 1) ** 2 == table_rows:
            return depth, side, side
    raise ConversionError(f"no window (d, s, s) has {index_tokens} tokens and {table_rows} bias-table rows")


def infer_config(
    state: Mapping[str, torch.Tensor], variant: PretrainedVariant | None, labels: list[str] | None, **overrides
) -> VideoSwinConfig:
    try:
        patch = state["backbone.patch_embed.proj.weight"]
        depths, num_heads = [], []
        while f"backbone.layers.{len(depths)}.blocks.0.norm1.weight" in state:
            stage = len(depths)
            depths.append(sum(1 for key in state if re.fullmatch(rf"backbone\.layers\.{stage}\.blocks\.\d+\.norm1\.weight", key)))
            num_heads.append(state[f"backbone.layers.{stage}.blocks.0.attn.relative_position_bias_table"].shape[1])
        table = state["backbone.layers.0.blocks.0.attn.relative_position_bias_table"]
        fc1 = state["backbone.layers.0.blocks.0.mlp.fc1.weight"]
        num_labels = state["cls_head.fc_cls.weight"].shape[0]
        index_key = "backbone.layers.0.blocks.0.attn.relative_position_index"
        tokens = state[index_key].shape[0] if index_key in state else None
    except KeyError as err:
        raise ConversionError(f"not a Video Swin checkpoint: missing {err}") from err
    if variant is not None:
        window = variant.window_size
    elif tokens is not None:
        window = infer_window(table.shape[0], tokens)
    else:
        raise ConversionError("no relative_position_index to read the window size from; pass --variant")
    dataset = DATASETS[variant.dataset] if variant else None
    if dataset is not None and num_labels != dataset.num_labels:
        raise ConversionError(f"the head has {num_labels} classes, {variant.dataset} has {dataset.num_labels}")
    if labels is None and dataset is not None and dataset.labels_file:
        labels = packaged_labels(dataset.labels_file)
    if labels is not None and len(labels) != num_labels:
        raise ConversionError(f"{len(labels)} class names for a head of {num_labels} classes")
    id2label = {i: name for i, name in enumerate(labels)} if labels else {i: f"LABEL_{i}" for i in range(num_labels)}
    settings = dict(
        num_channels=patch.shape[1],
        patch_size=list(patch.shape[2:]),
        embed_dim=patch.shape[0],
        depths=depths,
        num_heads=num_heads,
        window_size=list(window),
        mlp_ratio=fc1.shape[0] / fc1.shape[1],
        qkv_bias="backbone.layers.0.blocks.0.attn.qkv.bias" in state,
        drop_path_rate=variant.drop_path_rate if variant else 0.1,
        num_labels=num_labels,
        id2label=id2label,
        label2id={name: i for i, name in id2label.items()},
    )
    return VideoSwinConfig(**{**settings, **overrides})


def rename_tensors(state: Mapping[str, torch.Tensor], config: VideoSwinConfig) -> dict[str, torch.Tensor]:
    """Our state dict: every source tensor used exactly once, index buffers checked, the result checked to load
    strictly (names and shapes)."""
    ledger = TensorLedger(state)
    expected_index = relative_position_index(config.window_size)
    converted = {}
    for key in list(ledger.keys()):
        tensor = ledger.take(key)
        if key.endswith("relative_position_index") and tensor.device.type != "meta":
            if not torch.equal(tensor, expected_index):
                raise ConversionError(f"{key} is not the index of window {tuple(config.window_size)}")
        converted[our_key(key)] = tensor
    ledger.finish()
    with torch.device("meta"):
        check_complete(VideoSwinForVideoClassification(config), converted)
    return converted


def convert_video_swin_checkpoint(
    checkpoint: Mapping, variant: str | None = None, labels: list[str] | None = None, **config_overrides
) -> tuple[VideoSwinConfig, dict[str, torch.Tensor]]:
    """An original ``.pth`` container (or its ``state_dict``) -> (``VideoSwinConfig``, our state dict).

    ``variant`` is an official file name (class names, window, drop path); ``labels`` class names in logit order
    (default: the packaged Kinetics names). ``ConversionError`` names any missing or left-over key.
    """
    state = extract_state_dict(checkpoint)
    known = find_variant(variant)
    if variant is not None and known is None:
        raise ConversionError(f"unknown Video Swin variant {variant!r}; known: {sorted(PRETRAINED_VARIANTS)}")
    config = infer_config(state, known, labels, **config_overrides)
    return config, rename_tensors(state, config)


def video_processor_kwargs(config: VideoSwinConfig, variant: PretrainedVariant | None) -> dict:
    """The original test pipeline as ``VideoSwinVideoProcessor`` settings (Kinetics: 32 frames every 2,
    4 clips x 3 crops; SSv2: 32 uniform segments, 1 clip x 3 crops; short side 224, crops of 224)."""
    dataset = DATASETS[variant.dataset] if variant else DATASETS["K400"]
    kwargs = {
        "num_frames": 32,
        "sampling": dataset.sampling,
        "num_clips": 4 if dataset.sampling == "clip" else 1,
        "num_crops": 3,
        "view_fusion": "softmax",  # see MMACTION_TEST
        "size": {"shortest_edge": 224},
        "crop_size": {"height": 224, "width": 224},
        "image_mean": [m / 255 for m in MEAN_255],
        "image_std": [s / 255 for s in STD_255],
        "num_channels": config.num_channels,
    }
    if dataset.sampling == "clip":
        kwargs.update(frame_sample_rate=2, short_video="loop", clip_alignment="mmaction")
    return kwargs


def preprocessing_rows(kwargs: dict) -> dict[str, str]:
    """The model card's preprocessing table."""
    if kwargs["sampling"] == "clip":
        frames = f"{kwargs['num_frames']} frames, one every {kwargs['frame_sample_rate']}"
    else:
        frames = f"{kwargs['num_frames']} frames, the middle of {kwargs['num_frames']} equal segments"
    return {
        "channel order": "RGB",
        "frames": frames,
        "resize": format_setting(kwargs["size"]),
        "crop": f"{kwargs['num_crops']} crops of {format_setting(kwargs['crop_size'])}, {kwargs['num_clips']} clip(s)",
        "values": f"(x - mean) / std, mean {format_setting(list(MEAN_255))}, std {format_setting(list(STD_255))} (0-255 scale)",
    }


# How the original test (mmaction2's) combines a video's views, for the model card.
MMACTION_TEST = (
    "The original test (mmaction2's `Recognizer3D` with the configs' `test_cfg=dict(average_clips='prob')`) "
    "averages the views' softmax probabilities."
)
PARITY_BOUND = 1e-4
VERIFIED_BY_TESTS = (
    "Checked by the project's tests (the released weights cannot be run there): every tensor of this file's "
    "layout, as listed in its manifest, is mapped exactly once and loads strictly into the model; and small "
    "models of the original code (random weights, windows 8x7x7 and 2x7x7) in the original container, "
    "converted by this script, reproduce the original's logits, features and per-block outputs within "
    f"{PARITY_BOUND:.0e} (max abs, fp32), including padded inputs and shrunken windows."
)


def model_card(model_id: str, config: VideoSwinConfig, checkpoint_name: str, kwargs: dict) -> str:
    variant = find_variant(checkpoint_name)
    dataset = DATASETS[variant.dataset] if variant else None
    notes = (
        f"Converted from `{checkpoint_name}` of [Video Swin Transformer]({SOURCE_URL}) (Swin-"
        f"{variant.size.upper()[0] if variant else '?'}, patch {tuple(config.patch_size)}, window "
        f"{tuple(config.window_size)}"
        + (f", initialised from {variant.pretraining}" if variant else "")
        + f"). {VERIFIED_BY_TESTS} Any clip length and resolution run: tokens are padded to whole windows and "
        "windows shrink on smaller inputs, as in the original. The model's own forward averages the views' logits; "
        "`hf-videomodels evaluate` and the pipeline average their softmax, as the original (below). The processor reproduces the "
        "original *test* pipeline (short side 224, three 224 crops), which gives the published accuracy; the original's "
        "validation pipeline (short side 256, one centre crop) is `size={'shortest_edge': 256}, num_crops=1`."
    )
    if dataset is not None and dataset.sampling == "segments":
        notes += "\n\nThe SSv2 model was trained without horizontal flips: its classes distinguish left from right."
    return render_model_card(
        model_id=model_id,
        architecture="Video Swin",
        base_model=None,
        datasets=[dataset.name] if dataset else [],
        metrics=None,
        source=f"Video Swin Transformer (Liu et al., CVPR 2022), converted from {SOURCE_URL}.",
        preprocessing=preprocessing_rows(kwargs),
        notes=notes,
        evaluation_protocol=evaluation_protocol(kwargs, MMACTION_TEST),
    )


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for every published Video Swin checkpoint, from the manifests in
    ``reference_dir`` (``shared/reference``); read by ``model_cards/generate.py``."""
    cards = {}
    for stem, variant in PRETRAINED_VARIANTS.items():
        state = meta_state_dict_from_manifest(reference_dir / "video_swin" / f"{stem}.manifest.json")
        config, _ = convert_video_swin_checkpoint({"state_dict": state}, variant=stem)
        cards[f"video_{stem}.md"] = model_card(f"video-{stem}".replace("_", "-"), config, f"{stem}.pth", video_processor_kwargs(config, variant))
    return cards


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a SwinTransformer/Video-Swin-Transformer .pth checkpoint to an hf_videomodels folder.",
        default_labels="the packaged Kinetics-400/600 names; SSv2 needs its labels JSON",
    )
    parser.add_argument("--variant", default=None, help="official file name if the checkpoint was renamed")
    args = parser.parse_args(argv)
    from hf_videomodels.models.video_swin import VideoSwinVideoProcessor

    checkpoint_name = Path(str(args.checkpoint).split("?")[0]).name
    variant_name = args.variant or (checkpoint_name if find_variant(checkpoint_name) else None)
    variant = find_variant(variant_name)
    if variant is not None and DATASETS[variant.dataset].labels_file is None and args.labels is None:
        logger.warning("no class names for %s: pass --labels (SSv2: the dataset's labels JSON)", variant_name)
    config, converted = convert_video_swin_checkpoint(load_checkpoint(args.checkpoint), variant_name, args.labels)
    model = load_converted(VideoSwinForVideoClassification, config, converted)
    kwargs = video_processor_kwargs(config, variant)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, config, variant_name or checkpoint_name, kwargs)
    return save_converted(model, VideoSwinVideoProcessor(**kwargs), args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
