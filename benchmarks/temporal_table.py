"""The temporal table: which architectures learn motion that no single frame shows?

Every registered architecture (``hf_videomodels.registration.architectures()``) with a ``small_config`` is
trained from scratch on the package's own motion videos (``demo.make_motion_dataset``: a square sliding in one
of four directions; any single frame is a square at a random place, so only the order of frames tells the
classes apart), with the code path of ``hf-videomodels train`` (``training.train`` with a ``TrainConfig``), the
same data, seed and budget (epochs) for every model, and the demo's processor settings (all 16 frames, no flip;
``demo.small_training_overrides``). Each model is then scored on held-out videos that training never saw.
Architectures without a ``small_config`` are listed as skipped.

Writes into ``--output``: ``temporal_table.md`` (architecture, parameters, training time, held-out top-1,
chance), ``temporal_table.json`` and ``temporal_table.png`` (bar chart of held-out top-1 with the chance line),
plus the data and the trained models.

    uv run python benchmarks/temporal_table.py [--architectures I3D TimeSformer] [--epochs 8] [--output DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from hf_videomodels.demo import DIRECTIONS, make_motion_dataset, small_training_overrides
from hf_videomodels.registration import Architecture, architectures, find_architecture
from hf_videomodels.training import TrainConfig, train

TABLE_NAME = "temporal_table"


@dataclass(frozen=True)
class Budget:
    """What every architecture gets: the same data, seed and training budget."""

    videos_per_class: int = 60
    heldout_per_class: int = 15
    epochs: float = 8.0
    learning_rate: float = 1e-3
    batch_size: int = 16
    val_fraction: float = 0.2
    seed: int = 0


@dataclass
class Row:
    architecture: str
    parameters: int | None = None
    training_seconds: float | None = None
    heldout_top1: float | None = None
    validation_top1: float | None = None
    chance: float = 1 / len(DIRECTIONS)
    skipped: str | None = None  # why it was not trained


def evaluate_saved(model_dir: Path, heldout_dir: Path, batch_size: int = 16) -> tuple[float, int]:
    """Top-1 of the saved model on every video of ``heldout_dir/<class>/`` (with its saved processor), and the
    model's parameter count."""
    from transformers import AutoModelForVideoClassification, AutoVideoProcessor

    model = AutoModelForVideoClassification.from_pretrained(model_dir).eval()
    processor = AutoVideoProcessor.from_pretrained(model_dir)
    videos = sorted(heldout_dir.glob("*/*.mp4"))
    correct = 0
    for start in range(0, len(videos), batch_size):
        batch = videos[start : start + batch_size]
        inputs = processor([str(v) for v in batch], return_tensors="pt")
        with torch.inference_mode():
            predicted = model(inputs["pixel_values"]).logits.argmax(-1).tolist()
        correct += sum(model.config.id2label[p] == v.parent.name for p, v in zip(predicted, batch))
    return correct / len(videos), sum(p.numel() for p in model.parameters())


def train_one(
    arch: Architecture, data_dir: Path, heldout_dir: Path, output_dir: Path, budget: Budget, **train_options
) -> Row:
    if not arch.small_config:
        return Row(arch.name, skipped="no small_config registered")
    config_overrides, processor_overrides = small_training_overrides(arch)
    start = time.perf_counter()
    result = train(
        TrainConfig(
            data_dir=data_dir,
            output_dir=output_dir,
            architecture=arch.name,
            config_overrides=config_overrides,
            processor_overrides=processor_overrides,
            epochs=budget.epochs,
            learning_rate=budget.learning_rate,
            batch_size=budget.batch_size,
            val_fraction=budget.val_fraction,
            seed=budget.seed,
            **train_options,
        )
    )
    seconds = time.perf_counter() - start
    accuracy, parameters = evaluate_saved(output_dir, heldout_dir, budget.batch_size)
    return Row(
        arch.name,
        parameters=parameters,
        training_seconds=seconds,
        heldout_top1=accuracy,
        validation_top1=result.metrics.get("eval_top1_accuracy"),
    )


def run_temporal_table(
    output_dir, archs: Sequence[Architecture] | None = None, budget: Budget = Budget(), **train_options
) -> list[Row]:
    """Train and score every architecture of ``archs`` (default: all registered), then write the table, JSON and
    chart into ``output_dir``. ``train_options``: further ``TrainConfig`` fields (e.g. ``show_progress``)."""
    output_dir = Path(output_dir)
    archs = architectures() if archs is None else archs
    data_dir = make_motion_dataset(output_dir / "data" / "train", budget.videos_per_class, budget.seed)
    heldout_dir = make_motion_dataset(output_dir / "data" / "heldout", budget.heldout_per_class, budget.seed + 1)
    rows = []
    for arch in archs:
        print(f"== {arch.name}", flush=True)
        rows.append(train_one(arch, data_dir, heldout_dir, output_dir / "models" / arch.name, budget, **train_options))
        write_outputs(rows, budget, output_dir)  # after every model, so a long run shows its progress
    return rows


def markdown_table(rows: list[Row], budget: Budget) -> str:
    lines = [
        f"Motion direction, {len(DIRECTIONS)} classes; {budget.videos_per_class} training and "
        f"{budget.heldout_per_class} held-out videos per class (16 frames of 64x64), {budget.epochs:g} epochs, "
        f"learning rate {budget.learning_rate:g}, batch {budget.batch_size}, seed {budget.seed}.",
        "",
        "| architecture | parameters | training time | held-out top-1 | chance |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        if row.skipped:
            lines.append(f"| {row.architecture} | skipped: {row.skipped} | | | {row.chance:.2f} |")
            continue
        lines.append(
            f"| {row.architecture} | {row.parameters / 1e6:.2f} M | {row.training_seconds / 60:.1f} min "
            f"| {row.heldout_top1:.2f} | {row.chance:.2f} |"
        )
    return "\n".join(lines) + "\n"


def bar_chart(rows: list[Row], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = [row for row in rows if not row.skipped]
    fig, axis = plt.subplots(figsize=(1.2 * max(len(trained), 3) + 1.5, 3.6), dpi=120)
    names = [row.architecture for row in trained]
    bars = axis.bar(names, [row.heldout_top1 for row in trained], color="tab:blue")
    axis.bar_label(bars, fmt="%.2f", fontsize=8)
    chance = rows[0].chance if rows else 1 / len(DIRECTIONS)
    axis.axhline(chance, color="tab:red", linestyle="--", label=f"chance ({chance:.2f})")
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("held-out top-1 accuracy")
    axis.set_title("Learning the direction of motion (same data and budget)")
    axis.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_outputs(rows: list[Row], budget: Budget, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{TABLE_NAME}.md").write_text(markdown_table(rows, budget), encoding="utf-8")
    payload = {"budget": asdict(budget), "rows": [asdict(row) for row in rows]}
    (output_dir / f"{TABLE_NAME}.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    bar_chart(rows, output_dir / f"{TABLE_NAME}.png")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Budget()
    parser.add_argument("--output", type=Path, default=Path("temporal_table_output"))
    parser.add_argument("--architectures", nargs="+", metavar="NAME", help="default: every registered one")
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False, help="progress bars")
    args = parser.parse_args(argv)
    budget = Budget(**{name: getattr(args, name) for name in asdict(defaults)})
    archs = [find_architecture(name) for name in args.architectures] if args.architectures else None
    rows = run_temporal_table(args.output, archs, budget, show_progress=args.progress)
    print(markdown_table(rows, budget))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
