"""Convert PySlowFast ``SlowFast`` checkpoints (``.pyth``, PySlowFast module names) to hf_videomodels' SlowFast.

    python -m conversion.convert_slowfast_pyslowfast --checkpoint SLOWFAST_8x8_R50.pyth --output slowfast-8x8-r50
    python conversion/convert_slowfast_pyslowfast.py --checkpoint my_run/checkpoints/checkpoint_epoch_00196.pyth \
        --output my-slowfast

The ``.pyth`` files are PySlowFast trainer checkpoints (``slowfast/utils/checkpoint.py:save_checkpoint``):
``{"epoch", "model_state", "optimizer_state", "cfg"}``; only ``model_state`` holds weights (keys such as
``s2.pathway0_res0.branch2.a.weight``, ``s1_fuse.conv_f2s.weight``, ``head.projection.weight``), ``cfg`` (the
training config as YAML) gives alpha, the clip length and crop, and is cross-checked against the tensors.

This module is also the common ground of the other two SlowFast formats: ``convert_slowfast_caffe2.py`` (the
original model zoo's Caffe2 ``.pkl``) and ``convert_slowfast_pytorchvideo.py`` (pytorchvideo's hub and
PySlowFast's "PyTorchVideo" zoo) rename their tensors to PySlowFast's names and convert from there.

Everything but alpha, the clip length and the crop size is read from the tensors: depth (R50 / R101), width,
Fast channel ratio, lateral-conv kernel and channel ratio, which blocks have temporal kernels (``R101_50_50``,
``R101_50_101``), non-local blocks, classes. Alpha (the frame-rate ratio, the lateral convs' time stride) leaves
no trace in the weights: it comes from the cfg, else from an official file name, else ``--alpha``.

Preprocessing of the original Kinetics test, which the saved video processor reproduces: the Fast clip is 32
frames every 2 frames of a 30 fps video (64 for 16x8), the Slow frames are taken from it by the model; RGB,
``x / 255`` normalised with mean 0.45 and std 0.225; short side 256, 224x224 crops; 10 clips x 3 crops, logits
averaged over the 30 views.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from conversion.common import (
    BATCH_NORM_TENSORS,
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
from hf_videomodels.models.slowfast import SlowFastConfig, SlowFastForVideoClassification, SlowFastVideoProcessor
from hf_videomodels.models.slowfast.configuration_slowfast import NUM_STAGES

logger = logging.getLogger(__name__)

SOURCE_URL = "https://github.com/facebookresearch/SlowFast"
PATHWAYS = ("slow", "fast")  # PySlowFast's pathway0, pathway1
KINETICS_400 = 400
TEST_CLIPS, TEST_CROPS = 10, 3  # TEST.NUM_ENSEMBLE_VIEWS, TEST.NUM_SPATIAL_CROPS of the Kinetics configs


@dataclass(frozen=True)
class PublishedVariant:
    """What an official file name says about a checkpoint that its tensors cannot: alpha and the clip length
    (plus the fusion kernel and depth, cross-checked against the tensors)."""

    alpha: int
    num_frames: int
    fusion_kernel_size: int
    depth: int


# PySlowFast's Kinetics configs (configs/Kinetics/{c2,pytorchvideo}/SLOWFAST_*.yaml); pytorchvideo's hub files
# carry the same names.
PUBLISHED_VARIANTS = {
    "SLOWFAST_4x16_R50": PublishedVariant(8, 32, 5, 50),
    "SLOWFAST_8x8_R50": PublishedVariant(4, 32, 7, 50),
    "SLOWFAST_8x8_R101": PublishedVariant(4, 32, 5, 101),
    "SLOWFAST_8x8_R101_101_101": PublishedVariant(4, 32, 5, 101),
    "SLOWFAST_8x8_R101_50_50": PublishedVariant(4, 32, 5, 101),
    "SLOWFAST_8x8_R101_50_101": PublishedVariant(4, 32, 5, 101),
    "SLOWFAST_16x8_R101_50_50": PublishedVariant(4, 64, 5, 101),
}
RESNET_DEPTH_BY_BLOCKS = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101}


def find_variant(name: str | None) -> tuple[str, PublishedVariant] | tuple[None, None]:
    """(official name, variant) for a file name or URL such as ``.../SLOWFAST_8x8_R50.pkl``, else (None, None)."""
    if not name:
        return None, None
    stem = Path(str(name).split("?")[0]).name
    stem = re.sub(r"\.(pyth|pkl|pth|pt)$", "", stem).removesuffix(".pytorchvideo")
    for known in PUBLISHED_VARIANTS:
        if stem.lower() == known.lower():
            return known, PUBLISHED_VARIANTS[known]
    return None, None


# ---- tensor names ------------------------------------------------------------------------------------------


def module_renames(config: SlowFastConfig) -> list[tuple[str, str, str]]:
    """(PySlowFast module, our module, kind) for every module with tensors; kind is "conv" (weight only),
    "conv_bias" / "linear" (weight and bias) or "bn"."""
    pairs = []
    for p, pathway in enumerate(PATHWAYS):
        ours = f"slowfast.{pathway}"
        pairs += [(f"s1.pathway{p}_stem.conv", f"{ours}.stem.conv", "conv"), (f"s1.pathway{p}_stem.bn", f"{ours}.stem.bn", "bn")]
    for stage in range(NUM_STAGES):
        pairs += [
            (f"s{stage + 1}_fuse.conv_f2s", f"slowfast.fusions.{stage}.conv", "conv"),
            (f"s{stage + 1}_fuse.bn", f"slowfast.fusions.{stage}.bn", "bn"),
        ]
    for p, pathway in enumerate(PATHWAYS):
        nonlocal_blocks = getattr(config, f"{pathway}_nonlocal_blocks")
        for stage, depth in enumerate(config.depths):
            source_stage, our_stage = f"s{stage + 2}.pathway{p}", f"slowfast.{pathway}.stages.{stage}"
            for block in range(depth):
                source, ours = f"{source_stage}_res{block}", f"{our_stage}.blocks.{block}"
                if block == 0:  # the shortcut projection (channels change in every stage's first block)
                    pairs += [(f"{source}.branch1", f"{ours}.shortcut.conv", "conv"), (f"{source}.branch1_bn", f"{ours}.shortcut.bn", "bn")]
                for conv in "abc":
                    pairs += [
                        (f"{source}.branch2.{conv}", f"{ours}.conv_{conv}.conv", "conv"),
                        (f"{source}.branch2.{conv}_bn", f"{ours}.conv_{conv}.bn", "bn"),
                    ]
                if block in nonlocal_blocks[stage]:
                    source, ours = f"{source_stage}_nonlocal{block}", f"{our_stage}.nonlocal_blocks.{block}"
                    pairs += [(f"{source}.conv_{name}", f"{ours}.{name}", "conv_bias") for name in ("theta", "phi", "g", "out")]
                    pairs.append((f"{source}.bn", f"{ours}.bn", "bn"))
    pairs.append(("head.projection", "classifier", "linear"))
    return pairs


def tensor_names(kind: str) -> tuple[str, ...]:
    return BATCH_NORM_TENSORS if kind == "bn" else ("weight",) if kind == "conv" else ("weight", "bias")


def rename_tensors(
    state: Mapping[str, torch.Tensor], config: SlowFastConfig, expand_trailing_dims: bool = False
) -> dict[str, torch.Tensor]:
    """Our state dict from a PySlowFast-named one: every tensor used exactly once (``ConversionError`` names a
    missing or left-over key); BatchNorm ``num_batches_tracked`` taken when present (Caffe2 files have none:
    0). ``expand_trailing_dims``: give tensors stored with fewer dims the model's trailing 1-dims (Caffe2)."""
    counters = {key for key in state if key.endswith(".num_batches_tracked")}
    ledger = TensorLedger(state, optional=counters)
    converted = {}
    for source, ours, kind in module_renames(config):
        for name in tensor_names(kind):
            converted[f"{ours}.{name}"] = ledger.take(f"{source}.{name}")
        if kind == "bn":
            counter = f"{source}.num_batches_tracked"
            converted[f"{ours}.num_batches_tracked"] = ledger.take(counter) if counter in ledger else torch.tensor(0)
    ledger.finish()
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = SlowFastForVideoClassification(config)
    if expand_trailing_dims:
        expected = model.state_dict()
        for key, tensor in converted.items():
            shape = expected[key].shape if key in expected else None
            if shape is not None and tensor.ndim < len(shape) and tuple(tensor.shape) == tuple(shape[: tensor.ndim]):
                converted[key] = tensor.reshape(shape)
    check_complete(model, converted)
    return converted


