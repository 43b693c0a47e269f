"""The temporal table: which architectures learn motion that no single frame shows?

``hf-videomodels benchmark temporal`` (:func:`run_temporal_table`). Every registered architecture with a
``small_config`` is trained from scratch (families with several models get one row per model: ``VARIANTS``,
config overrides on top of the small config) on the package's own motion videos (``demo.make_motion_dataset``: a
square sliding in one of four directions; any single frame is a square at a random place, so only the order of
frames tells the classes apart), with the code path of ``hf-videomodels train`` (``training.train``), the same
data, seed and budget for every model, and the demo's processor settings (all 16 frames, no flip;
``demo.small_training_overrides``). Each model is then scored on held-out videos that training never saw, played
forwards and backwards (the same decoded frames in reverse order): a model that reads the direction flips its
predictions on reversed clips (its reversed top-1, against the forward labels, falls towards 0), while for a
per-frame model the order of frames cannot matter. Architectures without a ``small_config`` are listed as skipped.

Flow rows (``FLOW_VARIANTS``) train on optical flow: TSN's per-frame ResNet on flow clips instead of RGB frames
(the point of two-stream networks: a model with per-frame weights sees motion once its input holds it), and
two-stream TSN (that flow stream beside an RGB one, fused late). The flow is Farnebäck's
(:class:`~hf_videomodels.classical_flow.FarnebackFlow`, OpenCV; a RAFT needs trained weights), computed once per
video before training and cached in the output folder; without OpenCV the rows are skipped with the install
command.

Writes into the output folder: one ``rows/<row>.json`` per trained row (with its budget), and, after every row,
from all row files of the same budget found there: ``temporal_table.md``, ``temporal_table.json`` and
``temporal_table.png`` (held-out top-1 forwards and reversed, with the chance line); plus the data, the flow cache
and the trained models. Several processes may share one output folder (say, one row each): the data is written
once, and each table is built from every row finished so far.

Only the standard library is imported at the top, so the command line builds its options without torch.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .registration import Architecture, architectures, find_architecture

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
# Rows trained on optical flow (Farnebäck's), each with its config overrides on the registered small_config:
# - the per-frame TSN on flow clips: each frame's input is the flow field to the next frame (2 channels, x and y),
#   all 15 flow fields of the 16-frame clip;
# - two-stream TSN: TwoStream's small_config is TSN's small RGB stream and that flow stream, fused 1 : 1.5.
FLOW_VARIANTS: dict[str, dict[str, dict]] = {
    "TSN": {"flow stream": {"num_channels": 2, "num_frames": 15}},
    "TwoStream": {"TSN": {}},
}
# Architectures whose input includes flow: only their flow rows, no RGB row.
NEEDS_FLOW = ("TwoStream",)

# What the command trains without --rows / --all: per-frame models (RGB), models that relate frames, and the
# per-frame model on flow, which sees the motion again.
QUICK_ROWS = ("TSN", "ViT per frame", "I3D", "VideoSwin", "TSN flow stream")


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


# "table": the README's table. "quick": the default rows in a few minutes on two CPU cores, still far apart: 48
# steps instead of 96, at twice the learning rate (the 3D models reach ~0.95 there; at 1e-3 they need ~96 steps).
BUDGETS = {
    "quick": Budget(videos_per_class=40, heldout_per_class=10, epochs=6.0, learning_rate=2e-3),
    "table": Budget(),
}


@dataclass(frozen=True)
class Entry:
    """One row of the table: an architecture's small_config with a variant's config overrides on top; ``flow``: its
    input is (or includes) the optical flow of the videos, Farnebäck's."""

    architecture: Architecture
    variant: str | None = None
    config_overrides: Mapping = field(default_factory=dict)
    flow: bool = False

    @property
    def name(self) -> str:
        return f"{self.architecture.name} {self.variant}" if self.variant else self.architecture.name


def table_entries(archs: Sequence[Architecture]) -> list[Entry]:
    """The rows of ``archs``: one per ``VARIANTS`` entry of a family, else one, in their order; then the flow rows
    (``FLOW_VARIANTS``) of those of ``archs`` that have them (``NEEDS_FLOW``: only those)."""
    rgb = [
        Entry(arch, variant, overrides)
        for arch in archs
        if arch.name not in NEEDS_FLOW
        for variant, overrides in VARIANTS.get(arch.name, {None: {}}).items()
    ]
    flow = [
        Entry(arch, variant, overrides, flow=True)
        for arch in archs
        for variant, overrides in FLOW_VARIANTS.get(arch.name, {}).items()
    ]
    return rgb + flow


