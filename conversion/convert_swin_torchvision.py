"""Convert torchvision's Swin (``torchvision.models.swin_t/s/b``, v1) to hf_videomodels' Swin, the image model
applied per frame.

    python -m conversion.convert_swin_torchvision --model swin_t --output swin-tiny-torchvision
    python conversion/convert_swin_torchvision.py --checkpoint swin_b_state_dict.pth --output out

torchvision numbers its modules: ``features.0`` the patch embedding (conv ``0``, LayerNorm ``2``),
``features.{2i+1}`` the blocks of stage ``i`` (MLP Linears ``mlp.0`` / ``mlp.3``), ``features.{2i+2}`` its patch
merging; ``norm`` and ``head`` at the end. The tensors are the original's. torchvision does not shrink windows
on feature maps smaller than the window (it pads them); the two agree on every size whose stages are all at
least a window wide (224 and larger).
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import base_arg_parser, load_converted, run_script, save_converted
from conversion.convert_swin_transformers import finish_conversion, per_frame_card, rename_by_rules
from conversion.convert_video_swin_torchvision import source_state_dict
from hf_videomodels.models.swin.configuration_swin import SwinConfig
from hf_videomodels.models.swin.modeling_swin import SwinForVideoClassification

TORCHVISION_MODELS = ("swin_t", "swin_s", "swin_b")


def _block(match) -> str:
    feature, block, rest = int(match[1]), match[2], match[3]
    rest = rest.replace("mlp.0.", "mlp.fc1.").replace("mlp.3.", "mlp.fc2.")
    return f"swin.encoder.stages.{(feature - 1) // 2}.blocks.{block}.{rest}"


TORCHVISION_RULES = (
    (r"features\.0\.0\.(.+)", r"swin.encoder.patch_embed.proj.\1"),
    (r"features\.0\.2\.(.+)", r"swin.encoder.patch_embed.norm.\1"),
    (r"features\.(\d*[13579])\.(\d+)\.(.+)", _block),
    (r"features\.(\d*[02468])\.(reduction|norm)\.(.+)", lambda m: f"swin.encoder.stages.{int(m[1]) // 2 - 1}.downsample.{m[2]}.{m[3]}"),
    (r"norm\.(.+)", r"swin.encoder.norm.\1"),
    (r"head\.(.+)", r"classifier.\1"),
)


def convert_torchvision_state_dict(state_dict: Mapping[str, torch.Tensor], **overrides) -> tuple[SwinConfig, dict[str, torch.Tensor]]:
    """A torchvision ``swin_t/s/b`` state dict -> (``SwinConfig``, our state dict)."""
    return finish_conversion(rename_by_rules(state_dict, TORCHVISION_RULES), **overrides)


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert torchvision's swin_t/s/b to an hf_videomodels per-frame Swin.",
        checkpoint_help="a saved torchvision Swin state dict (or use --model)",
        checkpoint_required=False,
    )
    parser.add_argument("--model", choices=TORCHVISION_MODELS, help="build it with torchvision's ImageNet weights")
    args = parser.parse_args(argv)
    from hf_videomodels.models.swin import SwinVideoProcessor

    state_dict = source_state_dict(args, lambda name: getattr(__import__("torchvision").models, name)(weights="IMAGENET1K_V1"))
    config, converted = convert_torchvision_state_dict(state_dict)
    model = load_converted(SwinForVideoClassification, config, converted)
    card = per_frame_card(args.push_to_hub or Path(args.output).name, f"torchvision `{args.model or args.checkpoint}`")
    processor = SwinVideoProcessor.for_model_config(config)
    return save_converted(model, processor, args.output, card, args.push_to_hub, with_code=args.with_code)


if __name__ == "__main__":
    run_script(main)
