"""``hf-videomodels``: demo (the main job), train, classify."""

from __future__ import annotations

import argparse
import json
import sys


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


def _cmd_classify(args) -> int:
    from transformers import pipeline

    from .video_io import VideoDecodingError

    classifier = pipeline("video-classification", model=args.model, device=args.device)
    try:
        predictions = classifier(args.video, top_k=args.top_k)
    except (FileNotFoundError, VideoDecodingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for prediction in predictions:
        print(f"{prediction['score']:.4f}  {prediction['label']}")
    if args.attention_map:
        from .visualization import save_attention_maps

        try:
            picture = save_attention_maps(classifier.model, classifier.video_processor, args.video, args.attention_map)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"attention maps: {picture}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-videomodels", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="train a small model on synthetic motion videos and show the result")
    demo.add_argument("--output", default="demo_output", help="folder for the data, model and picture")
    demo.add_argument("--epochs", type=float, default=8)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo)

    from .training_args import DefaultsHelpFormatter, add_train_arguments  # light: keeps --help fast

    train = commands.add_parser(
        "train",
        help="fine-tune on a folder of class sub-folders of videos",
        description="Train a video classifier on DATA_DIR with transformers' Trainer (see training.train).",
        formatter_class=DefaultsHelpFormatter,
    )
    add_train_arguments(train)
    train.set_defaults(func=_cmd_train)

    classify = commands.add_parser("classify", help="classify a video file with a model folder or Hub repo")
    classify.add_argument("video")
    classify.add_argument("--model", required=True)
    classify.add_argument("--top-k", type=int, default=5)
    classify.add_argument("--device", default=None, help="e.g. cpu, cuda")
    classify.add_argument(
        "--attention-map", metavar="PATH", help="also draw the last block's cls attention per frame to this PNG"
    )
    classify.set_defaults(func=_cmd_classify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import hf_videomodels  # noqa: F401  (registers the architectures before any Auto class is used)

    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