def select_entries(rows: Sequence[str] | None = None, archs: Sequence[Architecture] | None = None) -> list[Entry]:
    """The entries of ``archs`` (default: every registered architecture), only those named in ``rows`` if given
    (case-blind); an unknown row name is refused with the list of rows."""
    entries = table_entries(architectures() if archs is None else archs)
    if rows is None:
        return entries
    from .errors import UserInputError, suggest

    names = [entry.name for entry in entries]
    unknown = [name for name in rows if name.lower() not in {known.lower() for known in names}]
    if unknown:
        raise UserInputError(
            f"unknown row {unknown[0]!r}{suggest(unknown[0], names)}; the rows are: {', '.join(names)}"
        )
    wanted = {name.lower() for name in rows}
    return [entry for entry in entries if entry.name.lower() in wanted]


@dataclass
class Row:
    """One row's results (a row file, and a line of the table)."""

    architecture: str  # the row's name: the architecture, and the model of a family ("ViViT model 2")
    parameters: int | None = None
    training_seconds: float | None = None
    heldout_top1: float | None = None
    validation_top1: float | None = None
    chance: float | None = None
    skipped: str | None = None  # why it was not trained
    # Top-1 on the held-out clips played backwards, against their forward labels (None: not measured).
    reversed_top1: float | None = None


@dataclass(frozen=True)
class MotionData:
    """The table's videos, for training and held out; the cache of their flow."""

    train: Path
    heldout: Path
    flow_cache: Path

    def videos(self) -> list[Path]:
        return [video for folder in (self.train, self.heldout) for video in sorted(folder.glob("*/*.mp4"))]


