"""Build an I3D backbone from a 2D ImageNet Inception-V1 by inflation (the I3D paper's bootstrapping).

torchvision's ``googlenet`` is the same Inception-V1 with BatchNorm (eps 1e-3) that I3D inflates, with the
same channel plan and a 3x3 conv (not 5x5) in its third branch. Its ImageNet weights expect inputs in
[-1, 1] (``transform_input=True`` turns ImageNet-normalised input back into that range), the same as
I3D's, so the inflated model uses I3D's preprocessing unchanged.

Names: conv1 / conv2 / conv3 -> conv_1a (7x7 -> 7x7x7), conv_2b (1x1), conv_2c (3x3 -> 3x3x3);
inception3a ... inception5b -> mixed_3b ... mixed_5c, with branch1 -> branch0, branch2.{0,1} ->
branch1_{reduce,conv}, branch3.{0,1} -> branch2_{reduce,conv}, branch4.1 -> branch3_proj.
The ImageNet classifier (``fc``) and auxiliary heads (``aux1``, ``aux2``) are not used: a video model
trains a new classifier.

    python conversion/convert_i3d_googlenet.py --checkpoint googlenet.pth --output i3d-inflated-imagenet
    python conversion/convert_i3d_googlenet.py --torchvision --output i3d-inflated-imagenet
    hf-videomodels train DATA_DIR --model i3d-inflated-imagenet --output my-model

``--checkpoint`` is a torchvision ``googlenet`` state dict saved with ``torch.save``; ``--torchvision`` takes
torchvision's ImageNet weights (``GoogLeNet_Weights.IMAGENET1K_V1``) from the torch hub cache, downloading
them if they are not there. The output folder holds the I3D backbone (``I3DModel``), the I3D video processor
and a model card; loading it with ``AutoModelForVideoClassification`` adds a new classifier to train.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import (
    TensorLedger,
    base_arg_parser,
    check_complete,
    load_checkpoint,
    load_converted,
    run_script,
    save_converted,
    take_conv_bn_unit,
)
from conversion.convert_i3d_pytorch_i3d import build_video_processor, preprocessing_rows
from hf_videomodels.errors import UserInputError
from hf_videomodels.layers import inflate_state_dict, temporal_kernel_sizes_like
from hf_videomodels.model_card import render_model_card
from hf_videomodels.models.i3d.configuration_i3d import INCEPTION_BLOCK_NAMES, I3DConfig
from hf_videomodels.models.i3d.modeling_i3d import I3DModel

GOOGLENET_STEM = {"conv1": "conv_1a", "conv2": "conv_2b", "conv3": "conv_2c"}
GOOGLENET_BLOCKS = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")  # -> INCEPTION_BLOCK_NAMES
GOOGLENET_BRANCHES = {
    "branch1": "branch0",
    "branch2.0": "branch1_reduce",
    "branch2.1": "branch1_conv",
    "branch3.0": "branch2_reduce",
    "branch3.1": "branch2_conv",
    "branch4.1": "branch3_proj",  # branch4.0 is the parameter-free max-pool
}
UNUSED_PREFIXES = ("fc.", "aux1.", "aux2.")


def inflate_googlenet_state_dict(
    googlenet_state_dict: Mapping[str, torch.Tensor], mode: str = "mean"
) -> tuple[I3DConfig, dict[str, torch.Tensor]]:
    """A torchvision GoogLeNet state dict -> (``I3DConfig``, ``I3DModel`` state dict) with inflated convs.

    ``mode``: "mean" (the paper: each 2D filter repeated over time and divided by the temporal size) or
    "center" (the 2D filter at the middle time slice). Every GoogLeNet tensor is used except the ImageNet
    classifier and auxiliary heads, which are dropped explicitly.
    """
    unused = {key for key in googlenet_state_dict if key.startswith(UNUSED_PREFIXES)}
    ledger = TensorLedger(googlenet_state_dict, optional=unused)
    for key in sorted(unused):
        ledger.skip(key)
    renamed: dict[str, torch.Tensor] = {}
    for source, target in GOOGLENET_STEM.items():
        take_conv_bn_unit(ledger, source, target, renamed, conv="conv")
    for source_block, name in zip(GOOGLENET_BLOCKS, INCEPTION_BLOCK_NAMES):
        for source, target in GOOGLENET_BRANCHES.items():
            take_conv_bn_unit(ledger, f"inception{source_block}.{source}", f"mixed_{name}.{target}", renamed, "conv")
    ledger.finish()

    config = I3DConfig(num_channels=renamed["conv_1a.conv.weight"].shape[1])
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        target_model = I3DModel(config)
    temporal_sizes = temporal_kernel_sizes_like(renamed, target_model.state_dict())
    converted = inflate_state_dict(renamed, temporal_sizes, mode=mode)
    check_complete(target_model, converted)
    return config, converted


# What tests/test_inflation.py measures for this conversion (and asserts stays within the bound).
STAGE_PARITY_BOUND = 1e-5
VERIFIED_BY_TESTS = (
    "Checked by the project's tests on a GoogLeNet with random weights, inflated with 'mean': on a video that "
    "repeats one image, the middle time step of every stage of the inflated network (stem convolutions, each "
    f"Inception block) equals the 2D network's output on that image within {STAGE_PARITY_BOUND:.0e} (max abs, fp32), for frame "
    "sizes where TensorFlow 'SAME' padding and GoogLeNet's padding pick the same pixels; and every GoogLeNet "
    "tensor except the ImageNet classifier and auxiliary heads is used exactly once."
)


def torchvision_imagenet_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's ImageNet GoogLeNet weights, from the torch hub cache or downloaded into it."""
    from torchvision.models import GoogLeNet_Weights

    weights = GoogLeNet_Weights.IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=False)
    except OSError as error:  # offline and not cached (URLError is an OSError)
        raise UserInputError(
            f"torchvision's ImageNet GoogLeNet weights are not in {torch.hub.get_dir()}/checkpoints and could not "
            f"be downloaded from {weights.url} ({error}); download that file elsewhere and pass it as --checkpoint"
        ) from error


