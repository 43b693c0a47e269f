"""Convert torchvision's video ResNets (``r3d_18``, ``mc3_18``, ``r2plus1d_18``, or any ``VideoResNet`` built from
``BasicBlock``) to hf_videomodels' VideoResNet.

    python -m conversion.convert_video_resnet_torchvision --model r2plus1d_18 --output r2plus1d-18-kinetics400
    python conversion/convert_video_resnet_torchvision.py --checkpoint r3d_18-b3b3357e.pth --output r3d-18

With ``--model`` the Kinetics-400 weights (``KINETICS400_V1``) are fetched through torchvision itself; with
``--checkpoint`` a state dict file (or URL) is read. The architecture (stem, convolution of each stage, depths,
widths, the (2+1)D intermediate widths, classes) is read from the tensors' names and shapes.

The saved video processor reproduces the transforms torchvision publishes with the weights (see
``VideoResNetVideoProcessor``), and the class names are torchvision's ``weights.meta["categories"]`` (Kinetics-400,
in the order of the logits).
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import (
    TORCHVISION_VIDEO_TEST,
    ConversionError,
    TensorLedger,
    base_arg_parser,
    check_complete,
    evaluation_protocol,
    load_checkpoint,
    load_converted,
    run_script,
    save_converted,
    take_conv_bn_unit,
)
from hf_videomodels.model_card import format_setting, render_model_card
from hf_videomodels.models.video_resnet import (
    VideoResNetConfig,
    VideoResNetForVideoClassification,
    VideoResNetVideoProcessor,
)
from hf_videomodels.models.video_resnet.modeling_video_resnet import factorized_midplanes

logger = logging.getLogger(__name__)

SOURCE_URL = "https://github.com/pytorch/vision/blob/main/torchvision/models/video/resnet.py"
NUM_STAGES = 4

# torchvision builder -> (its weights enum's name, the name of the paper's variant).
PUBLISHED = {
    "r3d_18": ("R3D_18_Weights", "R3D-18"),
    "mc3_18": ("MC3_18_Weights", "MC3-18"),
    "r2plus1d_18": ("R2Plus1D_18_Weights", "R(2+1)D-18"),
}


def published_weights(builder: str):
    """torchvision's ``KINETICS400_V1`` weights entry of a builder (URL, transforms, categories, metrics)."""
    from torchvision.models import video

    return getattr(video, PUBLISHED[builder][0]).KINETICS400_V1


def kinetics400_categories() -> list[str]:
    """Kinetics-400 class names in the order of torchvision's video weights (their ``meta["categories"]``)."""
    return list(published_weights("r2plus1d_18").meta["categories"])


def default_labels(num_classes: int) -> list[str]:
    if num_classes == 400:
        return kinetics400_categories()
    logger.warning("no class names for a %d-class checkpoint: naming them class_<i>; pass --labels", num_classes)
    return [f"class_{i}" for i in range(num_classes)]


def _stage_convolution(state_dict: Mapping[str, torch.Tensor], stage: int) -> str:
    prefix = f"layer{stage + 1}.0.conv1.0"
    if f"{prefix}.0.weight" in state_dict:
        return "2plus1d"
    weight = state_dict.get(f"{prefix}.weight")
    if weight is None or weight.ndim != 5:
        raise ConversionError(f"source checkpoint has no conv {prefix}.weight; is this a torchvision VideoResNet?")
    if tuple(weight.shape[2:]) == (3, 3, 3):
        return "3d"
    if tuple(weight.shape[2:]) == (1, 3, 3):
        return "2d"
    raise ConversionError(f"{prefix}.weight has kernel {tuple(weight.shape[2:])}; expected 3x3x3 or 1x3x3")


