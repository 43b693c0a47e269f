"""Convert torchvision's Video Swin (``torchvision.models.video.swin3d_t/s/b``) to hf_videomodels' Video Swin.

    python -m conversion.convert_video_swin_torchvision --model swin3d_t --output video-swin-tiny-tv
    python conversion/convert_video_swin_torchvision.py --checkpoint swin3d_b-state-dict.pth --output out

``--model`` builds the torchvision model with its Kinetics-400 weights (downloaded by torchvision);
``--checkpoint`` reads a saved ``state_dict`` of one instead. torchvision's ``SwinTransformer3d`` is a port of
the original with other module names (``features.{2i}`` the blocks of stage ``i``, ``features.{2i+1}`` its
patch merging, ``mlp.0`` / ``mlp.3`` the MLP's Linears, ``head`` the classifier), the same math and the same
tensors: its keys are renamed to the original mmaction2 layout and converted by
``convert_video_swin_original`` (every tensor used exactly once).

The saved processor follows torchvision's published evaluation: 32 consecutive frames at 15 fps, 12 clips
per video, short side 256, one centre crop of 224, ImageNet mean and std.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from conversion.common import (
    TORCHVISION_VIDEO_TEST,
    ConversionError,
    base_arg_parser,
    evaluation_protocol,
    load_checkpoint,
    load_converted,
    packaged_labels,
    run_script,
    save_converted,
)
from conversion.convert_video_swin_original import convert_video_swin_checkpoint
from hf_videomodels.model_card import format_setting, render_model_card
from hf_videomodels.models.video_swin.configuration_video_swin import VideoSwinConfig
from hf_videomodels.models.video_swin.modeling_video_swin import VideoSwinForVideoClassification

TORCHVISION_MODELS = ("swin3d_t", "swin3d_s", "swin3d_b")
_BLOCK = re.compile(r"features\.(\d+)\.(\d+)\.(.+)")
_MERGING = re.compile(r"features\.(\d+)\.(reduction|norm)\.(.+)")
_MLP = {"mlp.0.": "mlp.fc1.", "mlp.3.": "mlp.fc2."}


def original_key(key: str) -> str:
    """A torchvision ``SwinTransformer3d`` key in the original mmaction2 layout."""
    if match := _BLOCK.fullmatch(key):
        index, block, rest = int(match[1]), match[2], match[3]
        if index % 2:
            raise ConversionError(f"unexpected torchvision key {key!r}: feature {index} is a patch merging")
        for source, target in _MLP.items():
            if rest.startswith(source):
                rest = target + rest[len(source):]
        return f"backbone.layers.{index // 2}.blocks.{block}.{rest}"
    if match := _MERGING.fullmatch(key):
        index = int(match[1])
        if index % 2 == 0:
            raise ConversionError(f"unexpected torchvision key {key!r}: feature {index} is a stage of blocks")
        return f"backbone.layers.{index // 2}.downsample.{match[2]}.{match[3]}"
    for source, target in (("patch_embed.", "backbone.patch_embed."), ("norm.", "backbone.norm."), ("head.", "cls_head.fc_cls.")):
        if key.startswith(source):
            return target + key[len(source):]
    raise ConversionError(f"unknown torchvision Video Swin key {key!r}")


def convert_torchvision_state_dict(
    state_dict: Mapping[str, torch.Tensor], labels: list[str] | None = None, **config_overrides
) -> tuple[VideoSwinConfig, dict[str, torch.Tensor]]:
    """A torchvision ``swin3d_*`` state dict -> (``VideoSwinConfig``, our state dict)."""
    renamed = {original_key(key): tensor for key, tensor in state_dict.items()}
    if len(renamed) != len(state_dict):
        raise ConversionError("two torchvision keys map to the same tensor")
    num_labels = renamed.get("cls_head.fc_cls.weight", torch.empty(0)).shape[0]
    if labels is None and num_labels == 400:
        labels = packaged_labels("kinetics400")
    return convert_video_swin_checkpoint(renamed, labels=labels, **config_overrides)


def source_state_dict(args, build_pretrained: Callable[[str], torch.nn.Module]) -> Mapping[str, torch.Tensor]:
    """The state dict of ``--model`` (a library model built with its published weights by ``build_pretrained``)
    or of ``--checkpoint`` (a saved state dict): exactly one of them. Shared by the library converters."""
    if (args.model is None) == (args.checkpoint is None):
        raise ConversionError("give exactly one of --model and --checkpoint")
    if args.model is not None:
        return build_pretrained(args.model).state_dict()
    return load_checkpoint(args.checkpoint)


def video_processor_kwargs(config: VideoSwinConfig) -> dict:
    """torchvision's evaluation of its Kinetics weights (module docstring) as processor settings."""
    return {
        "num_frames": 32,
        "frame_sample_rate": 1,
        "target_fps": 15,
        "num_clips": 12,
        "num_crops": 1,
        "view_fusion": "softmax",  # see TORCHVISION_VIDEO_TEST
        "size": {"shortest_edge": 256},
        "crop_size": {"height": 224, "width": 224},
        "num_channels": config.num_channels,
    }


def model_card(model_id: str, source: str, kwargs: dict) -> str:
    return render_model_card(
        model_id=model_id,
        architecture="Video Swin",
        base_model=None,
        datasets=["kinetics-400"],
        metrics=None,
        source=f"torchvision's `{source}` (Kinetics-400 weights ported from the Video Swin paper).",
        preprocessing={
            "frames": f"{kwargs['num_frames']} consecutive frames at {kwargs['target_fps']} fps",
            "resize": format_setting(kwargs["size"]),
            "crop": f"centre crop of {format_setting(kwargs['crop_size'])}, {kwargs['num_clips']} clips",
            "values": "(x / 255 - mean) / std, ImageNet mean and std",
        },
        notes="Converted with conversion/convert_video_swin_torchvision.py; the project's tests check torchvision's "
        "swin3d_t/s/b against this port with random weights within 1e-4 at odd clip lengths and sizes.",
        evaluation_protocol=evaluation_protocol(kwargs, TORCHVISION_VIDEO_TEST),
    )


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert torchvision's swin3d_t/s/b to an hf_videomodels folder.",
        default_labels="the packaged Kinetics-400 names",
        checkpoint_help="a saved torchvision swin3d state dict (or use --model)",
        checkpoint_required=False,
    )
    parser.add_argument("--model", choices=TORCHVISION_MODELS, help="build it with torchvision's Kinetics-400 weights")
    args = parser.parse_args(argv)
    from hf_videomodels.models.video_swin import VideoSwinVideoProcessor

    state_dict = source_state_dict(
        args, lambda name: getattr(__import__("torchvision").models.video, name)(weights="KINETICS400_V1")
    )
    config, converted = convert_torchvision_state_dict(state_dict, args.labels)
    model = load_converted(VideoSwinForVideoClassification, config, converted)
    kwargs = video_processor_kwargs(config)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, args.model or Path(args.checkpoint).name, kwargs)
    return save_converted(model, VideoSwinVideoProcessor(**kwargs), args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