INFLATION_DESCRIPTIONS = {
    "mean": "each 2D filter repeated over time and divided by the temporal size (the I3D paper's bootstrapping)",
    "center": "each 2D filter placed at the middle time step, zeros elsewhere",
}


def model_card(model_id: str, config: I3DConfig, processor, source: str, mode: str) -> str:
    notes = (
        f"I3D backbone inflated from {source}: {INFLATION_DESCRIPTIONS[mode]}. It has no classifier: "
        "`AutoModelForVideoClassification.from_pretrained` (or `hf-videomodels train --model`) adds a new one "
        f"to train. {VERIFIED_BY_TESTS}"
    )
    return render_model_card(
        model_id=model_id,
        architecture="I3D",
        base_model=None,
        datasets=[],
        metrics=None,
        source=f"Inflated 3D ConvNet backbone (Carreira & Zisserman, CVPR 2017) built from {source}.",
        preprocessing=preprocessing_rows(config, processor),
        notes=notes,
    )


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Inflate a torchvision GoogLeNet (Inception-V1) into an hf_videomodels I3D backbone folder.",
        checkpoint_help="path or URL of a torchvision googlenet state dict (or use --torchvision)",
        checkpoint_required=False,
    )
    parser.add_argument(
        "--torchvision", action="store_true", help="use torchvision's ImageNet weights instead of --checkpoint"
    )
    parser.add_argument(
        "--mode",
        choices=("mean", "center"),
        default="mean",
        help="inflation: 'mean' repeats each filter over time divided by its size (the paper), 'center' puts "
        "it at the middle time step (default: mean)",
    )
    args = parser.parse_args(argv)
    if args.torchvision == (args.checkpoint is not None):
        parser.error("give exactly one of --checkpoint and --torchvision")
    if args.torchvision:
        state_dict, source = torchvision_imagenet_state_dict(), "torchvision's ImageNet GoogLeNet (IMAGENET1K_V1)"
    else:
        state_dict, source = load_checkpoint(args.checkpoint), f"the GoogLeNet `{Path(str(args.checkpoint)).name}`"
    config, converted = inflate_googlenet_state_dict(state_dict, mode=args.mode)
    model = load_converted(I3DModel, config, converted)
    processor = build_video_processor(config)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, config, processor, source, args.mode)
    return save_converted(model, processor, args.output, card, args.push_to_hub, with_code=args.with_code)


if __name__ == "__main__":
    run_script(main)
