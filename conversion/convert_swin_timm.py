"""Convert a timm Swin (``swin_tiny/small/base_patch4_window7_224``) state dict to hf_videomodels' Swin, the image
model applied per frame.

    python -m conversion.convert_swin_timm --model swin_tiny_patch4_window7_224 --output swin-tiny-timm
    python conversion/convert_swin_timm.py --checkpoint swin_tiny_state_dict.pth --output swin-tiny-timm

``--model`` builds the timm model with its pretrained weights (downloaded by timm); ``--checkpoint`` reads a
saved state dict. timm's names are the original Microsoft ones; its patch merging sits at the *start* of the
next stage (``layers.{i+1}.downsample``), ours at the end of stage ``i``, as the original. Labels: ImageNet
indices (timm state dicts carry no class names). timm's forward rolls the shifted windows *before* padding
feature maps to whole windows (the original Video Swin, torchvision and transformers pad first): the two
agree wherever no padding is needed, i.e. on every size whose stages are multiples of the window
(224, 224x448, ...), the sizes the released weights use.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import ConversionError, base_arg_parser, load_converted, run_script, save_converted
from conversion.convert_swin_transformers import finish_conversion, per_frame_card, rename_by_rules
from conversion.convert_video_swin_torchvision import source_state_dict
from hf_videomodels.models.swin.configuration_swin import SwinConfig
from hf_videomodels.models.swin.modeling_swin import SwinForVideoClassification

TIMM_RULES = (
    (r"patch_embed\.(proj|norm)\.(.+)", r"swin.encoder.patch_embed.\1.\2"),
    (r"layers\.(\d+)\.blocks\.(\d+)\.(.+)", r"swin.encoder.stages.\1.blocks.\2.\3"),
    (r"layers\.(\d+)\.downsample\.(.+)", lambda m: f"swin.encoder.stages.{int(m[1]) - 1}.downsample.{m[2]}"),
    (r"norm\.(.+)", r"swin.encoder.norm.\1"),
    (r"head\.fc\.(.+)", r"classifier.\1"),
)


def convert_timm_state_dict(state_dict: Mapping[str, torch.Tensor], **overrides) -> tuple[SwinConfig, dict[str, torch.Tensor]]:
    """A timm ``SwinTransformer`` state dict -> (``SwinConfig``, our state dict)."""
    if any(key.startswith("layers.0.downsample.") for key in state_dict):
        raise ConversionError("layers.0 has a patch merging: not a timm Swin (v1) layout")
    return finish_conversion(rename_by_rules(state_dict, TIMM_RULES), **overrides)


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a timm Swin to an hf_videomodels per-frame Swin.",
        checkpoint_help="a saved timm Swin state dict (or use --model)",
        checkpoint_required=False,
    )
    parser.add_argument("--model", help="a timm Swin name, built with its pretrained weights")
    args = parser.parse_args(argv)
    from hf_videomodels.models.swin import SwinVideoProcessor

    state_dict = source_state_dict(args, lambda name: __import__("timm").create_model(name, pretrained=True))
    config, converted = convert_timm_state_dict(state_dict)
    model = load_converted(SwinForVideoClassification, config, converted)
    card = per_frame_card(args.push_to_hub or Path(args.output).name, f"timm `{args.model or args.checkpoint}`")
    processor = SwinVideoProcessor.for_model_config(config)
    return save_converted(model, processor, args.output, card, args.push_to_hub, with_code=args.with_code)


if __name__ == "__main__":
    run_script(main)
