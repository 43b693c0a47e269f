"""Convert torchvision's RAFT (``torchvision.models.optical_flow.raft_large`` / ``raft_small``) to hf_videomodels' RAFT.

    python -m conversion.convert_raft_torchvision --model raft_large --weights C_T_SKHT_V2 --output raft-large-sintel
    python conversion/convert_raft_torchvision.py --checkpoint raft_small_C_T_V2-01064c6d.pth --output raft-small

torchvision's modules are the original's, renamed: each conv + norm (+ ReLU) is a ``Conv2dNormActivation``
(``convnormrelu{k}.0`` / ``.1``), the motion encoder's convs are ``convcorr{k}`` / ``convflow{k}``, the GRU steps
``recurrent_block.convgru{k}`` and the mask head ``mask_predictor``. Its strided blocks have a shortcut norm of
their own (no aliased keys). The ``*_V1`` weights are the original checkpoints ported; the ``*_V2`` ones were
trained again with torchvision's reference scripts. torchvision's models take frames scaled to [-1, 1]
(``transforms.OpticalFlow``) whose sides are multiples of 8, and leave the padding to their users; the saved
processor pads as the original ``InputPadder`` does.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import ConversionError, base_arg_parser, load_converted, run_script, save_converted
from conversion.convert_raft_original import (
    build_video_processor,
    convert_by_layout,
    model_card,
    strip_data_parallel_prefix,
    torchvision_metrics,
)
from conversion.convert_video_swin_torchvision import source_state_dict
from hf_videomodels.models.raft import RaftConfig, RaftModel

SOURCE_URL = "https://github.com/pytorch/vision/blob/main/torchvision/models/optical_flow/raft.py"
TORCHVISION_MODELS = ("raft_large", "raft_small")
# torchvision's weight enums: name -> (model, what it was trained on). V1 = ported from the original code.
PUBLISHED = {
    "raft_large_C_T_V1": ("raft_large", "FlyingChairs + FlyingThings3D (ported from the original raft-things.pth)"),
    "raft_large_C_T_V2": ("raft_large", "FlyingChairs + FlyingThings3D (trained by torchvision's reference scripts)"),
    "raft_large_C_T_SKHT_V1": (
        "raft_large",
        "C+T, then the Sintel mix (Sintel, KITTI, HD1K, FlyingThings3D; ported from the original raft-sintel.pth)",
    ),
    "raft_large_C_T_SKHT_V2": (
        "raft_large",
        "C+T, then the Sintel mix (Sintel, KITTI, HD1K, FlyingThings3D; trained by torchvision's reference scripts)",
    ),
    "raft_large_C_T_SKHT_K_V1": (
        "raft_large",
        "C+T, the Sintel mix, then KITTI (ported from the original raft-kitti.pth)",
    ),
    "raft_large_C_T_SKHT_K_V2": (
        "raft_large",
        "C+T, the Sintel mix, then KITTI (trained by torchvision's reference scripts)",
    ),
    "raft_small_C_T_V1": ("raft_small", "FlyingChairs + FlyingThings3D (ported from the original raft-small.pth)"),
    "raft_small_C_T_V2": ("raft_small", "FlyingChairs + FlyingThings3D (trained by torchvision's reference scripts)"),
}


# What tests/test_raft_modeling.py measures for this family (and asserts stays within the bound).
PARITY_BOUND = 1e-4
VERIFIED_BY_TESTS = (
    "Checked by the project's tests against torchvision's own raft_large and raft_small with random weights "
    "converted by this script: the flow after every iteration (4 iterations) at 131x157 and 134x163, padded as the "
    "processor pads (Sintel and KITTI layouts) and cropped back, and raft_large's final flow after 12 iterations "
    f"at 368x496, agree within {PARITY_BOUND:.0e} px (max abs, fp32)."
)


def torchvision_source(target: str, config: RaftConfig) -> tuple[str, ...]:
    """Where torchvision's RAFT keeps our tensor ``target`` (the GRU aside: :func:`torchvision_gru_conv`)."""
    if match := re.fullmatch(r"(feature_encoder|context_encoder)\.(.+)", target):
        encoder, rest = match[1], match[2]
        if match := re.fullmatch(r"stem_(conv|norm)\.(.+)", rest):
            return (f"{encoder}.convnormrelu.{0 if match[1] == 'conv' else 1}.{match[2]}",)
        if match := re.fullmatch(r"projection\.(.+)", rest):
            return (f"{encoder}.conv.{match[1]}",)
        if match := re.fullmatch(r"stages\.(\d)\.(\d)\.(conv|norm)(\d)\.(.+)", rest):
            unit = f"convnormrelu{match[4]}.{0 if match[3] == 'conv' else 1}"
            return (f"{encoder}.layer{int(match[1]) + 1}.{match[2]}.{unit}.{match[5]}",)
        if match := re.fullmatch(r"stages\.(\d)\.(\d)\.(downsample\..+)", rest):
            return (f"{encoder}.layer{int(match[1]) + 1}.{match[2]}.{match[3]}",)
    if match := re.fullmatch(r"update_block\.motion_encoder\.(corr_convs|flow_convs)\.(\d)\.(.+)", target):
        branch = "corr" if match[1] == "corr_convs" else "flow"
        return (f"update_block.motion_encoder.conv{branch}{int(match[2]) + 1}.0.{match[3]}",)
    if match := re.fullmatch(r"update_block\.motion_encoder\.conv\.(.+)", target):
        return (f"update_block.motion_encoder.conv.0.{match[1]}",)
    if target.startswith("update_block.flow_head."):
        return (target,)
    if match := re.fullmatch(r"mask_head\.conv(1|2)\.(.+)", target):
        return (f"mask_predictor.{'convrelu.0' if match[1] == '1' else 'conv'}.{match[2]}",)
    raise ConversionError(f"no source known for {target!r}")


