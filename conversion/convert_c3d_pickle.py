"""Convert the Sports-1M C3D of DavideA/c3d-pytorch (``c3d.pickle``) to hf_videomodels' C3D.

    python -m conversion.convert_c3d_pickle --checkpoint c3d.pickle --output c3d-sports1m
    python conversion/convert_c3d_pickle.py --checkpoint c3d.pickle.xz --output c3d-sports1m

``c3d.pickle`` is a plain state dict (an OrderedDict of 22 float32 CPU tensors, ``conv1.weight`` ...
``fc8.bias``) saved by PyTorch 0.2/0.3 in the legacy (pre-1.6) serialization; despite its extension it is
read with ``torch.load``, here restricted to tensors and plain containers (``weights_only``); an
xz-compressed copy (``.xz``) is decompressed on the fly. Channels, widths and the number of classes are read
from the tensors; 487 classes get the Sports-1M names in the checkpoint's logit order.

Preprocessing of the port's ``predict.py``, which the saved video processor reproduces: 16 consecutive frames
read as RGB, each resized to a fixed 112 x 200 (scikit-image ``resize``, bilinear, values kept in 0-255), the
centre 112 x 112 crop (columns 44:156), raw 0-255 values without mean subtraction.

The port's forward returns softmax probabilities; the converted model returns fc8's logits
(``logits.softmax(-1)`` is the port's output).
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
from hf_videomodels.model_card import format_setting, render_model_card
from hf_videomodels.models.c3d import C3DConfig, C3DForVideoClassification, C3DVideoProcessor
from hf_videomodels.models.c3d.configuration_c3d import CONV_NAMES

logger = logging.getLogger(__name__)

SOURCE_URL = "https://github.com/DavideA/c3d-pytorch"
SPORTS1M_NUM_CLASSES = 487


def default_labels(num_classes: int) -> list[str]:
    """Sports-1M names for 487 classes (the order of the checkpoint's logits); placeholders otherwise."""
    if num_classes == SPORTS1M_NUM_CLASSES:
        return packaged_labels("sports1m")
    logger.warning("no class names for a %d-class checkpoint: naming them class_<i>; pass --labels", num_classes)
    return [f"class_{i}" for i in range(num_classes)]


def convert_c3d_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    labels: list[str] | None = None,
    num_frames: int = 16,
    image_size: int | list[int] = 112,
) -> tuple[C3DConfig, dict[str, torch.Tensor]]:
    """A DavideA/c3d-pytorch ``C3D`` state dict -> (``C3DConfig``, ``C3DForVideoClassification`` state dict).

    Every source tensor is used exactly once (``ConversionError`` names any missing or left-over key).
    ``labels`` (class names in logit order) default to Sports-1M for 487 classes. ``num_frames`` and
    ``image_size`` give the clip size the checkpoint's fc6 was built for (the port's 16 x 112 x 112 unless a
    retrained C3D says otherwise).
    """
    if not isinstance(state_dict, Mapping):
        raise ConversionError(f"expected a state dict (a mapping of names to tensors), got {type(state_dict).__name__}")
    if state_dict and all(key.startswith("module.") for key in state_dict):  # saved from nn.DataParallel
        state_dict = {key.removeprefix("module."): tensor for key, tensor in state_dict.items()}
    ledger = TensorLedger(state_dict)
    for layer in (*CONV_NAMES, "fc6", "fc7", "fc8"):  # the shapes the config is read from
        if f"{layer}.weight" not in ledger:
            raise ConversionError(
                f"source checkpoint has no tensor '{layer}.weight'; is this a c3d-pytorch C3D state dict?"
            )
    num_classes = state_dict["fc8.weight"].shape[0]
    labels = list(labels) if labels is not None else default_labels(num_classes)
    if len(labels) != num_classes:
        raise ConversionError(f"{len(labels)} class names given for a checkpoint with {num_classes} classes")
    config = C3DConfig(
        num_channels=state_dict["conv1.weight"].shape[1],
        conv_channels=[state_dict[f"{name}.weight"].shape[0] for name in CONV_NAMES],
        fc_size=state_dict["fc6.weight"].shape[0],
        num_frames=num_frames,
        image_size=image_size,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    fc6_inputs = state_dict["fc6.weight"].shape[1]
    if fc6_inputs != config.fc6_in_features:
        raise ConversionError(
            f"fc6.weight takes {fc6_inputs} values, but pool5 of a clip of {num_frames} frames of "
            f"{image_size} pixels gives {config.fc6_in_features} ({config.conv_channels[-1]} channels x "
            f"{' x '.join(map(str, config.pool5_size))}); pass the clip size the checkpoint was trained on "
            "(--num-frames / --image-size)"
        )

    converted: dict[str, torch.Tensor] = {}
    for name in CONV_NAMES:
        for kind in ("weight", "bias"):
            converted[f"c3d.{name}.conv.{kind}"] = ledger.take(f"{name}.{kind}")
    for source, target in (("fc6", "c3d.fc6"), ("fc7", "c3d.fc7"), ("fc8", "classifier")):
        for kind in ("weight", "bias"):
            converted[f"{target}.{kind}"] = ledger.take(f"{source}.{kind}")
    ledger.finish()

    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        check_complete(C3DForVideoClassification(config), converted)
    return config, converted


def build_video_processor(config: C3DConfig) -> C3DVideoProcessor:
    """The port's preprocessing (see the module docstring): ``C3DVideoProcessor``'s recipe, sized by the config
    like every processor the package derives from a config (frames, crop, and the fixed resize scaled with it)."""
    return C3DVideoProcessor.for_model_config(config)


def preprocessing_rows(processor: C3DVideoProcessor) -> dict[str, str]:
    """The model card's preprocessing table for a C3D folder with this processor."""
    return {
        "input": "RGB, 3 channels",
        "frames per clip": f"{processor.num_frames} consecutive frames (the last one repeated if the video is shorter)",
        "resize": f"fixed {format_setting(processor.size)} (height × width, aspect ratio not kept), bilinear",
        "crop": f"centre {format_setting(processor.crop_size)}",
        "values": "raw 0-255 RGB, no scaling and no mean subtraction",
        "output": "logits (the original returned softmax probabilities)",
    }


# What tests/test_c3d_conversion.py measures for this checkpoint (and asserts stays within the bound).
PARITY_BOUND = 1e-4
VERIFIED_BY_TESTS = (
    "Checked by the project's tests on a checkpoint in this exact file format (full size, random weights, as the "
    "official file cannot be run there): the converted model reproduces the original code's logits (fc8), "
    "probabilities, pool5 map and fc6 / fc7 outputs on a 16 x 112 x 112 clip within "
    f"{PARITY_BOUND:.0e} (max abs, fp32)."
)


# How views of a video are combined in the C3D originals, for the model card.
C3D_TEST = (
    "c3d-pytorch's `predict.py` classifies one clip and has no multi-view test. The C3D paper's Sports-1M video "
    "accuracy averages the predictions of 10 clips per video without saying whether probabilities or fc8 scores: "
    "unclear, so the processor keeps one clip."
)


def model_card(model_id: str, config: C3DConfig, processor: C3DVideoProcessor, checkpoint_name: str) -> str:
    frames, heights, widths = config.accepted_input_sizes

    def span(sizes: range) -> str:
        return f"{sizes.start}-{sizes.stop - 1}"

    notes = (
        f"Converted from `{checkpoint_name}` of [c3d-pytorch]({SOURCE_URL}), the widely used PyTorch port of the "
        "Sports-1M C3D (Tran et al., ICCV 2015), with the 487 Sports-1M classes in the checkpoint's logit order. "
        f"{VERIFIED_BY_TESTS}\n\n"
        "**Logits, not probabilities.** The original port's forward ends in a softmax and returns class "
        "probabilities; this model returns fc8's logits, so `outputs.logits.softmax(-1)` is the original's "
        "output (the pipeline's scores are those probabilities).\n\n"
        f"fc6 takes the flattened pool5 map ({config.conv_channels[-1]} x {' x '.join(map(str, config.pool5_size))} "
        f"= {config.fc6_in_features} values, in channel, time, height, width order), so the model takes only "
        f"clips that give that map: {span(frames)} frames of {span(heights)} x {span(widths)} pixels "
        f"({processor.num_frames} frames of {format_setting(processor.crop_size)} as the processor makes them); other "
        "sizes are refused with the size needed. `C3DModel` returns the fc7 features (after ReLU, "
        f"{config.fc_size} values) as `pooler_output`, the usual C3D clip descriptor.\n\n"
        "The processor reproduces the port's `predict.py`: a fixed 112 × 200 resize, the centre 112 × 112 crop and "
        "raw 0-255 RGB values without mean subtraction (the script itself asks, in a TODO, whether the mean should "
        "be removed). The paper resized frames to 128 × 171 instead. The port's README says its performance was "
        "tested only qualitatively; no accuracy is reported for this file."
    )
    return render_model_card(
        model_id=model_id,
        architecture="C3D",
        base_model=None,
        datasets=["sports-1m"] if config.num_labels == SPORTS1M_NUM_CLASSES else [],
        metrics=None,
        source=f"C3D, 3D ConvNet (Tran et al., ICCV 2015) trained on Sports-1M, converted from {SOURCE_URL}.",
        preprocessing=preprocessing_rows(processor),
        notes=notes,
        evaluation_protocol=evaluation_protocol(processor, C3D_TEST),
    )


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for the published ``c3d.pickle``, from its manifest in ``reference_dir``
    (``shared/reference``); read by ``model_cards/generate.py``."""
    state_dict = meta_state_dict_from_manifest(reference_dir / "c3d" / "c3d.manifest.json")
    config, _ = convert_c3d_state_dict(state_dict)
    return {"c3d_sports1m.md": model_card("c3d-sports1m", config, build_video_processor(config), "c3d.pickle")}


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert DavideA/c3d-pytorch's c3d.pickle (or its .xz copy) to an hf_videomodels C3D folder.",
        default_labels="Sports-1M for 487-class checkpoints",
    )
    parser.add_argument("--num-frames", type=int, default=16, help="clip length fc6 was built for (default 16)")
    parser.add_argument(
        "--image-size",
        type=int,
        nargs="+",
        default=[112],
        metavar="PIXELS",
        help="frame size fc6 was built for: one int, or height and width (default 112)",
    )
    args = parser.parse_args(argv)
    if len(args.image_size) > 2:
        parser.error("--image-size takes one or two ints")
    image_size = args.image_size[0] if len(args.image_size) == 1 else args.image_size
    state_dict = load_checkpoint(args.checkpoint)
    config, converted = convert_c3d_state_dict(
        state_dict, labels=args.labels, num_frames=args.num_frames, image_size=image_size
    )
    model = load_converted(C3DForVideoClassification, config, converted)
    processor = build_video_processor(config)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, config, processor, Path(str(args.checkpoint)).name)
    return save_converted(model, processor, args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
