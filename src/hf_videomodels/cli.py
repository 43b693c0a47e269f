"""``hf-videomodels``: demo (the main job), train, evaluate, classify, flow, benchmark."""

# Only the standard library at module level: the command parses its arguments (and answers --help) before
# the package, torch and transformers are imported (see ``hf_videomodels_cli``).
from __future__ import annotations

import argparse
import functools
import json
import os
import sys


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to an option's help, except where the default is "not given" (None or False)."""

    def _get_help_string(self, action):
        if action.required or action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _cmd_demo(args) -> int:
    from .demo import run_demo

    result = run_demo(output_dir=args.output, seed=args.seed, epochs=args.epochs)
    print(f"\nvalidation top-1 accuracy: {result.validation_accuracy:.3f}")
    print(f"held-out top-1 accuracy:   {result.heldout_accuracy:.3f}")
    print(f"pipeline on {result.example_video}:")
    for prediction in result.example_predictions:
        print(f"  {prediction['score']:.3f}  {prediction['label']}")
    print(f"model:   {result.output_dir / 'model'}")
    print(f"picture: {result.picture}")
    print(f"total time: {result.seconds:.0f} s")
    return 0


def _cmd_train(args) -> int:
    from .training import train
    from .training_args import train_config_from_args

    result = train(train_config_from_args(args))
    metrics = {k: round(v, 4) for k, v in result.metrics.items() if isinstance(v, float)}
    print(json.dumps(metrics, indent=1))
    if result.unreadable_videos:
        print(f"skipped {len(result.unreadable_videos)} unreadable video(s), named in the warnings above")
    print(f"saved to {result.output_dir}")
    return 0


def _cmd_evaluate(args) -> int:
    from .evaluation import evaluate_model

    _check_device(args.device)
    result = evaluate_model(
        args.model,
        args.data_dir,
        args.output,
        num_clips=args.num_clips,
        num_crops=args.num_crops,
        view_fusion=args.view_fusion,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        device=args.device,
        update_card=args.update_card,
        show_progress=not args.no_progress,
        layout=args.layout,
        split=args.split,
        annotations=args.annotations,
    )
    protocol = result.protocol
    print(json.dumps({name: round(value, 4) for name, value in result.metrics.items()}, indent=1))
    print(
        f"{result.num_videos} videos, {protocol['num_clips']} clip(s) x {protocol['num_crops']} crop(s), "
        f"{protocol['view_fusion']} fusion"
    )
    if result.unreadable_videos:
        print(f"skipped {len(result.unreadable_videos)} unreadable video(s), named in the warnings above")
    for name, path in result.files.items():
        print(f"{name}: {path}")
    return 0


def _check_device(device: str | None) -> None:
    """Refuse a device this machine does not have before loading a model onto it."""
    if device is None:
        return
    import torch

    from .errors import UserInputError

    try:
        wanted = torch.device(device)
    except RuntimeError as error:
        raise UserInputError(f"--device {device!r} is not a device name (e.g. cpu, cuda, cuda:1): {error}") from None
    if wanted.type == "cuda" and (wanted.index or 0) >= torch.cuda.device_count():
        found = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else "no CUDA device"
        raise UserInputError(f"--device {device}: this machine has {found}; use --device cpu")


def _cmd_classify(args) -> int:
    from transformers import pipeline

    from .hub import resolve_model_reference
    from .video_io import check_video_file

    check_video_file(args.video)  # every argument is checked before the model loads
    model = resolve_model_reference(args.model)
    _check_device(args.device)
    classifier = pipeline("video-classification", model=model, device=args.device)
    if args.attention_map:  # before classifying, so a model without attention fails first, not last
        from .visualization import check_attention_maps_supported

        check_attention_maps_supported(classifier.model)
    for prediction in classifier(args.video, top_k=args.top_k):
        print(f"{prediction['score']:.4f}  {prediction['label']}")
    if args.attention_map:
        from .visualization import save_attention_maps

        picture = save_attention_maps(classifier.model, classifier.video_processor, args.video, args.attention_map)
        print(f"attention maps: {picture}")
    return 0