def _convolution_setting(kinds: list[str]) -> dict:
    """The config's ``convolution`` (and ``mixed_3d_stages``) for the stages' convolution kinds."""
    if len(set(kinds)) == 1 and kinds[0] != "2d":
        return {"convolution": kinds[0]}
    num_3d = kinds.count("3d")
    if kinds == ["3d"] * num_3d + ["2d"] * (NUM_STAGES - num_3d):
        return {"convolution": "mixed", "mixed_3d_stages": num_3d}
    raise ConversionError(f"unsupported mix of stage convolutions {kinds}: expected all 3D, all (2+1)D or 3D then 2D")


def _midplanes_rule(state_dict: Mapping[str, torch.Tensor], hidden_sizes: list[int], kinds: list[str]) -> str:
    """Which (2+1)D width rule the checkpoint was built with, read from the first block of each strided stage
    (the only blocks where the two rules differ)."""
    found = set()
    for stage in range(1, NUM_STAGES):
        if kinds[stage] != "2plus1d":
            continue
        in_channels, out_channels = hidden_sizes[stage - 1], hidden_sizes[stage]
        width = state_dict[f"layer{stage + 1}.0.conv2.0.0.weight"].shape[0]
        rules = {
            "block_input": factorized_midplanes(in_channels, out_channels),
            "conv_input": factorized_midplanes(out_channels, out_channels),
        }
        matching = {rule for rule, expected in rules.items() if expected == width}
        if not matching:
            raise ConversionError(
                f"layer{stage + 1}.0.conv2 has {width} intermediate channels; expected {rules['block_input']} "
                f"(torchvision) or {rules['conv_input']} (Caffe2)"
            )
        found |= matching if len(matching) == 1 else set()
    if len(found) > 1:
        raise ConversionError("the stages disagree on the (2+1)D intermediate widths")
    return found.pop() if found else "block_input"


def config_from_state_dict(state_dict: Mapping[str, torch.Tensor], **overrides) -> VideoResNetConfig:
    """The ``VideoResNetConfig`` of a torchvision ``VideoResNet`` state dict (``overrides`` for what the tensors
    do not tell: BatchNorm settings, labels, clip length)."""
    if "stem.0.weight" not in state_dict or "fc.weight" not in state_dict:
        raise ConversionError("source checkpoint has no stem.0.weight / fc.weight; is this a torchvision VideoResNet?")
    stem_weight = state_dict["stem.0.weight"]
    if "stem.3.weight" in state_dict:
        stem = {
            "stem_type": "2plus1d",
            "stem_mid_channels": stem_weight.shape[0],
            "stem_channels": state_dict["stem.3.weight"].shape[0],
        }
    else:
        stem = {"stem_type": "basic", "stem_channels": stem_weight.shape[0]}
    depths = []
    for stage in range(NUM_STAGES):
        blocks = {key.split(".")[1] for key in state_dict if key.startswith(f"layer{stage + 1}.")}
        if not blocks:
            raise ConversionError(f"source checkpoint has no layer{stage + 1}")
        depths.append(len(blocks))
    if any(".conv3." in key for key in state_dict):
        raise ConversionError("Bottleneck blocks (conv3) are not supported: only BasicBlock video ResNets")
    kinds = [_stage_convolution(state_dict, stage) for stage in range(NUM_STAGES)]
    hidden_sizes = [state_dict[f"layer{stage + 1}.0.conv1.1.weight"].shape[0] for stage in range(NUM_STAGES)]
    settings = {
        "num_channels": stem_weight.shape[1],
        **stem,
        **_convolution_setting(kinds),
        "depths": depths,
        "hidden_sizes": hidden_sizes,
        "midplanes_from": _midplanes_rule(state_dict, hidden_sizes, kinds),
        "num_labels": state_dict["fc.weight"].shape[0],
    }
    return VideoResNetConfig(**{**settings, **overrides})


def _take_unit(ledger: TensorLedger, source: str, target: str, kind: str, out: dict) -> None:
    """torchvision's ``Sequential(conv, BatchNorm[, ReLU])`` (or (2+1)D ``Sequential(conv, BN, ReLU, conv)`` inside
    one) at ``source`` -> our unit at ``target``."""
    if kind == "2plus1d":
        take_conv_bn_unit(ledger, f"{source}.0", f"{target}.spatial", out, conv="0", bn="1")
        take_conv_bn_unit(ledger, source, f"{target}.temporal", out, conv="0.3", bn="1")
    else:
        take_conv_bn_unit(ledger, source, target, out, conv="0", bn="1")


