"""Two-stream I3D (DeepMind's set-up, Carreira & Zisserman 2017) from pytorch-i3d's RGB and flow checkpoints.

    python -m conversion.convert_two_stream_i3d --rgb-checkpoint rgb_imagenet.pt --flow-checkpoint flow_imagenet.pt \
        --output two-stream-i3d-kinetics400
    python conversion/convert_two_stream_i3d.py --rgb-checkpoint rgb_charades.pt --flow-checkpoint flow_charades.pt \
        --labels charades_classes.txt --flow-model raft-things --output two-stream-i3d-charades

Each stream is converted by ``convert_i3d_pytorch_i3d`` (every tensor used exactly once, the same parity tests),
and the streams are fused as DeepMind's ``evaluate_sample.py`` does: the RGB and flow logits are added
(``fusion="logits"``, weights 1 : 1), and the prediction is the softmax of the sum. The flow stream takes a
64-frame flow clip, 2 channels per frame (``flow_mode="clip"``), clipped to +-20 pixels and scaled to [-1, 1].

The original flow is TV-L1, computed outside the model. ``--flow-model`` (a RAFT folder written by the RAFT
converter) puts a flow model inside the two-stream model, so that a plain video file can be classified
(``pipeline("video-classification")``): the processor then returns the 65 RGB frames of the clip and RAFT computes
their 64 flow fields, on the cropped 224 x 224 frames. RAFT's flow is not TV-L1's, so expect the flow stream to
score a little differently from the published numbers; precomputed TV-L1 flow can be passed as ``flow_values``.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

from collections.abc import Mapping
from pathlib import Path

import torch
from transformers import AutoModel

from conversion.common import (
    ConversionError,
    base_arg_parser,
    evaluation_protocol,
    load_checkpoint,
    load_converted,
    run_script,
    save_converted,
)
from conversion.convert_i3d_pytorch_i3d import (
    CHARADES_NUM_CLASSES,
    I3D_TEST,
    SOURCE_URL,
    VERIFIED_BY_TESTS,
    convert_pytorch_i3d_state_dict,
)
from hf_videomodels.model_card import render_model_card
from hf_videomodels.models.i3d import I3DForVideoClassification
from hf_videomodels.models.two_stream import TwoStreamForVideoClassification, TwoStreamVideoProcessor

# DeepMind's evaluate_sample.py: model_logits = rgb_logits + flow_logits.
DEEPMIND_FUSION = {"fusion": "logits", "fusion_weights": (1.0, 1.0), "flow_mode": "clip"}


def convert_stream(state_dict: Mapping[str, torch.Tensor], channels: int, name: str, labels=None):
    """One pytorch-i3d checkpoint as an ``I3DForVideoClassification``, checked to be the stream it is given as."""
    config, converted = convert_pytorch_i3d_state_dict(state_dict, labels=labels)
    if config.num_channels != channels:
        kind = "RGB (3 channels)" if channels == 3 else "flow (2 channels)"
        raise ConversionError(f"{name} takes {config.num_channels} input channels: not a {kind} I3D checkpoint")
    return load_converted(I3DForVideoClassification, config, converted)


def build_two_stream_i3d(
    rgb_state_dict: Mapping[str, torch.Tensor],
    flow_state_dict: Mapping[str, torch.Tensor],
    labels: list[str] | None = None,
    flow_model=None,
) -> tuple[TwoStreamForVideoClassification, TwoStreamVideoProcessor]:
    """The two-stream I3D model (logits added, as DeepMind) and its processor from pytorch-i3d RGB and flow state
    dicts (``rgb_imagenet.pt`` + ``flow_imagenet.pt``, or the Charades pair), with an optional flow model."""
    rgb = convert_stream(rgb_state_dict, 3, "the RGB checkpoint", labels)
    flow = convert_stream(flow_state_dict, 2, "the flow checkpoint", labels)
    if rgb.config.num_labels != flow.config.num_labels:
        raise ConversionError(
            f"the RGB checkpoint has {rgb.config.num_labels} classes and the flow checkpoint {flow.config.num_labels}: "
            "use the two files of one set (imagenet = Kinetics-400, or charades)"
        )
    model = TwoStreamForVideoClassification.from_streams(rgb, flow, flow_model=flow_model, **DEEPMIND_FUSION)
    return model, TwoStreamVideoProcessor.for_model_config(model.config)


def model_card(model_id: str, model: TwoStreamForVideoClassification, processor, checkpoints: tuple[str, str]) -> str:
    config = model.config
    charades = config.num_labels == CHARADES_NUM_CLASSES
    flow_source = (
        "RAFT inside the model, from the clip's 65 RGB frames"
        if config.flow_model_config is not None
        else "given as `flow_values` (precomputed; the original uses TV-L1)"
    )
    preprocessing = {
        "RGB stream": f"{processor.num_frames} consecutive frames, short side {processor.size.shortest_edge}, centre "
        f"crop {processor.crop_size.height}, x / 255 scaled to [-1, 1]",
        "flow stream": f"{processor.flow_num_frames} flow fields (x, y), clipped to +-{config.flow_bound:g} px and "
        f"scaled to [-1, 1]; {flow_source}",
        "fusion": "RGB logits + flow logits (DeepMind's evaluate_sample.py)",
    }
    notes = (
        f"Two-stream I3D assembled from pytorch-i3d's `{checkpoints[0]}` (RGB) and `{checkpoints[1]}` (flow) "
        f"([pytorch-i3d]({SOURCE_URL})). Each stream: {VERIFIED_BY_TESTS} The two-stream logits are the sum of the "
        "streams' (tested against the sum of the original models' logits). `model.stream_logits(...)` gives each "
        "stream's logits.\n\nReported by the authors on the Kinetics-400 test set (top-1 / top-5): RGB 71.1 / 89.3, "
        "flow 63.4 / 84.9, two-stream 74.2 / 91.3."
    )
    return render_model_card(
        model_id=model_id,
        architecture="TwoStream",
        base_model=None,
        datasets=["charades"] if charades else ["kinetics-400"],
        metrics=None,
        source=f"Two-stream Inflated 3D ConvNet (Carreira & Zisserman, CVPR 2017), converted from {SOURCE_URL}.",
        preprocessing=preprocessing,
        notes=notes,
        evaluation_protocol=evaluation_protocol(processor, I3D_TEST),
    )


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Build a two-stream I3D folder from pytorch-i3d's RGB and flow checkpoints.",
        default_labels="Kinetics-400 for 400-class checkpoints",
        checkpoint_required=False,
    )
    parser.add_argument("--rgb-checkpoint", required=True, help="pytorch-i3d RGB checkpoint (rgb_imagenet.pt, ...)")
    parser.add_argument("--flow-checkpoint", required=True, help="pytorch-i3d flow checkpoint (flow_imagenet.pt, ...)")
    parser.add_argument(
        "--flow-model", default=None, help="a RAFT model folder to compute flow from RGB frames inside the model"
    )
    args = parser.parse_args(argv)
    if args.checkpoint is not None:
        parser.error("give --rgb-checkpoint and --flow-checkpoint (not --checkpoint)")
    flow_model = AutoModel.from_pretrained(args.flow_model).eval() if args.flow_model else None
    model, processor = build_two_stream_i3d(
        load_checkpoint(args.rgb_checkpoint), load_checkpoint(args.flow_checkpoint), args.labels, flow_model
    )
    model_id = args.push_to_hub or Path(args.output).name
    names = (Path(str(args.rgb_checkpoint)).name, Path(str(args.flow_checkpoint)).name)
    return save_converted(
        model, processor, args.output, model_card(model_id, model, processor, names), args.push_to_hub
    )


if __name__ == "__main__":
    run_script(main)