def shared_folder(root: Path, make: Callable[[Path], object]) -> Path:
    """``make(folder)`` into ``root`` once: a process sharing the output folder reuses it (written aside, then
    renamed, so nobody reads half a data set)."""
    if root.is_dir():
        return root
    scratch = root.with_name(f"{root.name}.{os.getpid()}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    make(scratch)
    try:
        scratch.rename(root)
    except OSError:  # another process finished the same data first
        shutil.rmtree(scratch)
    return root


def motion_data(output_dir: Path, budget: Budget) -> MotionData:
    """The budget's videos under ``output_dir/data`` (written on first use; folders named by count and seed, so
    budgets sharing an output folder do not mix their data)."""
    from .demo import make_motion_dataset

    root = output_dir / "data"
    count, heldout, seed = budget.videos_per_class, budget.heldout_per_class, budget.seed

    def videos(name: str, per_class: int, data_seed: int) -> Path:
        folder = root / f"{name}-{per_class}-seed{data_seed}"
        return shared_folder(folder, lambda path: make_motion_dataset(path, per_class, data_seed))

    return MotionData(
        train=videos("train", count, seed), heldout=videos("heldout", heldout, seed + 1), flow_cache=root / "flow_cache"
    )


def evaluate_saved(
    model_dir: Path, heldout_dir: Path, batch_size: int = 16, reverse: bool = False, **processor_options
) -> tuple[float, int]:
    """Top-1 of the saved model on every video of ``heldout_dir/<class>/`` (with its saved processor, called with
    ``processor_options``), and the model's parameter count. ``reverse``: each video's decoded frames in reverse
    order, scored against the forward label (flow is then computed from the reversed frames, not cached)."""
    import torch
    from transformers import AutoModelForVideoClassification, AutoVideoProcessor

    from .video_io import read_video

    model = AutoModelForVideoClassification.from_pretrained(model_dir).eval()
    processor = AutoVideoProcessor.from_pretrained(model_dir)
    videos = sorted(heldout_dir.glob("*/*.mp4"))
    correct = 0
    for start in range(0, len(videos), batch_size):
        batch = videos[start : start + batch_size]
        clips = [read_video(video)[0][::-1].copy() for video in batch] if reverse else [str(v) for v in batch]
        inputs = processor(clips, return_tensors="pt", **processor_options)
        inputs = {name: value for name, value in inputs.items() if isinstance(value, torch.Tensor)}  # flow too
        with torch.inference_mode():
            predicted = model(**inputs).logits.argmax(-1).tolist()
        correct += sum(model.config.id2label[p] == v.parent.name for p, v in zip(predicted, batch))
    return correct / len(videos), sum(p.numel() for p in model.parameters())


def flow_start(
    entry: Entry, overrides: tuple[dict, dict], data: MotionData, folder: Path, seed: int, show_progress: bool
):
    """What training a flow row needs: a fresh model with its flow-taking processor saved in ``folder``
    (``training.train`` builds from-scratch models with their architecture's own processor, which for a per-frame
    model takes RGB; so the flow row starts from this folder instead, its weights the seeded initialisation the RGB
    rows get), and the processor options that give it Farnebäck flow from the cache. ``overrides``: the config and
    processor overrides of the row. Computes the flow of every video of ``data`` into the cache first."""
    from tqdm.auto import tqdm
    from transformers import set_seed

    from .classical_flow import FarnebackFlow
    from .demo import DIRECTIONS
    from .flow_processing import FlowVideoProcessor

    config_overrides, processor_overrides = overrides
    flow_options = {"flow_model": FarnebackFlow(), "flow_cache_dir": str(data.flow_cache)}
    arch = entry.architecture
    labels = dict(enumerate(sorted(DIRECTIONS)))  # as training.load_video_folder orders the class folders
    set_seed(seed)
    config = arch.config_class(
        num_labels=len(labels), id2label=labels, label2id={v: k for k, v in labels.items()}, **config_overrides
    )
    if "flow_values" in arch.classification_class.video_input_names:  # two-stream: RGB clips, and flow
        processor = arch.video_processor_class.for_model_config(config, **processor_overrides)
    else:  # a per-frame model on flow clips: one flow field per frame
        clip = {**processor_overrides, "num_frames": config.num_frames}
        processor = FlowVideoProcessor(**clip, mode="clip", input_name="pixel_values")
    arch.classification_class(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    # The processor computes a video's flow once, for every frame pair, and keeps it in the cache.
    for video in tqdm(data.videos(), desc="Farneback flow", unit="video", disable=not show_progress, leave=False):
        processor(str(video), **flow_options)
    return folder, flow_options


def train_one(entry: Entry, data: MotionData, output_dir: Path, budget: Budget, show_progress: bool = False) -> Row:
    """Train ``entry``'s model on ``data`` with ``budget`` into ``output_dir`` and score it, forwards and reversed."""
    from .classical_flow import OpenCVMissingError
    from .demo import DIRECTIONS, small_training_overrides
    from .training import TrainConfig, train

    arch = entry.architecture
    chance = 1 / len(DIRECTIONS)
    if not arch.small_config:
        return Row(entry.name, chance=chance, skipped="no small_config registered")
    config_overrides, processor_overrides = small_training_overrides(arch)
    config_overrides = {**config_overrides, **entry.config_overrides}
    start_from = {"architecture": arch.name, "config_overrides": config_overrides}
    processor_options = {}
    if entry.flow:
        overrides = (config_overrides, processor_overrides)
        try:
            folder, processor_options = flow_start(
                entry, overrides, data, output_dir / "initial_weights", budget.seed, show_progress
            )
        except OpenCVMissingError as missing:
            return Row(entry.name, chance=chance, skipped=str(missing))
        start_from, processor_overrides = {"model": str(folder)}, processor_options
    start = time.perf_counter()
    result = train(
        TrainConfig(
            data_dir=data.train,
            output_dir=output_dir,
            **start_from,
            processor_overrides=processor_overrides,
            epochs=budget.epochs,
            learning_rate=budget.learning_rate,
            batch_size=budget.batch_size,
            val_fraction=budget.val_fraction,
            seed=budget.seed,
            show_progress=show_progress,
        )
    )
    seconds = time.perf_counter() - start
    accuracy, parameters = evaluate_saved(output_dir, data.heldout, budget.batch_size, **processor_options)
    reversed_accuracy, _ = evaluate_saved(
        output_dir, data.heldout, budget.batch_size, reverse=True, **processor_options
    )
    return Row(
        entry.name,
        parameters=parameters,
        training_seconds=seconds,
        heldout_top1=accuracy,
        validation_top1=result.metrics.get("eval_top1_accuracy"),
        chance=chance,
        reversed_top1=reversed_accuracy,
    )


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


def table_rows(output_dir: Path, budget: Budget, order: Sequence[str] = ()) -> list[Row]:
    """Every finished row of ``budget``: those named in ``order`` first, in that order, then the others by name.
    The default order is the registered one (every architecture's rows, then the flow rows)."""
    order = [*order, *(entry.name for entry in table_entries(architectures()))]
    rows = finished_rows(output_dir, budget)
    rank = {name: index for index, name in enumerate(dict.fromkeys(order))}
    return [rows[name] for name in sorted(rows, key=lambda name: (rank.get(name, len(rank)), name))]


def run_temporal_table(
    output_dir,
    archs: Sequence[Architecture] | None = None,
    budget: Budget = BUDGETS["table"],
    rows: Sequence[str] | None = None,
    resume: bool = False,
    show_progress: bool = True,
) -> list[Row]:
    """Train and score every row of ``archs`` (default: all registered; ``rows``: only the rows of these names),
    then write the table, JSON and chart of every row of ``output_dir`` with this budget, including rows other
    runs left there. ``resume``: skip rows already finished there with this budget (not those skipped before).
    ``show_progress``: a progress bar over the rows, and the training's inside. Returns the table's rows."""
    from transformers.utils import logging as transformers_logging

    output_dir = Path(output_dir)
    entries = select_entries(rows, archs)
    # Only the rows' and the training steps' bars: not one per model saved and loaded.
    loading_bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        table = _train_rows(entries, output_dir, budget, resume, show_progress)
    finally:
        if loading_bars:
            transformers_logging.enable_progress_bar()
    return table


def _train_rows(entries: list[Entry], output_dir: Path, budget: Budget, resume: bool, show_progress: bool) -> list[Row]:
    from tqdm.auto import tqdm

    data = motion_data(output_dir, budget)
    (output_dir / ROWS_FOLDER).mkdir(parents=True, exist_ok=True)
    bar = tqdm(entries, desc="temporal table", unit="row", disable=not show_progress)
    for entry in bar:
        bar.set_postfix_str(entry.name)
        earlier = finished_rows(output_dir, budget).get(entry.name)
        if resume and earlier is not None and not earlier.skipped:
            tqdm.write(f"== {entry.name}: finished before, kept")
            continue
        row = train_one(entry, data, output_dir / "models" / entry.name, budget, show_progress=show_progress)
        tqdm.write(f"== {describe_row(row)}")
        payload = json.dumps({"budget": asdict(budget), "row": asdict(row)}, indent=1)
        write_atomically(row_file(output_dir, entry.name), lambda path, text=payload: path.write_text(text, "utf-8"))
        write_outputs(table_rows(output_dir, budget), budget, output_dir)  # so a long run shows its progress
    table = table_rows(output_dir, budget)
    write_outputs(table, budget, output_dir)
    return table


def describe_row(row: Row) -> str:
    if row.skipped:
        return f"{row.architecture}: skipped ({row.skipped})"
    reversed_part = f", reversed {row.reversed_top1:.2f}" if row.reversed_top1 is not None else ""
    return (
        f"{row.architecture}: held-out top-1 {row.heldout_top1:.2f}{reversed_part} "
        f"(chance {row.chance:.2f}; trained in {row.training_seconds / 60:.1f} min)"
    )


def _cell(value: float | None, text: str = "{:.2f}") -> str:
    return "" if value is None else text.format(value)


def markdown_table(rows: list[Row], budget: Budget) -> str:
    lines = [
        (
            f"Motion direction, 4 classes; {budget.videos_per_class} training and {budget.heldout_per_class} held-out "
            f"videos per class (16 frames of 64x64), {budget.epochs:g} epochs, learning rate {budget.learning_rate:g}, "
            f"batch {budget.batch_size}, seed {budget.seed}. Reversed: the held-out clips played backwards, scored "
            "against their forward labels. Flow rows: Farneback optical flow (OpenCV) of the same videos."
        ),
        "",
        "| architecture | parameters | training time | held-out top-1 | reversed top-1 | chance |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        if row.skipped:
            lines.append(f"| {row.architecture} | skipped: {row.skipped} | | | | {_cell(row.chance)} |")
            continue
        lines.append(
            f"| {row.architecture} | {row.parameters / 1e6:.2f} M | {row.training_seconds / 60:.1f} min "
            f"| {row.heldout_top1:.2f} | {_cell(row.reversed_top1)} | {_cell(row.chance)} |"
        )
    return "\n".join(lines) + "\n"


def bar_chart(rows: list[Row], budget: Budget, path: Path) -> Path:
    """Held-out top-1 per row, forwards and (where measured) on the reversed clips, with the chance line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    trained = [row for row in rows if not row.skipped]
    fig, axis = plt.subplots(figsize=(0.85 * max(len(trained), 4) + 1.5, 4.4), dpi=120)
    positions = np.arange(len(trained))
    width = 0.4
    forward = axis.bar(positions - width / 2, [row.heldout_top1 for row in trained], width, color="tab:blue")
    axis.bar_label(forward, fmt="%.2f", fontsize=7)
    measured = [(index, row.reversed_top1) for index, row in enumerate(trained) if row.reversed_top1 is not None]
    if measured:
        where, values = zip(*measured)
        backward = axis.bar(np.asarray(where) + width / 2, values, width, color="tab:orange")
        axis.bar_label(backward, fmt="%.2f", fontsize=7)
    axis.set_xticks(positions, [row.architecture for row in trained], rotation=40, ha="right", fontsize=8)
    chance = next((row.chance for row in rows if row.chance is not None), 0.25)
    axis.axhline(chance, color="tab:red", linestyle="--", zorder=0)
    axis.legend(
        handles=[
            plt.Rectangle((0, 0), 1, 1, color="tab:blue", label="held-out clips"),
            plt.Rectangle((0, 0), 1, 1, color="tab:orange", label="the same clips reversed"),
            plt.Line2D([], [], color="tab:red", linestyle="--", label=f"chance ({chance:.2f})"),
        ],
        loc="upper center",
        ncol=3,
        fontsize=7,
    )
    axis.set_ylim(0, 1.3)  # room for the legend above the bars
    axis.set_yticks(np.arange(0, 1.01, 0.2))
    axis.set_ylabel("top-1 accuracy (forward labels)")
    axis.set_title(
        f"Learning the direction of motion: {budget.videos_per_class} training videos per class, "
        f"{budget.epochs:g} epochs",
        fontsize=10,
    )
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
    write_atomically(output_dir / f"{TABLE_NAME}.png", lambda path: bar_chart(rows, budget, path))


# ------------------------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``hf-videomodels benchmark temporal``."""
    parser.add_argument("--output", type=Path, default=Path("temporal_table_output"), help="folder for everything")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--rows", nargs="+", metavar="ROW", help=f'these rows (e.g. "ViViT model 2"); default: {", ".join(QUICK_ROWS)}'
    )
    which.add_argument("--all", action="store_true", help="every row (at the table budget unless --budget says)")
    which.add_argument("--architectures", nargs="+", metavar="NAME", help="every row of these architectures")
    parser.add_argument(
        "--budget",
        choices=list(BUDGETS),
        help="data and training budget: quick (minutes) or table (the README's); default: table with --all, "
        "else quick. "
        + "; ".join(
            f"{name}: {b.videos_per_class}+{b.heldout_per_class} videos per class, {b.epochs:g} epochs"
            for name, b in BUDGETS.items()
        ),
    )
    for spec in fields(Budget):
        parser.add_argument(
            f"--{spec.name.replace('_', '-')}", type=type(spec.default), help="overrides the --budget's value"
        )
    parser.add_argument("--resume", action="store_true", help="skip rows already finished in --output")
    parser.add_argument(
        "--table-only", action="store_true", help="train nothing: rebuild the table from --output's rows of the budget"
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars")


def budget_from_args(args: argparse.Namespace) -> Budget:
    preset = BUDGETS[args.budget or ("table" if args.all else "quick")]
    given = {spec.name: getattr(args, spec.name) for spec in fields(Budget) if getattr(args, spec.name) is not None}
    return Budget(**{**asdict(preset), **given})


def run_from_args(args: argparse.Namespace) -> list[Row]:
    """``hf-videomodels benchmark temporal``: train the rows asked for (or rebuild the table), print the table."""
    budget = budget_from_args(args)
    if args.table_only:
        rows = table_rows(args.output, budget)
        write_outputs(rows, budget, args.output)
    else:
        archs = [find_architecture(name) for name in args.architectures] if args.architectures else None
        if args.all or archs:
            wanted = None
        else:
            wanted = args.rows or QUICK_ROWS
        rows = run_temporal_table(
            args.output, archs, budget, rows=wanted, resume=args.resume, show_progress=args.progress
        )
    print(markdown_table(rows, budget))
    print(f"table, JSON and chart: {args.output / TABLE_NAME}.md, .json, .png")
    return rows


__all__ = [
    "BUDGETS",
    "FLOW_VARIANTS",
    "QUICK_ROWS",
    "VARIANTS",
    "Budget",
    "Entry",
    "Row",
    "run_temporal_table",
    "table_entries",
]
