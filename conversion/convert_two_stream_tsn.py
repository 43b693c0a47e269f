"""A Simonyan / TSN-style two-stream ResNet from one ImageNet ResNet (torchvision, timm or transformers).

    python -m conversion.convert_two_stream_tsn --source torchvision --weights ResNet50_Weights.IMAGENET1K_V1 \
        --output two-stream-tsn-resnet50
    python conversion/convert_two_stream_tsn.py --source timm --timm-model resnet50.a1_in1k --flow-model raft-things \
        --flow-stack-length 5 --output two-stream-tsn-resnet50-a1

Both streams start from the same ImageNet network, as TSN (Wang et al., ECCV 2016, sec. 3.3) trains them:

- **RGB stream**: the ResNet on each of the segments' frames, converted by ``convert_tsn_resnet`` (TSN's
  consensus; partial BatchNorm on), with the source's ImageNet preprocessing;
- **flow stream**: the same ResNet on stacks of L flow fields per segment (``2 * L`` channels, x and y interleaved),
  its first convolution given TSN's **cross-modality initialisation** (the RGB filters averaged over the colour
  channels and repeated for every flow channel, ``layers.inflate.adapt_input_channels``); TSN's flow dropout 0.7;
- **fusion**: the weighted sum of the logits with TSN's weights, RGB 1 : flow 1.5.

The ImageNet head is kept in both streams (so the folder loads and predicts as it is); it is an initialisation to
fine-tune on video classes: ``hf-videomodels train --model <folder>`` gives both streams a new head. The flow comes
from ``--flow-model`` (a RAFT folder) inside the model, or is given as ``flow_values``.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import copy
from pathlib import Path

from transformers import AutoModel

from conversion.common import base_arg_parser, evaluation_protocol, load_converted, run_script, save_converted
from conversion.convert_tsn_resnet import (
    TSN_TEST,
    VERIFIED_BY_TESTS,
    SourceCheckpoint,
    add_source_arguments,
    build_video_processor,
    convert_resnet_state_dict,
    source_from_arguments,
)
from hf_videomodels.layers.inflate import adapt_input_channels
from hf_videomodels.model_card import format_setting, render_model_card
from hf_videomodels.models.tsn import TSNForVideoClassification
from hf_videomodels.models.two_stream import TwoStreamForVideoClassification, TwoStreamVideoProcessor

# TSN's settings for the flow stream and the fusion (Wang et al. 2016, sec. 4.1 and its released test scripts).
TSN_FLOW_STACK_LENGTH = 5
TSN_FLOW_DROPOUT = 0.7
TSN_FUSION = {"fusion": "logits", "fusion_weights": (1.0, 1.5), "flow_mode": "stacked"}


def build_two_stream_tsn(
    source: SourceCheckpoint,
    source_name: str,
    labels: list[str] | None = None,
    flow_stack_length: int = TSN_FLOW_STACK_LENGTH,
    flow_model=None,
) -> tuple[TwoStreamForVideoClassification, TwoStreamVideoProcessor]:
    """The two-stream TSN ResNet and its processor from an ImageNet ResNet checkpoint (see the module docstring)."""
    config, converted = convert_resnet_state_dict(source.state_dict, source_name, labels, source.preprocessing.crop)
    rgb = load_converted(TSNForVideoClassification, config, converted)
    flow = load_converted(TSNForVideoClassification, copy.deepcopy(config), converted)
    adapt_input_channels(flow, 2 * flow_stack_length)
    flow.config.dropout_prob = flow.dropout.p = TSN_FLOW_DROPOUT
    model = TwoStreamForVideoClassification.from_streams(rgb, flow, flow_model=flow_model, **TSN_FUSION)
    rgb_processor = build_video_processor(config, source.preprocessing)
    settings = {key: value for key, value in rgb_processor.to_dict().items() if key != "video_processor_type"}
    processor = TwoStreamVideoProcessor(
        **settings, flow_mode="stacked", flow_num_frames=config.num_frames, flow_stack_length=flow_stack_length
    )
    return model, processor


def model_card(model_id: str, model: TwoStreamForVideoClassification, processor, source: SourceCheckpoint) -> str:
    config = model.config
    stack = config.flow_stack_length
    flow_source = "RAFT inside the model" if config.flow_model_config is not None else "given as `flow_values`"
    preprocessing = {
        "RGB stream": f"{processor.num_frames} segments, one frame each; resize {format_setting(processor.size)}, "
        f"centre crop {format_setting(processor.crop_size)}, ImageNet normalisation of the source",
        "flow stream": f"{processor.flow_num_frames} segments, {stack} consecutive flow fields each ({2 * stack} "
        f"channels, x and y interleaved), clipped to +-{config.flow_bound:g} px and scaled to [-1, 1]; {flow_source}",
        "fusion": "RGB logits x 1 + flow logits x 1.5 (TSN)",
    }
    notes = (
        f"A two-stream TSN initialised from {source.description}: the RGB stream is the converted ResNet, the flow "
        "stream the same ResNet with TSN's cross-modality initialisation of its first convolution (the RGB filters "
        f"averaged and repeated over the {2 * stack} flow channels). Both keep the ImageNet head: fine-tune on video "
        f"classes before use (`hf-videomodels train --model <folder>`). RGB stream: {VERIFIED_BY_TESTS}"
    )
    return render_model_card(
        model_id=model_id,
        architecture="TwoStream",
        base_model=source.base_model,
        datasets=["imagenet-1k"],
        metrics=None,
        source=f"Two-stream TSN (Wang et al., ECCV 2016) with ResNet streams; {source.description}.",
        preprocessing=preprocessing,
        notes=notes,
        evaluation_protocol=evaluation_protocol(processor, TSN_TEST),
    )


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Build a TSN-style two-stream ResNet folder from an ImageNet ResNet (torchvision, timm or transformers).",
        default_labels="ImageNet-1k's for 1000-class checkpoints",
        checkpoint_help="as for convert_tsn_resnet: a state dict file, or a transformers folder / Hub id",
        checkpoint_required=False,
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--flow-stack-length", type=int, default=TSN_FLOW_STACK_LENGTH, help="L, flow fields per segment (TSN: 5)"
    )
    parser.add_argument("--flow-model", default=None, help="a RAFT model folder, to compute flow inside the model")
    args = parser.parse_args(argv)
    source = source_from_arguments(args)
    labels = args.labels if args.labels is not None else source.labels
    flow_model = AutoModel.from_pretrained(args.flow_model).eval() if args.flow_model else None
    model, processor = build_two_stream_tsn(source, args.source, labels, args.flow_stack_length, flow_model)
    model_id = args.push_to_hub or Path(args.output).name
    return save_converted(
        model, processor, args.output, model_card(model_id, model, processor, source), args.push_to_hub
    )


if __name__ == "__main__":
    run_script(main)