def renamed_to_pyslowfast(
    state: Mapping[str, object], pyslowfast_key, source: str, skip=lambda name: False
) -> dict[str, object]:
    """Another format's tensors under PySlowFast's names (``pyslowfast_key(name)``, None for a name that is not
    one of SlowFast's): names ``skip`` accepts are dropped, any other unknown name is refused, and two names
    mapping to one key are refused."""
    renamed, unknown = {}, []
    for name, tensor in state.items():
        key = pyslowfast_key(name)
        if key is None:
            if not skip(name):
                unknown.append(name)
            continue
        if key in renamed:
            raise ConversionError(f"two {source} tensors map to {key!r} (the second is {name!r})")
        renamed[key] = tensor
    if unknown:
        raise ConversionError(f"{len(unknown)} tensor(s) are not {source} SlowFast tensors: {sorted(unknown)[:20]}")
    return renamed


# ---- config from the tensors -------------------------------------------------------------------------------


def _require(state: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in state:
        raise ConversionError(f"source checkpoint has no tensor {key!r}; is this a SlowFast checkpoint?")
    return state[key]


def _temporal_blocks(state: Mapping[str, torch.Tensor], pathway: int, stage: int, depth: int) -> tuple[int, int]:
    """(temporal kernel, leading blocks using it) of one stage, from the first convs' weights."""
    kernels = [_require(state, f"s{stage + 2}.pathway{pathway}_res{b}.branch2.a.weight").shape[2] for b in range(depth)]
    kernel = kernels[0]
    count = next((b for b, k in enumerate(kernels) if k != kernel), depth)
    if any(k != 1 for k in kernels[count:]):
        raise ConversionError(
            f"stage res{stage + 2} of pathway{pathway} has temporal kernels {kernels}: only a run of one kernel "
            "followed by 1s (RESNET.NUM_BLOCK_TEMP_KERNEL) is supported"
        )
    return kernel, count if kernel != 1 else depth


def nonlocal_blocks_from_location(location) -> dict[str, list[list[int]]]:
    """Our ``slow_nonlocal_blocks`` / ``fast_nonlocal_blocks`` from PySlowFast's ``NONLOCAL.LOCATION``, which lists
    per stage (res2 .. res5) and per pathway (Slow, Fast) the blocks a non-local block follows."""
    if len(location) != NUM_STAGES or any(len(stage) != len(PATHWAYS) for stage in location):
        raise ConversionError(f"NONLOCAL.LOCATION must list {NUM_STAGES} stages x {len(PATHWAYS)} pathways, got {location}")
    return {
        f"{pathway}_nonlocal_blocks": [sorted(stage[p]) for stage in location] for p, pathway in enumerate(PATHWAYS)
    }


def _nonlocal_settings(state, cfg) -> dict:
    """Non-local block positions from the tensors (checked against the cfg's ``NONLOCAL.LOCATION`` when it has
    one); their pooling and normalisation from the cfg."""
    blocks = {pathway: [[] for _ in range(NUM_STAGES)] for pathway in PATHWAYS}
    for key in state:
        match = re.fullmatch(r"s(\d)\.pathway(\d)_nonlocal(\d+)\.conv_theta\.weight", key)
        if match:
            stage, pathway, block = int(match.group(1)) - 2, int(match.group(2)), int(match.group(3))
            blocks[PATHWAYS[pathway]][stage].append(block)
    settings = {f"{pathway}_nonlocal_blocks": [sorted(b) for b in blocks[pathway]] for pathway in PATHWAYS}
    location = cfg_value(cfg, "NONLOCAL", "LOCATION")
    if location is not None and nonlocal_blocks_from_location(location) != settings:
        raise ConversionError(
            f"the checkpoint's non-local tensors sit at {settings}, its cfg's NONLOCAL.LOCATION says {location}"
        )
    used = [(s, p) for p, pathway in enumerate(PATHWAYS) for s in range(NUM_STAGES) if blocks[pathway][s]]
    if used:
        groups = cfg_value(cfg, "NONLOCAL", "GROUP")
        if groups and any(groups[s][p] != 1 for s, p in used):
            raise ConversionError(f"non-local blocks over temporal groups (NONLOCAL.GROUP={groups}) are not supported")
        pools = cfg_value(cfg, "NONLOCAL", "POOL")
        sizes = {tuple(pools[s][p]) for s, p in used} if pools else {(1, 2, 2)}
        if len(sizes) != 1:
            raise ConversionError(f"non-local blocks with different pool sizes {sorted(sizes)} are not supported")
        settings["nonlocal_pool_size"] = list(sizes.pop())
        settings["nonlocal_instantiation"] = cfg_value(cfg, "NONLOCAL", "INSTANTIATION") or "dot_product"
    return settings


def infer_config(
    state: Mapping[str, torch.Tensor],
    cfg: dict | None = None,
    variant: str | None = None,
    labels: list[str] | None = None,
    alpha: int | None = None,
    **overrides,
) -> SlowFastConfig:
    """A ``SlowFastConfig`` from PySlowFast-named tensors, the training cfg and/or the official variant name."""
    slow_stem = _require(state, "s1.pathway0_stem.conv.weight")  # (width, channels, kt, 7, 7)
    fast_stem = _require(state, "s1.pathway1_stem.conv.weight")
    fusion = _require(state, "s1_fuse.conv_f2s.weight")  # (ratio * fast width, fast width, k, 1, 1)
    head = _require(state, "head.projection.weight")  # (classes, hidden)
    depths = []
    for stage in range(NUM_STAGES):
        prefix = f"s{stage + 2}.pathway0_res"
        depths.append(len({key.split(".")[1] for key in state if key.startswith(prefix) and key.endswith("branch2.a.weight")}))
        fast_blocks = sum(1 for key in state if key.startswith(f"s{stage + 2}.pathway1_res") and key.endswith("branch2.a.weight"))
        if fast_blocks != depths[-1]:
            raise ConversionError(f"res{stage + 2} has {depths[-1]} Slow blocks but {fast_blocks} Fast ones")
    width, fast_width = slow_stem.shape[0], fast_stem.shape[0]
    if width % fast_width:
        raise ConversionError(f"Slow stem width {width} is not a multiple of the Fast stem width {fast_width}")
    name, known = find_variant(variant)
    if variant is not None and known is None:
        raise ConversionError(f"unknown SlowFast variant {variant!r}; known: {sorted(PUBLISHED_VARIANTS)}")

    settings = {
        "num_channels": slow_stem.shape[1],
        "width_per_group": width,
        "beta_inv": width // fast_width,
        "fusion_channel_ratio": fusion.shape[0] // fast_width,
        "fusion_kernel_size": fusion.shape[2],
        "depths": depths,
        "slow_stem_temporal_kernel_size": slow_stem.shape[2],
        "fast_stem_temporal_kernel_size": fast_stem.shape[2],
        "dropout_prob": cfg_value(cfg, "MODEL", "DROPOUT_RATE") or 0.5,
        **_nonlocal_settings(state, cfg),
    }
    for p, pathway in enumerate(PATHWAYS):
        found = [_temporal_blocks(state, p, stage, depth) for stage, depth in enumerate(depths)]
        settings[f"{pathway}_temporal_kernel_sizes"] = [kernel for kernel, _ in found]
        settings[f"{pathway}_temporal_kernel_blocks"] = [count for _, count in found]

    checks = {
        "alpha": (alpha, cfg_value(cfg, "SLOWFAST", "ALPHA"), known and known.alpha),
        "beta_inv": (settings["beta_inv"], cfg_value(cfg, "SLOWFAST", "BETA_INV"), None),
        "fusion kernel": (settings["fusion_kernel_size"], cfg_value(cfg, "SLOWFAST", "FUSION_KERNEL_SZ"), known and known.fusion_kernel_size),
        "depth": (RESNET_DEPTH_BY_BLOCKS.get(tuple(depths)), cfg_value(cfg, "RESNET", "DEPTH"), known and known.depth),
        "classes": (head.shape[0], cfg_value(cfg, "MODEL", "NUM_CLASSES"), None),
    }
    for what, values in checks.items():
        given = {value for value in values if value}
        if len(given) > 1:
            raise ConversionError(f"{what}: the tensors, the checkpoint's cfg and the file name disagree ({values})")
    alpha = next((value for value in checks["alpha"] if value), None)
    if alpha is None:
        raise ConversionError(
            "alpha (the Slow/Fast frame-rate ratio) is not in the weights and the checkpoint has no cfg: pass --alpha "
            f"(4 for 8x8 and 16x8, 8 for 4x16) or --variant with an official name ({', '.join(PUBLISHED_VARIANTS)})"
        )
    settings["alpha"] = alpha
    settings["num_frames"] = cfg_value(cfg, "DATA", "NUM_FRAMES") or (known.num_frames if known else 32)
    settings["image_size"] = cfg_value(cfg, "DATA", "TRAIN_CROP_SIZE") or 224

    num_labels = head.shape[0]
    if labels is None and num_labels == KINETICS_400:
        labels = packaged_labels("kinetics400")
    if labels is not None:
        if len(labels) != num_labels:
            raise ConversionError(f"{len(labels)} class names given for a checkpoint with {num_labels} classes")
        settings.update(id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)})
    else:
        logger.warning("no class names for a %d-class checkpoint: naming them LABEL_<i>; pass --labels", num_labels)
        settings["num_labels"] = num_labels
    settings.update(overrides)
    config = SlowFastConfig(**settings)
    if config.hidden_size != head.shape[1]:
        raise ConversionError(f"the head reads {head.shape[1]} features, the inferred network gives {config.hidden_size}")
    return config