def convert_torchvision_state_dict(
    state_dict: Mapping[str, torch.Tensor], labels: list[str] | None = None, **config_overrides
) -> tuple[VideoResNetConfig, dict[str, torch.Tensor]]:
    """A torchvision ``VideoResNet`` state dict -> (``VideoResNetConfig``, ``VideoResNetForVideoClassification``
    state dict). Every source tensor is used exactly once (``ConversionError`` names any missing or left-over key).
    ``labels`` (class names in logit order) default to torchvision's Kinetics-400 categories for 400 classes;
    ``config_overrides`` set what the tensors cannot tell (BatchNorm eps and momentum, clip length)."""
    if state_dict and all(key.startswith("module.") for key in state_dict):  # saved from nn.DataParallel
        state_dict = {key.removeprefix("module."): tensor for key, tensor in state_dict.items()}
    config = config_from_state_dict(state_dict, **config_overrides)
    labels = list(labels) if labels is not None else default_labels(config.num_labels)
    if len(labels) != config.num_labels:
        raise ConversionError(f"{len(labels)} class names given for a checkpoint with {config.num_labels} classes")
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}

    ledger = TensorLedger(state_dict)
    converted: dict[str, torch.Tensor] = {}
    if config.stem_type == "2plus1d":
        take_conv_bn_unit(ledger, "stem", "video_resnet.stem.spatial", converted, conv="0", bn="1")
        take_conv_bn_unit(ledger, "stem", "video_resnet.stem.temporal", converted, conv="3", bn="4")
    else:
        take_conv_bn_unit(ledger, "stem", "video_resnet.stem", converted, conv="0", bn="1")
    for stage, depth in enumerate(config.depths):
        kind = config.stage_convolution(stage)
        for block in range(depth):
            source, target = f"layer{stage + 1}.{block}", f"video_resnet.stages.{stage}.blocks.{block}"
            _take_unit(ledger, f"{source}.conv1", f"{target}.conv1", kind, converted)
            _take_unit(ledger, f"{source}.conv2", f"{target}.conv2", kind, converted)
            if f"{source}.downsample.0.weight" in ledger:
                take_conv_bn_unit(ledger, f"{source}.downsample", f"{target}.shortcut", converted, conv="0", bn="1")
    converted["classifier.weight"] = ledger.take("fc.weight")
    converted["classifier.bias"] = ledger.take("fc.bias")
    ledger.finish()

    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        check_complete(VideoResNetForVideoClassification(config), converted)
    return config, converted


# torchvision's evaluation of these weights: 5 clips per video (`clips_per_video`), softmax summed over them.
TORCHVISION_CLIPS_PER_VIDEO = 5


def build_video_processor(config: VideoResNetConfig) -> VideoResNetVideoProcessor:
    """torchvision's preset for these weights, sized by the config (16 frames, 128x171 resize, 112 crop), with its
    test protocol: 5 clips, softmax averaged."""
    return VideoResNetVideoProcessor.for_model_config(
        config, num_clips=TORCHVISION_CLIPS_PER_VIDEO, view_fusion="softmax"
    )


def preprocessing_rows(processor: VideoResNetVideoProcessor) -> dict[str, str]:
    return {
        "frames per clip": f"{processor.num_frames} consecutive frames at {processor.target_fps} fps",
        "resize": f"{format_setting(processor.size)} (fixed size, bilinear, no antialiasing)",
        "crop": f"centre {format_setting(processor.crop_size)}",
        "values": f"x / 255 normalised with mean {format_setting(processor.image_mean)} and std "
        f"{format_setting(processor.image_std)}",
    }


