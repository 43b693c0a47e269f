"""Convert the R(2+1)D-34 checkpoints of ig65m-pytorch (github.com/moabitcoin/ig65m-pytorch) to hf_videomodels'
VideoResNet.

    python -m conversion.convert_video_resnet_ig65m \
        --checkpoint r2plus1d_34_clip32_ft_kinetics_from_ig65m-ade133f1.pth --output r2plus1d-34-32-kinetics
    python conversion/convert_video_resnet_ig65m.py --checkpoint r2plus1d_34_clip8_ig65m_from_scratch-9bae36ae.pth \
        --output r2plus1d-34-8-ig65m

The four files (release v1.0.0 of the project) are Caffe2 weights of VMZ (Ghadiyaram et al., "Large-scale
weakly-supervised pre-training for video action recognition", CVPR 2019) saved in the key layout of torchvision's
``VideoResNet``: pre-trained on IG-65M (8-frame clips: 487 classes, 32-frame clips: 359 classes, no class names
published) and fine-tuned on Kinetics-400 (400 classes). The project builds the network from torchvision's
classes, with three Caffe2 differences that the config reproduces:

- depths (3, 4, 6, 3), (2+1)D stem and blocks (torchvision's R(2+1)D-18 stem: 45 intermediate channels);
- the second (2+1)D convolution of each strided stage's first block sized from its own input (288, 576, 1152
  intermediate channels, ``midplanes_from="conv_input"``) instead of torchvision's block input (230, 460, 921);
- every BatchNorm with eps 1e-3 and momentum 0.9 (set on PyTorch modules, so the new batch weighs 0.9).

Pooling and classifier are torchvision's (global average, linear). The clip length (8 or 32) is not in the
tensors: it is read from the file name (``clip8`` / ``clip32``) or given with ``--num-frames``.

Preprocessing of the project's ``extract`` tool, which the saved processor reproduces: every frame (OpenCV,
BGR -> RGB), ``x / 255``, short side resized to 128 (``F.interpolate`` bilinear, ``align_corners=False``, no
crop), normalised with torchvision's Kinetics mean and std; clips of consecutive frames at the video's own rate.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import logging
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import (
    ConversionError,
    base_arg_parser,
    evaluation_protocol,
    load_checkpoint,
    load_converted,
    packaged_labels,
    run_script,
    save_converted,
)
from conversion.convert_video_resnet_torchvision import convert_torchvision_state_dict, preprocessing_rows
from hf_videomodels.model_card import render_model_card
from hf_videomodels.models.video_resnet import (
    DEPTHS,
    VideoResNetConfig,
    VideoResNetForVideoClassification,
    VideoResNetVideoProcessor,
)

logger = logging.getLogger(__name__)

SOURCE_URL = "https://github.com/moabitcoin/ig65m-pytorch"
RELEASE_URL = f"{SOURCE_URL}/releases/download/v1.0.0"
# The project's Caffe2 settings, set on every BatchNorm of its torchvision network.
CAFFE2_SETTINGS = {"batch_norm_eps": 1e-3, "batch_norm_momentum": 0.9, "midplanes_from": "conv_input"}
CLIP_LENGTHS = (8, 32)
KINETICS_CLASSES = 400

# Published file -> (clip length, training data), in the project's README order.
PUBLISHED_FILES = {
    "r2plus1d_34_clip8_ig65m_from_scratch-9bae36ae.pth": (8, "IG-65M"),
    "r2plus1d_34_clip8_ft_kinetics_from_ig65m-0aa0550b.pth": (8, "Kinetics-400"),
    "r2plus1d_34_clip32_ig65m_from_scratch-449a7af9.pth": (32, "IG-65M"),
    "r2plus1d_34_clip32_ft_kinetics_from_ig65m-ade133f1.pth": (32, "Kinetics-400"),
}
IG65M_CLASSES = {8: 487, 32: 359}


def default_labels(num_classes: int) -> list[str]:
    """Kinetics-400 names for the fine-tuned models: the project points to Showmax/kinetics-downloader's
    ``classes.json``, which lists the same 400 names in the same (alphabetical) order as the packaged list. The
    IG-65M hashtag classes were never published: placeholders."""
    if num_classes == KINETICS_CLASSES:
        return packaged_labels("kinetics400")
    logger.warning("the IG-65M classes have no published names: naming them ig65m_class_<i>; pass --labels")
    return [f"ig65m_class_{i}" for i in range(num_classes)]


def convert_ig65m_state_dict(
    state_dict: Mapping[str, torch.Tensor], num_frames: int, labels: list[str] | None = None
) -> tuple[VideoResNetConfig, dict[str, torch.Tensor]]:
    """An ig65m-pytorch R(2+1)D-34 state dict -> (``VideoResNetConfig``, ``VideoResNetForVideoClassification``
    state dict), with the project's Caffe2 BatchNorm settings; every source tensor used exactly once."""
    if num_frames not in CLIP_LENGTHS:
        raise ConversionError(f"ig65m-pytorch publishes 8- and 32-frame models, got num_frames={num_frames}")
    num_classes = state_dict["fc.weight"].shape[0] if "fc.weight" in state_dict else None
    if labels is None and num_classes is not None:
        labels = default_labels(num_classes)
    config, converted = convert_torchvision_state_dict(
        state_dict,
        labels=labels,
        num_frames=num_frames,
        batch_norm_eps=CAFFE2_SETTINGS["batch_norm_eps"],
        batch_norm_momentum=CAFFE2_SETTINGS["batch_norm_momentum"],
    )
    layout = (config.convolution, config.stem_type, config.depths, config.midplanes_from)
    if layout != ("2plus1d", "2plus1d", list(DEPTHS[34]), CAFFE2_SETTINGS["midplanes_from"]):
        raise ConversionError(
            f"not an ig65m-pytorch R(2+1)D-34: convolution, stem, depths, midplanes = {layout}; for torchvision's own "
            "video ResNets use conversion/convert_video_resnet_torchvision.py"
        )
    return config, converted