def convert_pyslowfast_state_dict(
    state: Mapping[str, torch.Tensor],
    cfg: dict | None = None,
    variant: str | None = None,
    labels: list[str] | None = None,
    alpha: int | None = None,
    expand_trailing_dims: bool = False,
) -> tuple[SlowFastConfig, dict[str, torch.Tensor]]:
    """PySlowFast-named tensors -> (``SlowFastConfig``, ``SlowFastForVideoClassification`` state dict)."""
    config = infer_config(state, cfg, variant, labels, alpha)
    return config, rename_tensors(state, config, expand_trailing_dims)


def convert_pyslowfast_checkpoint(
    checkpoint: Mapping, variant: str | None = None, labels: list[str] | None = None, alpha: int | None = None
) -> tuple[SlowFastConfig, dict[str, torch.Tensor]]:
    """A loaded PySlowFast ``.pyth`` (or a bare state dict) -> (config, our state dict). Weights from
    ``model_state``, ``cfg`` for alpha / frames / crop and cross-checks, other entries ignored."""
    state, cfg = extract_state_dict(checkpoint)
    if any(key.startswith("blocks.") for key in state):
        raise ConversionError("this checkpoint uses pytorchvideo names (blocks.*): use convert_slowfast_pytorchvideo")
    return convert_pyslowfast_state_dict(state, cfg, variant, labels, alpha)