def torchvision_gru_conv(step: int, gate: str, config: RaftConfig) -> str:
    return f"update_block.recurrent_block.convgru{step + 1}.conv{gate}"


def convert_torchvision_state_dict(
    state_dict: Mapping[str, torch.Tensor], **config_overrides
) -> tuple[RaftConfig, dict[str, torch.Tensor]]:
    """A torchvision ``raft_large`` / ``raft_small`` state dict -> (``RaftConfig``, ``RaftModel`` state dict)."""
    state_dict = strip_data_parallel_prefix(state_dict)
    if "update_block.recurrent_block.convgru2.convz.weight" in state_dict:
        config = RaftConfig.large(**config_overrides)
    elif "update_block.recurrent_block.convgru1.convz.weight" in state_dict:
        config = RaftConfig.small(**config_overrides)
    else:
        raise ConversionError(
            "not a torchvision RAFT state dict: it has no update_block.recurrent_block.convgru1.convz.weight; "
            f"first keys: {sorted(state_dict)[:5]}"
        )
    return config, convert_by_layout(state_dict, config, torchvision_source, torchvision_gru_conv)


def torchvision_source_line(name: str) -> str:
    return (
        f"Recurrent All-Pairs Field Transforms (Teed & Deng, ECCV 2020), converted from torchvision's `{name}` "
        f"weights ([code]({SOURCE_URL}))."
    )


def weights_enum_name(name: str) -> str | None:
    """``raft_large_C_T_V2`` -> ``Raft_Large_Weights.C_T_V2`` (None for a name that is not a published one)."""
    if name not in PUBLISHED:
        return None
    model, size, weights = name.split("_", 2)
    return f"Raft_{size.capitalize()}_Weights.{weights}"


def card(model_id: str, name: str, config: RaftConfig, processor) -> str:
    trained_on = PUBLISHED.get(name, (None, "the data of the torchvision weights"))[1]
    weights = weights_enum_name(name)
    return model_card(
        model_id,
        config,
        processor,
        trained_on,
        torchvision_source_line(name),
        VERIFIED_BY_TESTS,
        metrics=torchvision_metrics(weights),
        metrics_source=f"as torchvision reports them for `{weights}`",
    )


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for torchvision's RAFT weights. torchvision's own model, built on the meta device,
    gives every tensor's shape (there is no manifest to read); ``reference_dir`` is not needed."""
    import torchvision

    cards = {}
    for name, (builder, trained_on) in PUBLISHED.items():
        with torch.device("meta"):
            state_dict = getattr(torchvision.models.optical_flow, builder)().state_dict()
        config, _ = convert_torchvision_state_dict(state_dict)
        padding_mode = "kitti" if name.endswith(("K_V1", "K_V2")) else "sintel"
        processor = build_video_processor(padding_mode)
        model_id = name.replace("_", "-")
        cards[f"{name}.md"] = card(model_id, name, config, processor)
    return cards


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert torchvision's raft_large / raft_small to an hf_videomodels RAFT folder.",
        checkpoint_help="a saved torchvision RAFT state dict (or use --model)",
        checkpoint_required=False,
    )
    parser.add_argument("--model", choices=TORCHVISION_MODELS, help="build it with torchvision's weights --weights")
    parser.add_argument("--weights", default="DEFAULT", help="torchvision weight name, e.g. C_T_V2 (default: DEFAULT)")
    parser.add_argument("--padding-mode", choices=("sintel", "kitti"), default="sintel")
    args = parser.parse_args(argv)
    import torchvision

    optical_flow = torchvision.models.optical_flow
    state_dict = source_state_dict(args, lambda model: getattr(optical_flow, model)(weights=args.weights))
    if args.model is not None:
        weights_enum = "Raft_Large_Weights" if args.model == "raft_large" else "Raft_Small_Weights"
        name = f"{args.model}_{getattr(optical_flow, weights_enum)[args.weights].name}"
    else:
        name = Path(str(args.checkpoint)).stem
    config, converted = convert_torchvision_state_dict(state_dict)
    model = load_converted(RaftModel, config, converted)
    processor = build_video_processor(args.padding_mode)
    text = card(args.push_to_hub or Path(args.output).name, name, config, processor)
    return save_converted(model, processor, args.output, text, args.push_to_hub, with_code=args.with_code)


if __name__ == "__main__":
    run_script(main)
