"""The temporal table: which architectures learn motion that no single frame shows?

Every registered architecture (``hf_videomodels.registration.architectures()``) with a ``small_config`` is
trained from scratch (families with several models get one row per model: ``VARIANTS``, config overrides on top
of the small config) on the package's own motion videos (``demo.make_motion_dataset``: a square sliding in one
of four directions; any single frame is a square at a random place, so only the order of frames tells the
classes apart), with the code path of ``hf-videomodels train`` (``training.train`` with a ``TrainConfig``), the
same data, seed and budget (epochs) for every model, and the demo's processor settings (all 16 frames, no flip;
``demo.small_training_overrides``). Each model is then scored on held-out videos that training never saw.
Architectures without a ``small_config`` are listed as skipped.

Writes into ``--output``: one ``rows/<row>.json`` per trained row (with its budget), and, after every row, from
all row files of the same budget found there: ``temporal_table.md`` (architecture, parameters, training time,
held-out top-1, chance), ``temporal_table.json`` and ``temporal_table.png`` (bar chart of held-out top-1 with
the chance line); plus the data and the trained models. Several processes may share one ``--output`` (say, one
architecture each): the data is written once, and each table is built from every row finished so far.

    uv run python benchmarks/temporal_table.py [--architectures I3D TimeSformer] [--rows "ViViT model 2"]
        [--epochs 8] [--output DIR] [--resume] [--table-only]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from hf_videomodels.demo import DIRECTIONS, make_motion_dataset, small_training_overrides
from hf_videomodels.registration import Architecture, architectures, find_architecture
from hf_videomodels.training import TrainConfig, train

TABLE_NAME = "temporal_table"
ROWS_FOLDER = "rows"

# Families with several models: one row per model, the overrides on top of the registered small_config (which is
# the first row's model).
VARIANTS: dict[str, dict[str, dict]] = {
    "VideoResNet": {
        "R(2+1)D": {},
        "R3D": {"convolution": "3d", "stem_type": "basic"},
        "MC3": {"convolution": "mixed", "stem_type": "basic"},
    },
    "ViViT": {
        "model 1": {},
        "model 2": {"model_variant": "factorised_encoder"},
        "model 3": {"model_variant": "factorised_self_attention", "pooling": "gap"},
        "model 4": {"model_variant": "factorised_dot_product_attention", "pooling": "gap"},
    },
    "TimeSformer": {
        "divided": {},
        "joint": {"attention_type": "joint_space_time"},
        "space only": {"attention_type": "space_only"},
    },
}


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


@dataclass(frozen=True)
class Entry:
    """One row of the table: an architecture's small_config with a variant's config overrides on top."""

    architecture: Architecture
    variant: str | None = None
    config_overrides: Mapping = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.architecture.name} {self.variant}" if self.variant else self.architecture.name


def table_entries(archs: Sequence[Architecture]) -> list[Entry]:
    """The rows of ``archs``, in their order: one per ``VARIANTS`` entry of a family, else one."""
    return [
        Entry(arch, variant, overrides)
        for arch in archs
        for variant, overrides in VARIANTS.get(arch.name, {None: {}}).items()
    ]


@dataclass
class Row:
    architecture: str  # the row's name: the architecture, and the model of a family ("ViViT model 2")
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
    entry: Entry, data_dir: Path, heldout_dir: Path, output_dir: Path, budget: Budget, **train_options
) -> Row:
    arch = entry.architecture
    if not arch.small_config:
        return Row(entry.name, skipped="no small_config registered")
    config_overrides, processor_overrides = small_training_overrides(arch)
    config_overrides = {**config_overrides, **entry.config_overrides}
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
        entry.name,
        parameters=parameters,
        training_seconds=seconds,
        heldout_top1=accuracy,
        validation_top1=result.metrics.get("eval_top1_accuracy"),
    )


def shared_motion_dataset(root: Path, videos_per_class: int, seed: int) -> Path:
    """``demo.make_motion_dataset`` into ``root`` once: a process sharing the output folder reuses it (written
    aside, then renamed, so nobody reads half a data set)."""
    if root.is_dir():
        return root
    scratch = root.with_name(f"{root.name}.{os.getpid()}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    make_motion_dataset(scratch, videos_per_class, seed)
    try:
        scratch.rename(root)
    except OSError:  # another process finished the same data first
        shutil.rmtree(scratch)
    return root


def row_file(output_dir: Path, name: str) -> Path:
    return output_dir / ROWS_FOLDER / (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") + ".json")


def write_atomically(path: Path, write) -> None:
    """``write(temporary_path)``, then rename: processes sharing the output never see half a file."""
    scratch = path.with_name(f".{path.stem}.{os.getpid()}{path.suffix}")
    write(scratch)
    os.replace(scratch, path)


def finished_rows(output_dir: Path, budget: Budget) -> dict[str, Row]:
    """The rows of ``output_dir/rows/`` trained with ``budget`` (others are left out of its table)."""
    rows = {}
    for path in sorted((output_dir / ROWS_FOLDER).glob("*.json")):
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved["budget"] == asdict(budget):
            rows[saved["row"]["architecture"]] = Row(**saved["row"])
    return rows


def table_rows(output_dir: Path, budget: Budget, order: Sequence[str]) -> list[Row]:
    """Every finished row of ``budget``: those named in ``order`` first, in that order, then the others by name."""
    rows = finished_rows(output_dir, budget)
    rank = {name: index for index, name in enumerate(dict.fromkeys(order))}
    return [rows[name] for name in sorted(rows, key=lambda name: (rank.get(name, len(rank)), name))]


def run_temporal_table(
    output_dir,
    archs: Sequence[Architecture] | None = None,
    budget: Budget = Budget(),
    rows: Sequence[str] | None = None,
    resume: bool = False,
    **train_options,
) -> list[Row]:
    """Train and score every row of ``archs`` (default: all registered; ``rows``: only the rows of these names),
    then write the table, JSON and chart of every row of ``output_dir`` with this budget, including rows other
    runs left there. ``resume``: skip rows already finished there with this budget. ``train_options``: further
    ``TrainConfig`` fields (e.g. ``show_progress``). Returns the table's rows."""
    output_dir = Path(output_dir)
    archs = architectures() if archs is None else archs
    entries = table_entries(archs)
    if rows is not None:
        wanted = {name.lower() for name in rows}
        unknown = [name for name in rows if name.lower() not in {entry.name.lower() for entry in entries}]
        if unknown:
            known = ", ".join(entry.name for entry in entries)
            raise ValueError(f"unknown row(s) {', '.join(unknown)}; the rows are: {known}")
        entries = [entry for entry in entries if entry.name.lower() in wanted]
    order = [entry.name for entry in table_entries(architectures())] + [entry.name for entry in entries]
    data_dir = shared_motion_dataset(output_dir / "data" / "train", budget.videos_per_class, budget.seed)
    heldout_dir = shared_motion_dataset(output_dir / "data" / "heldout", budget.heldout_per_class, budget.seed + 1)
    (output_dir / ROWS_FOLDER).mkdir(parents=True, exist_ok=True)
    for entry in entries:
        if resume and entry.name in finished_rows(output_dir, budget):
            print(f"== {entry.name}: finished before, kept", flush=True)
            continue
        print(f"== {entry.name}", flush=True)
        row = train_one(entry, data_dir, heldout_dir, output_dir / "models" / entry.name, budget, **train_options)
        payload = json.dumps({"budget": asdict(budget), "row": asdict(row)}, indent=1)
        write_atomically(row_file(output_dir, entry.name), lambda path: path.write_text(payload, encoding="utf-8"))
        write_outputs(table_rows(output_dir, budget, order), budget, output_dir)  # so a long run shows its progress
    table = table_rows(output_dir, budget, order)
    write_outputs(table, budget, output_dir)
    return table


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
    fig, axis = plt.subplots(figsize=(0.75 * max(len(trained), 4) + 1.5, 4.2), dpi=120)
    names = [row.architecture for row in trained]
    bars = axis.bar(names, [row.heldout_top1 for row in trained], color="tab:blue")
    axis.tick_params(axis="x", labelrotation=40, labelsize=8)
    for label in axis.get_xticklabels():
        label.set_horizontalalignment("right")
    axis.bar_label(bars, fmt="%.2f", fontsize=8)
    chance = rows[0].chance if rows else 1 / len(DIRECTIONS)
    axis.axhline(chance, color="tab:red", linestyle="--", label=f"chance ({chance:.2f})")
    axis.set_ylim(0, 1.15)
    axis.set_ylabel("held-out top-1 accuracy")
    axis.set_title("Learning the direction of motion (same data and budget)")
    axis.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_outputs(rows: list[Row], budget: Budget, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows, budget)
    write_atomically(output_dir / f"{TABLE_NAME}.md", lambda path: path.write_text(table, encoding="utf-8"))
    payload = json.dumps({"budget": asdict(budget), "rows": [asdict(row) for row in rows]}, indent=1)
    write_atomically(output_dir / f"{TABLE_NAME}.json", lambda path: path.write_text(payload, encoding="utf-8"))
    write_atomically(output_dir / f"{TABLE_NAME}.png", lambda path: bar_chart(rows, path))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Budget()
    parser.add_argument("--output", type=Path, default=Path("temporal_table_output"))
    parser.add_argument("--architectures", nargs="+", metavar="NAME", help="default: every registered one")
    parser.add_argument("--rows", nargs="+", metavar="ROW", help='only these rows (e.g. "ViViT model 2")')
    parser.add_argument("--resume", action="store_true", help="skip rows already finished in --output")
    parser.add_argument(
        "--table-only", action="store_true", help="train nothing: rebuild the table from --output's rows"
    )
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False, help="progress bars")
    args = parser.parse_args(argv)
    budget = Budget(**{name: getattr(args, name) for name in asdict(defaults)})
    archs = [find_architecture(name) for name in args.architectures] if args.architectures else None
    if args.table_only:
        rows = table_rows(args.output, budget, [entry.name for entry in table_entries(architectures())])
        write_outputs(rows, budget, args.output)
    else:
        rows = run_temporal_table(
            args.output, archs, budget, rows=args.rows, resume=args.resume, show_progress=args.progress
        )
    print(markdown_table(rows, budget))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