FLOW_PICTURE_SUFFIXES = (".png",)
# `--model farneback` names OpenCV's classical estimator (no weights needed) unless a folder of that name exists.
CLASSICAL_FLOW_NAME = "farneback"
FLOW_VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv")


def _flow_output(text: str) -> str:
    if not text.lower().endswith(FLOW_PICTURE_SUFFIXES + FLOW_VIDEO_SUFFIXES):
        known = ", ".join(FLOW_VIDEO_SUFFIXES + FLOW_PICTURE_SUFFIXES)
        raise argparse.ArgumentTypeError(f"the output must end in one of {known}, got {text!r}")
    return text


def _cmd_flow(args) -> int:
    from transformers import AutoModel

    from .errors import UserInputError
    from .flow import save_flow_strip, save_flow_video
    from .hub import resolve_model_reference
    from .video_io import check_video_file

    check_video_file(args.video)
    _check_device(args.device)
    if args.model == CLASSICAL_FLOW_NAME and not os.path.isdir(args.model):
        from .classical_flow import FarnebackFlow

        model = FarnebackFlow()
    else:
        model = AutoModel.from_pretrained(resolve_model_reference(args.model)).eval()
    if not callable(getattr(model, "clip_flow", None)):
        raise UserInputError(f"{args.model} is a {type(model).__name__}, not an optical-flow model (RAFT)")
    if args.device is not None:
        model = model.to(args.device)
    if args.output.lower().endswith(FLOW_PICTURE_SUFFIXES):
        path = save_flow_strip(args.video, model, args.output, num_pairs=args.frames, num_iterations=args.iterations)
    else:
        path = save_flow_video(args.video, model, args.output, num_iterations=args.iterations)
    print(f"flow: {path}")
    return 0