def build_video_processor(config: VideoResNetConfig) -> VideoResNetVideoProcessor:
    """The project's ``extract`` preprocessing: short side 128 (``F.interpolate`` by scale factor, bilinear, no
    antialiasing), the whole frame (no crop), torchvision's Kinetics mean / std, ``config.num_frames`` consecutive
    frames at the video's own rate."""
    return VideoResNetVideoProcessor(
        num_frames=config.num_frames,
        target_fps=None,
        size={"shortest_edge": 128},
        short_side_resize="scale_factor",
        do_center_crop=False,
        crop_size={"height": config.image_size, "width": config.image_size},
        view_fusion="softmax",  # see VMZ_TEST
    )


def torchvision_reference(num_classes: int) -> torch.nn.Module:
    """The network as ig65m-pytorch builds it from torchvision's classes (its ``models.r2plus1d_34``): our parity
    reference, and the source of the shapes the model cards are rendered from."""
    from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, R2Plus1dStem, VideoResNet

    network = VideoResNet(BasicBlock, [Conv2Plus1D] * 4, list(DEPTHS[34]), R2Plus1dStem, num_classes=num_classes)
    # The project's fix for Caffe2's widths of the second convolution of each strided stage's first block.
    for stage, (channels, mid_channels) in {2: (128, 288), 3: (256, 576), 4: (512, 1152)}.items():
        getattr(network, f"layer{stage}")[0].conv2[0] = Conv2Plus1D(channels, channels, mid_channels)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.eps, module.momentum = CAFFE2_SETTINGS["batch_norm_eps"], CAFFE2_SETTINGS["batch_norm_momentum"]
    return network


# How the weights' authors combine a video's clips, for the model card.
VMZ_TEST = (
    "ig65m-pytorch has no evaluation code (its tool extracts features). VMZ, the authors' code, averages the "
    "softmax probabilities of a video's clips in its PyTorch test (`aggredate_video_accuracy`); the Caffe2 test "
    "behind the paper's numbers, and how many clips it took, were not checked: unclear."
)
# What tests/test_video_resnet_conversion.py measures for this family (and asserts stays within the bound).
PARITY_BOUND = 1e-4
VERIFIED_BY_TESTS = (
    "Checked by the project's tests against the network ig65m-pytorch builds (torchvision's classes with its "
    "Caffe2 changes) with random weights, converted with this script: the logits agree within "
    f"{PARITY_BOUND:.0e} (max abs, fp32) on 8- and 32-frame clips and at an odd size; the official files were "
    "not run there."
)