# ---- processor and model card ------------------------------------------------------------------------------


def build_video_processor(config: SlowFastConfig, cfg: dict | None = None) -> SlowFastVideoProcessor:
    """The original Kinetics test preprocessing, sized by the config: the Fast clip of ``config.num_frames``
    frames, 10 clips x 3 crops (or the cfg's ``TEST`` views and ``DATA.SAMPLING_RATE``)."""
    overrides = {
        "num_clips": cfg_value(cfg, "TEST", "NUM_ENSEMBLE_VIEWS") or TEST_CLIPS,
        "num_crops": cfg_value(cfg, "TEST", "NUM_SPATIAL_CROPS") or TEST_CROPS,
        "frame_sample_rate": cfg_value(cfg, "DATA", "SAMPLING_RATE") or SlowFastVideoProcessor.frame_sample_rate,
        "target_fps": cfg_value(cfg, "DATA", "TARGET_FPS") or SlowFastVideoProcessor.target_fps,
        "view_fusion": "softmax",  # see PYSLOWFAST_TEST
    }
    return SlowFastVideoProcessor.for_model_config(config, **overrides)


def preprocessing_rows(config: SlowFastConfig, processor: SlowFastVideoProcessor) -> dict[str, str]:
    """The model card's preprocessing table."""
    frames, rate = processor.num_frames, processor.frame_sample_rate
    return {
        "channel order": "RGB",
        "frames": (
            f"Fast pathway: {frames} frames, one every {rate} of the video resampled to {processor.target_fps} fps; "
            f"Slow pathway: {frames // config.alpha} of those, taken by the model (alpha {config.alpha})"
        ),
        "resize": format_setting(processor.size),
        "crop": f"{processor.num_crops} crops of {format_setting(processor.crop_size)}, {processor.num_clips} clip(s)",
        "values": f"(x / 255 - {processor.image_mean[0]}) / {processor.image_std[0]}",
    }