def _cmd_benchmark_temporal(args) -> int:
    from .temporal_table import run_from_args

    run_from_args(args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-videomodels", description=__doc__, formatter_class=HelpFormatter)
    subparser_class = functools.partial(argparse.ArgumentParser, formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=subparser_class)

    demo = commands.add_parser("demo", help="train a small model on synthetic motion videos and show the result")
    demo.add_argument("--output", default="demo_output", help="folder for the data, model and picture")
    demo.add_argument("--epochs", type=float, default=8, help="training epochs")
    demo.add_argument("--seed", type=int, default=0, help="seed of the synthetic data and the training")
    demo.set_defaults(func=_cmd_demo)

    from .training_args import LAYOUTS, add_train_arguments  # light: keeps --help fast

    train = commands.add_parser(
        "train",
        help="fine-tune on a folder of class sub-folders of videos",
        description="Train a video classifier on DATA_DIR with transformers' Trainer (see training.train).",
    )
    add_train_arguments(train)
    train.set_defaults(func=_cmd_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="measure a classifier's top-1/top-5/mean class accuracy with its multi-view test protocol",
        description="Evaluate a video classifier on DATA_DIR's validation split (every video of a plain folder of "
        "class folders) with the views and view fusion saved in its video processor (the checkpoint's original test "
        "protocol), or the ones given here; writes results.json, per_class.csv, predictions.csv and "
        "confusion_matrix.png.",
    )
    evaluate.add_argument(
        "data_dir",
        metavar="DATA_DIR",
        help="class sub-folders of videos, train/ + validation/, or a UCF101, HMDB51, Kinetics or SSv2 download",
    )
    evaluate.add_argument(
        "--model", required=True, help="model folder (from a converter, train, save_pretrained) or Hub repo"
    )
    evaluate.add_argument("--output", default="evaluation", help="folder for the results")
    evaluate.add_argument(
        "--num-clips", type=_positive_int, default=None, help="temporal views per video (default: the processor's)"
    )
    evaluate.add_argument(
        "--num-crops", type=int, choices=(1, 3), default=None, help="spatial views per clip (default: the processor's)"
    )
    evaluate.add_argument(
        "--view-fusion",
        choices=("logits", "softmax"),
        default=None,
        help="combine the views' logits or softmax probabilities by averaging (default: the processor's)",
    )
    evaluate.add_argument(
        "--batch-size", type=_positive_int, default=1, help="videos per forward pass (each with all its views)"
    )
    evaluate.add_argument("--num-workers", type=int, default=0, help="DataLoader processes decoding videos")
    evaluate.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1 (default: cpu)")
    evaluate.add_argument(
        "--layout", choices=LAYOUTS, default="auto", help="how DATA_DIR is organised (auto: by its annotation files)"
    )
    evaluate.add_argument("--split", type=_positive_int, default=1, help="official split of UCF101 and HMDB51 (1-3)")
    evaluate.add_argument(
        "--annotations", metavar="PATH", default=None, help="folder (or a file in it) of the annotation files"
    )
    evaluate.add_argument(
        "--update-card", action="store_true", help="write the numbers and protocol into the model folder's README.md"
    )
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    evaluate.set_defaults(func=_cmd_evaluate)

    classify = commands.add_parser("classify", help="classify a video file with a model folder or Hub repo")
    classify.add_argument("video", help="video file or http(s) URL")
    classify.add_argument(
        "--model", required=True, help="model folder (from save_pretrained, a converter, train) or Hub repo"
    )
    classify.add_argument("--top-k", type=_positive_int, default=5, help="how many of the best labels to print")
    classify.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1 (default: the pipeline's choice)")
    classify.add_argument(
        "--attention-map", metavar="PATH", help="also draw the last block's cls attention per frame to this PNG"
    )
    classify.set_defaults(func=_cmd_classify)

    flow = commands.add_parser(
        "flow",
        help="compute a video's optical flow with RAFT and draw it in the colour-wheel encoding",
        description="Optical flow of consecutive frame pairs (RAFT, or OpenCV's Farneback), drawn with the Middlebury colour wheel: a "
        "video of every frame beside its flow (.mp4/.avi/.mkv), or a PNG strip of frames over their flow (.png).",
    )
    flow.add_argument("video", help="video file or http(s) URL")
    flow.add_argument(
        "--model",
        required=True,
        help=f"RAFT model folder (from its converter) or Hub repo, or {CLASSICAL_FLOW_NAME!r}: OpenCV's Farneback flow "
        "(no weights; pip install 'hf-videomodels[flow]')",
    )
    flow.add_argument("--output", required=True, type=_flow_output, help="flow.mp4 (a video) or flow.png (a strip)")
    flow.add_argument("--iterations", type=_positive_int, default=12, help="RAFT refinement iterations")
    flow.add_argument("--frames", type=_positive_int, default=8, help="frame pairs in a PNG strip, spread evenly")
    flow.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1 (default: cpu)")
    flow.set_defaults(func=_cmd_flow)

    from .temporal_table import add_arguments as add_temporal_arguments  # light: keeps --help fast

    benchmark = commands.add_parser("benchmark", help="reproduce the package's experiments")
    benchmarks = benchmark.add_subparsers(dest="benchmark", required=True, parser_class=subparser_class)
    temporal = benchmarks.add_parser(
        "temporal",
        help="the temporal table: which models learn the direction of motion (per-frame models cannot)",
        description="Train small models from scratch on synthetic videos of a square sliding in one of four "
        "directions (no single frame shows which) and score them on held-out clips, forwards and reversed. Without "
        "--rows / --all: a few contrasting rows in minutes on two CPU cores. Writes temporal_table.md, .json and "
        ".png into --output.",
    )
    add_temporal_arguments(temporal)
    temporal.set_defaults(func=_cmd_benchmark_temporal)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run a parsed command. A user error (a bad path, setting or video) is one line on stderr and exit code
    2; anything else is a bug and keeps its traceback."""
    from .errors import report_user_errors

    return report_user_errors(lambda: args.func(args))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import hf_videomodels  # noqa: F401  (registers the architectures before any Auto class is used)

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