def model_card(model_id: str, config: VideoResNetConfig, processor, checkpoint_name: str, dataset: str) -> str:
    kinetics = dataset == "Kinetics-400"
    trained = (
        "pre-trained on IG-65M (65 million Instagram videos, weakly labelled by hashtags) and fine-tuned on "
        "Kinetics-400" if kinetics else "trained from scratch on IG-65M; its hashtag classes have no published "
        "names (`ig65m_class_<i>`): use it as a feature extractor (`AutoModel`) or fine-tune it"
    )
    preprocessing = preprocessing_rows(processor)
    preprocessing["frames per clip"] = f"{processor.num_frames} consecutive frames at the video's own rate"
    preprocessing["resize"] = "short side 128 (by scale factor, as `F.interpolate`), bilinear, no antialiasing"
    preprocessing["crop"] = "none (the whole frame, as the project's `extract` tool)"
    notes = (
        f"Converted from `{checkpoint_name}` of [ig65m-pytorch]({SOURCE_URL}): R(2+1)D-34 for {config.num_frames}-"
        f"frame clips, {trained}. The weights are VMZ's Caffe2 models (Ghadiyaram et al., CVPR 2019). "
        f"{VERIFIED_BY_TESTS}\n\n"
        "The config reproduces the project's Caffe2 settings: BatchNorm eps 1e-3 and momentum 0.9 (PyTorch's "
        "convention, as the project sets it: the new batch weighs 0.9; set `batch_norm_momentum=0.1` for a "
        "smoother running average when fine-tuning), and (2+1)D intermediate widths sized per convolution "
        "(`midplanes_from=\"conv_input\"`).\n\n"
        "VMZ trained on 112x112 crops of 128x171 frames; "
        "pass `do_center_crop=True` to the processor for that view. The project extracts every consecutive "
        "non-overlapping clip of a video; the processor takes one centred clip (`num_clips` for more)."
    )
    return render_model_card(
        model_id=model_id,
        architecture="VideoResNet",
        base_model=None,
        datasets=["kinetics-400"] if kinetics else [],
        metrics=None,
        source=f"R(2+1)D-34 (Tran et al., CVPR 2018; IG-65M weights of Ghadiyaram et al., CVPR 2019), "
        f"converted from {SOURCE_URL}.",
        preprocessing=preprocessing,
        notes=notes,
        license="mit",
        evaluation_protocol=evaluation_protocol(processor, VMZ_TEST),
    )


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for the project's four checkpoints, from meta-device copies of the network it builds
    (no weights needed); read by ``model_cards/generate.py``."""
    cards = {}
    for file_name, (num_frames, dataset) in PUBLISHED_FILES.items():
        num_classes = KINETICS_CLASSES if dataset == "Kinetics-400" else IG65M_CLASSES[num_frames]
        with torch.device("meta"):
            state_dict = torchvision_reference(num_classes).state_dict()
        config, _ = convert_ig65m_state_dict(state_dict, num_frames)
        name = file_name.rsplit("-", 1)[0].replace("_", "-")
        cards[f"video_resnet_{name.replace('-', '_')}.md"] = model_card(
            name, config, build_video_processor(config), file_name, dataset
        )
    return cards


def clip_length_from_name(name: str) -> int | None:
    match = re.search(r"clip(\d+)", name)
    return int(match.group(1)) if match else None


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert an ig65m-pytorch R(2+1)D-34 checkpoint to an hf_videomodels VideoResNet folder.",
        default_labels="Kinetics-400 for the fine-tuned (400-class) files, ig65m_class_<i> otherwise",
    )
    parser.add_argument(
        "--num-frames", type=int, choices=CLIP_LENGTHS, default=None,
        help="clip length the checkpoint was trained for (default: from clip8 / clip32 in the file name)",
    )
    args = parser.parse_args(argv)
    name = Path(str(args.checkpoint)).name
    num_frames = args.num_frames or clip_length_from_name(name)
    if num_frames is None:
        raise ConversionError(f"cannot tell the clip length from the file name {name!r}: pass --num-frames 8 or 32")
    state_dict = load_checkpoint(args.checkpoint)
    config, converted = convert_ig65m_state_dict(state_dict, num_frames, labels=args.labels)
    model = load_converted(VideoResNetForVideoClassification, config, converted)
    processor = build_video_processor(config)
    model_id = args.push_to_hub or Path(args.output).name
    dataset = "Kinetics-400" if config.num_labels == KINETICS_CLASSES else "IG-65M"
    card = model_card(model_id, config, processor, name, dataset)
    return save_converted(model, processor, args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