# How PySlowFast's test combines a video's views (the model zoo's numbers), for the model card.
PYSLOWFAST_TEST = (
    "PySlowFast's test (`tools/test_net.py`) applies the head's activation, a softmax (`MODEL.HEAD_ACT`), to every "
    "view in eval mode and sums the views' probabilities (`TestMeter`, ensemble method `sum`), which ranks the "
    "classes as their average does."
)
PARITY_BOUND = 1e-4
VERIFIED_BY_TESTS = (
    "Checked by the project's tests (the released weights cannot be run there): every tensor of this file's layout, "
    "as listed in its manifest, is mapped exactly once and loads strictly into the model; and reduced-width models "
    "of the original code (R50 4x16 and 8x8, R101 8x8; random weights, in PySlowFast's `.pyth`, the Caffe2 `.pkl` "
    "and pytorchvideo's layout), converted by these scripts, reproduce the original implementation's logits, "
    f"pooled features and per-stage features within {PARITY_BOUND:.0e} (max abs, fp32); pytorchvideo's "
    "`slowfast_r50` / `slowfast_r101` builders are matched at the default and at other clip lengths and sizes."
)


def model_card(
    model_id: str,
    config: SlowFastConfig,
    processor: SlowFastVideoProcessor,
    checkpoint_name: str,
    source_note: str,
    accuracy: tuple[float, float] | None = None,
) -> str:
    depth = RESNET_DEPTH_BY_BLOCKS.get(tuple(config.depths), "custom")
    slow_frames = config.num_frames // config.alpha
    notes = (
        f"Converted from `{checkpoint_name}` ({source_note}): SlowFast {slow_frames}x{config.alpha * 2} R{depth}, "
        f"alpha {config.alpha}, beta 1/{config.beta_inv}, lateral conv kernel {config.fusion_kernel_size}. "
        f"{VERIFIED_BY_TESTS}\n\n"
        "The model takes one clip at the Fast pathway's frame rate (`pixel_values`) and picks the Slow frames from it "
        "as PySlowFast's loader does; pass `slow_pixel_values` to give them yourself. "
        "`model.pathway_logits(pixel_values)` shows how much of a prediction comes from each pathway. "
        "The processor saved here evaluates 30 views per video, the published protocol; for a quicker single view "
        "pass `num_clips=1, num_crops=1`. PySlowFast's own test crops 256x256 (`TEST_CROP_SIZE`) and averages the "
        "softmax of the head's 2x2 positions; this processor crops 224, where the head has one position."
    )
    if accuracy is not None:
        notes += f"\n\nReported by the model zoo on Kinetics-400 validation (top-1 / top-5, 10 x 3 views): {accuracy[0]} / {accuracy[1]}."
    return render_model_card(
        model_id=model_id,
        architecture="SlowFast",
        base_model=None,
        datasets=["kinetics-400"] if config.num_labels == KINETICS_400 else [],
        metrics=None,
        source=f"SlowFast Networks for Video Recognition (Feichtenhofer et al., ICCV 2019), converted from {SOURCE_URL}.",
        preprocessing=preprocessing_rows(config, processor),
        notes=notes,
        evaluation_protocol=evaluation_protocol(processor, PYSLOWFAST_TEST),
    )