# What tests/test_video_resnet_conversion.py measures (and asserts stays within the bound).
PARITY_BOUND = 1e-4
VERIFIED_BY_TESTS = (
    "Checked by the project's tests against torchvision's own `r3d_18`, `mc3_18` and `r2plus1d_18` with random "
    "weights (BatchNorm statistics included), converted with this script: the logits agree within "
    f"{PARITY_BOUND:.0e} (max abs, fp32) on a 16x112x112 clip and on odd clip lengths and sizes."
)


def model_card(model_id: str, config: VideoResNetConfig, processor: VideoResNetVideoProcessor, builder: str) -> str:
    metrics = None
    if builder in PUBLISHED:
        weights_enum, variant = PUBLISHED[builder]
        weights = f"torchvision's `{builder}` Kinetics-400 weights (`{weights_enum}.KINETICS400_V1`)"
        reported = published_weights(builder).meta["_metrics"]["Kinetics-400"]
        metrics = {f"Kinetics-400 {name} (%), reported by torchvision": value for name, value in reported.items()}
    else:
        variant, weights = "A video ResNet", f"the torchvision `VideoResNet` checkpoint `{builder}`"
    notes = (
        f"{variant} converted from {weights}. {VERIFIED_BY_TESTS}\n\n"
        "The network ends with a global average pool, so it accepts other clip lengths and frame sizes. "
        "torchvision reports its accuracy over 5 clips of 16 frames per video at 15 fps: the video processor saved "
        "here takes those 5 clips (pass `num_clips=1` for one quicker view). torchvision resizes uint8 frames and "
        "rounds back to uint8, the processor resizes in float32: pixel values differ by at most half a grey level before normalisation."
    )
    return render_model_card(
        model_id=model_id,
        architecture="VideoResNet",
        base_model=None,
        datasets=["kinetics-400"] if config.num_labels == 400 else [],
        metrics=metrics,
        source=f"{variant} (Tran et al., CVPR 2018), converted from torchvision ({SOURCE_URL}).",
        preprocessing=preprocessing_rows(processor),
        notes=notes,
        license="bsd-3-clause",
        evaluation_protocol=evaluation_protocol(processor, TORCHVISION_VIDEO_TEST),
    )


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for torchvision's three Kinetics-400 video ResNets, from meta-device models built
    by torchvision's own constructors (no weights needed); read by ``model_cards/generate.py``."""
    from torchvision.models import video

    cards = {}
    for builder in PUBLISHED:
        with torch.device("meta"):
            state_dict = getattr(video, builder)().state_dict()
        config, _ = convert_torchvision_state_dict(state_dict)
        name = f"{builder.replace('_', '-')}-kinetics400"
        processor = build_video_processor(config)
        cards[f"video_resnet_{builder}_kinetics400.md"] = model_card(name, config, processor, builder)
    return cards


def load_source(args) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict to convert and its name: torchvision's published weights or a checkpoint file."""
    if (args.model is None) == (args.checkpoint is None):
        raise ConversionError("give exactly one of --model (torchvision's weights) or --checkpoint (a state dict)")
    if args.checkpoint is not None:
        return load_checkpoint(args.checkpoint), Path(str(args.checkpoint)).name
    return published_weights(args.model).get_state_dict(progress=True, check_hash=True), args.model


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a torchvision video ResNet (r3d_18, mc3_18, r2plus1d_18) to an hf_videomodels VideoResNet folder.",
        default_labels="torchvision's Kinetics-400 categories for 400-class checkpoints",
        checkpoint_help="path or URL of a torchvision VideoResNet state dict (instead of --model)",
        checkpoint_required=False,
    )
    parser.add_argument("--model", choices=sorted(PUBLISHED), help="convert torchvision's Kinetics-400 weights")
    args = parser.parse_args(argv)
    state_dict, source_name = load_source(args)
    config, converted = convert_torchvision_state_dict(state_dict, labels=args.labels)
    model = load_converted(VideoResNetForVideoClassification, config, converted)
    processor = build_video_processor(config)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, config, processor, args.model or source_name)
    return save_converted(model, processor, args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