def parse_arguments(description: str, argv: list[str] | None, variant_aliases: Mapping[str, str] | None = None):
    """The SlowFast converters' command line: (arguments, checkpoint file name, official variant or None).
    ``--variant`` may be an official name or one of ``variant_aliases`` (pytorchvideo's hub names); without it the
    checkpoint's own file name is used when it is an official one."""
    parser = base_arg_parser(description, default_labels="Kinetics-400 for 400-class checkpoints")
    parser.add_argument("--variant", default=None, help="official name if the file was renamed (SLOWFAST_8x8_R50, ...)")
    parser.add_argument("--alpha", type=int, default=None, help="Slow/Fast frame-rate ratio when neither cfg nor name gives it")
    args = parser.parse_args(argv)
    checkpoint_name = Path(str(args.checkpoint).split("?")[0]).name
    variant = (variant_aliases or {}).get(args.variant, args.variant)
    if variant is None and find_variant(checkpoint_name)[0]:
        variant = checkpoint_name
    return args, checkpoint_name, variant


def write_folder(args, config: SlowFastConfig, converted, cfg, checkpoint_name: str, source_note: str) -> Path:
    """Load strictly, build the processor and card, and save (the last step of every SlowFast converter)."""
    model = load_converted(SlowFastForVideoClassification, config, converted)
    processor = build_video_processor(config, cfg)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, config, processor, checkpoint_name, source_note)
    return save_converted(model, processor, args.output, card, args.push_to_hub)


def main(argv: list[str] | None = None) -> Path:
    args, checkpoint_name, variant = parse_arguments(
        "Convert a PySlowFast SlowFast .pyth checkpoint to an hf_videomodels folder.", argv
    )
    checkpoint = load_checkpoint(args.checkpoint)
    config, converted = convert_pyslowfast_checkpoint(checkpoint, variant, args.labels, args.alpha)
    _, cfg = extract_state_dict(checkpoint)
    return write_folder(args, config, converted, cfg, checkpoint_name, f"[PySlowFast]({SOURCE_URL})")


if __name__ == "__main__":
    run_script(main)
