"""Evaluating a video classifier on a video data set with its checkpoint's own multi-view test protocol.

``evaluate_model`` classifies every video of the data's validation split (the official one of UCF101, HMDB51,
Kinetics and Something-Something v2, or ``validation/`` beside ``train/``; every video of a plain folder of class
sub-folders) and writes what a person checks a model by:

- ``results.json``: top-1, top-5 (with more than five labels) and mean class accuracy, the protocol, the model,
  the data and the counts (videos listed, evaluated, skipped as unreadable, each skipped file named);
- ``per_class.csv``: per class its support, accuracy and the class it is most often mistaken for;
- ``confusion_matrix.png``: the whole matrix with its labels for a few classes, a heat map and the most confused
  pairs for many;
- ``predictions.csv``: each video's label, prediction and its probability (as the pipeline reports it).

The protocol is the video processor's: ``num_clips`` x ``num_crops`` views per video, and ``view_fusion``, how
the views' scores are combined ("logits": average the logits, as the models' forward does; "softmax": average
the class probabilities). The converters save each checkpoint's original protocol there; every part can be
overridden. The views are folded into the batch, so the per-view logits are available to either fusion.

The data's classes are matched to the model's labels by name (case, "_" and spaces aside): a model fine-tuned
with ``hf-videomodels train`` on the same folders, or a Kinetics model on Kinetics class folders, just works; a
class the model does not know is refused, naming it.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import evaluate
import numpy as np
import torch
from transformers import AutoConfig, AutoModelForVideoClassification, AutoVideoProcessor

from .errors import UserInputError
from .hub import resolve_model_reference
from .metrics import MEAN_CLASS_ACCURACY, TOP_K_ACCURACY
from .model_card import describe_protocol, replace_evaluation_section
from .modeling_utils import fuse_views, view_logits
from .registration import BY_MODEL_TYPE
from .training import TOP_K, processor_summary
from .video_datasets import load_video_folder
from .video_io import VideoDecodingError
from .video_processing_utils import VideoClipProcessor, model_input_tensors

logger = logging.getLogger(__name__)

PROTOCOL_KEYS = ("num_clips", "num_crops", "view_fusion")
# Up to this many classes the confusion matrix is drawn whole, with its labels and counts; beyond, a heat map.
LABELLED_MATRIX_CLASSES = 30
MOST_CONFUSED_PAIRS = 20


@dataclass
class EvaluationResult:
    output_dir: Path
    metrics: dict  # top1_accuracy, top5_accuracy (more than five labels), mean_class_accuracy
    protocol: dict  # num_clips, num_crops, views, view_fusion; overridden (names) and saved (the processor's own)
    num_videos: int  # videos evaluated
    unreadable_videos: list[Path] = field(default_factory=list)  # skipped, each named in a warning
    files: dict[str, Path] = field(default_factory=dict)  # results, per_class, confusion_matrix, predictions


# ---------------------------------------------------------------------------------------------- model and protocol


def load_classifier(reference, device: str | None = None):
    """The video classifier and its video processor named by ``reference`` (a model folder or Hub repo), in eval
    mode on ``device``. A model that does not classify videos (RAFT) and a processor without this package's
    multi-view settings are refused."""
    reference = resolve_model_reference(reference)
    config = AutoConfig.from_pretrained(reference)
    arch = BY_MODEL_TYPE.get(config.model_type)
    if arch is not None and arch.classification_class is None:
        raise UserInputError(f"{reference} is a {arch.name} model, which does not classify videos: nothing to evaluate")
    try:
        model = AutoModelForVideoClassification.from_pretrained(reference)
    except ValueError as error:
        if "Unrecognized configuration class" not in str(error):
            raise
        raise UserInputError(f"{reference} ({config.model_type}) is not a video classification model") from None
    processor = AutoVideoProcessor.from_pretrained(reference)
    if not isinstance(processor, VideoClipProcessor):
        raise UserInputError(
            f"{reference}'s video processor is a {type(processor).__name__}; evaluate needs one of this package's "
            "(it sets the multi-view protocol: num_clips, num_crops, view_fusion)"
        )
    return model.to(device or "cpu").eval(), processor


def evaluation_processor(processor: VideoClipProcessor, **overrides) -> tuple[VideoClipProcessor, dict]:
    """``processor`` with the protocol ``overrides`` given (None: the saved setting), and the protocol as a dict
    (``num_clips``, ``num_crops``, ``views``, ``view_fusion``; ``overridden``: the settings changed here, and
    ``saved``: the processor's own three)."""
    unknown = set(overrides) - set(PROTOCOL_KEYS)
    if unknown:
        raise TypeError(f"unknown protocol setting(s) {sorted(unknown)}; expected {PROTOCOL_KEYS}")
    given = {key: value for key, value in overrides.items() if value is not None}
    saved = {key: getattr(processor, key) for key in PROTOCOL_KEYS}
    if given:
        settings = {key: value for key, value in processor.to_dict().items() if key != "video_processor_type"}
        try:
            processor = type(processor)(**{**settings, **given})
        except ValueError as error:  # e.g. several clips under segment sampling, which covers the whole video
            raise UserInputError(f"this model's processor cannot take {given}: {error}") from None
    protocol = {key: getattr(processor, key) for key in PROTOCOL_KEYS}
    protocol["views"] = protocol["num_clips"] * protocol["num_crops"]
    protocol["overridden"] = sorted(key for key, value in given.items() if value != saved[key])
    protocol["saved"] = saved
    return processor, protocol


def label_key(name) -> str:
    """A class name as matched between data folders and a model's labels: case, "_" and runs of spaces aside."""
    return " ".join(str(name).replace("_", " ").split()).casefold()


def model_label_ids(class_names: list[str], id2label: dict) -> np.ndarray:
    """The model's label id of each data class, matched by :func:`label_key`; a class the model does not know is
    refused, with the model's labels."""
    by_key: dict[str, list[int]] = {}
    for label_id, name in id2label.items():
        by_key.setdefault(label_key(name), []).append(int(label_id))
    unknown = [name for name in class_names if label_key(name) not in by_key]
    if unknown:
        known = [id2label[i] for i in sorted(id2label)]
        shown = ", ".join(map(str, known[:20])) + (f", ... ({len(known) - 20} more)" if len(known) > 20 else "")
        raise UserInputError(
            f"{len(unknown)} class folder(s) of the data are not labels of the model: {', '.join(unknown[:10])}; "
            f"the model's labels: {shown}"
        )
    ambiguous = [name for name in class_names if len(by_key[label_key(name)]) > 1]
    if ambiguous:
        raise UserInputError(f"class(es) {ambiguous} match several of the model's labels; rename the folders")
    return np.array([by_key[label_key(name)][0] for name in class_names], dtype=np.int64)


# -------------------------------------------------------------------------------------------------------- scores


class _VideoViews(torch.utils.data.Dataset):
    """Each video's evaluation views as the processor makes them, or the decoding error (the video is skipped)."""

    def __init__(self, paths: list[str], processor: VideoClipProcessor):
        self.paths, self.processor = paths, processor

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        try:
            inputs = self.processor(self.paths[index], return_tensors="pt")
        except VideoDecodingError as error:
            return {"index": index, "error": str(error)}
        return {"index": index, "inputs": {name: value[0] for name, value in model_input_tensors(inputs).items()}}


def _collate(items: list[dict]) -> list[dict]:
    return items  # stacked in predict, after the undecodable videos are set aside


@torch.inference_mode()
def predict(
    model,
    processor: VideoClipProcessor,
    paths: list[str],
    view_fusion: str,
    batch_size: int = 1,
    num_workers: int = 0,
    show_progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Fused scores ``(evaluated videos, labels)``, the indices into ``paths`` they belong to, and the videos that
    could not be decoded ``{index: error}`` (each also named in a warning)."""
    from tqdm.auto import tqdm

    loader = torch.utils.data.DataLoader(
        _VideoViews(paths, processor), batch_size=batch_size, num_workers=num_workers, collate_fn=_collate
    )
    device = next(model.parameters()).device
    scores, kept, failed = [], [], {}
    with tqdm(total=len(paths), unit="video", desc="evaluating", disable=not show_progress) as bar:
        for items in loader:
            for item in items:
                if "error" in item:
                    failed[item["index"]] = item["error"]
                    logger.warning("skipping a video that cannot be decoded: %s", item["error"])
            good = [item for item in items if "inputs" in item]
            if good:
                names = good[0]["inputs"]
                inputs = {name: torch.stack([item["inputs"][name] for item in good]).to(device) for name in names}
                scores.append(fuse_views(*view_logits(model, inputs), view_fusion).cpu())
                kept += [item["index"] for item in good]
            bar.update(len(items))
    num_labels = model.config.num_labels
    fused = torch.cat(scores).numpy() if scores else np.zeros((0, num_labels), dtype=np.float32)
    return fused, np.asarray(kept, dtype=np.int64), failed


# ------------------------------------------------------------------------------------------------------- metrics


def accuracy_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Top-1, top-5 (for more than five labels) and mean class accuracy, with the package's ``evaluate`` metrics."""
    num_labels = scores.shape[1]
    top_k = evaluate.load(TOP_K_ACCURACY)
    results = {}
    for k in (k for k in TOP_K if k < num_labels):  # with k labels or fewer, top-k is always 1
        results.update(top_k.compute(predictions=scores, references=labels, k=k))
    mean_class = evaluate.load(MEAN_CLASS_ACCURACY)
    results.update(mean_class.compute(predictions=scores.argmax(axis=1), references=labels))
    return results


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_labels: int) -> np.ndarray:
    """Counts ``[true label, predicted label]``."""
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def most_confused_pairs(matrix: np.ndarray, names: list[str], limit: int = MOST_CONFUSED_PAIRS) -> list[dict]:
    """The off-diagonal cells with the most videos: ``{"true", "predicted", "count", "fraction"}`` (of the true
    class's videos), most first."""
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    cells = np.argwhere(off_diagonal > 0)
    order = sorted(cells.tolist(), key=lambda cell: (-off_diagonal[cell[0], cell[1]], cell[0], cell[1]))[:limit]
    support = matrix.sum(axis=1)
    return [
        {
            "true": names[t],
            "predicted": names[p],
            "count": int(matrix[t, p]),
            "fraction": float(matrix[t, p] / support[t]),
        }
        for t, p in order
    ]


def per_class_rows(matrix: np.ndarray, names: list[str], class_ids: np.ndarray) -> list[dict]:
    """One row per data class: support, correct, accuracy, and the class it is most often predicted as instead."""
    rows = []
    for label in class_ids:
        row = matrix[label]
        support, correct = int(row.sum()), int(row[label])
        mistakes = row.copy()
        mistakes[label] = 0
        confused = int(mistakes.argmax())
        rows.append(
            {
                "class": names[label],
                "support": support,
                "correct": correct,
                "accuracy": correct / support if support else float("nan"),
                "most_confused_with": names[confused] if mistakes[confused] else "",
                "confused_count": int(mistakes[confused]),
            }
        )
    return rows


# ------------------------------------------------------------------------------------------------------ pictures


def plot_confusion_matrix(matrix: np.ndarray, names: list[str], path, title: str = "Confusion matrix") -> Path:
    """Rows: true classes with videos; columns: the classes predicted or true. Colour: the fraction of the row.
    Up to ``LABELLED_MATRIX_CLASSES`` classes: every label and count written in; beyond, a heat map beside the
    list of the most confused pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    support = matrix.sum(axis=1)
    rows = np.flatnonzero(support)
    columns = np.flatnonzero(support + matrix.sum(axis=0))
    shown = matrix[np.ix_(rows, columns)]
    fractions = shown / support[rows, None]
    if len(columns) <= LABELLED_MATRIX_CLASSES:
        side = max(4.0, 0.45 * len(columns) + 2.5)
        fig, axis = plt.subplots(figsize=(side + 1, side), dpi=120)
        image = axis.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
        for (i, j), count in np.ndenumerate(shown):
            if count:
                colour = "white" if fractions[i, j] > 0.5 else "black"
                axis.text(j, i, str(count), ha="center", va="center", color=colour, fontsize=8)
        axis.set_xticks(range(len(columns)), [names[c] for c in columns], rotation=60, ha="right", fontsize=8)
        axis.set_yticks(range(len(rows)), [names[r] for r in rows], fontsize=8)
        axis.set_xlabel("predicted class")
        axis.set_ylabel("true class")
    else:
        fig, (axis, text_axis) = plt.subplots(1, 2, figsize=(15, 8), dpi=110, width_ratios=(1.3, 1))
        image = axis.imshow(fractions, cmap="viridis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        axis.set_xlabel(f"predicted class ({len(columns)}, by label id)")
        axis.set_ylabel(f"true class ({len(rows)}, by label id)")
        pairs = most_confused_pairs(matrix, names)
        lines = [f"{p['count']:>4}  {p['true']} → {p['predicted']}" for p in pairs] or ["no mistakes"]
        text_axis.axis("off")
        text_axis.set_title("Most confused pairs (videos, true → predicted)", fontsize=10, loc="left")
        text_axis.text(0, 1, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=8)
    fig.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="fraction of the true class's videos")
    axis.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


# ---------------------------------------------------------------------------------------------------- the run


def evaluate_model(
    model_reference,
    data_dir,
    output_dir="evaluation",
    *,
    num_clips: int | None = None,
    num_crops: int | None = None,
    view_fusion: str | None = None,
    batch_size: int = 1,
    num_workers: int = 0,
    device: str | None = None,
    update_card: bool = False,
    show_progress: bool = True,
    layout: str = "auto",
    split: int = 1,
    annotations=None,
) -> EvaluationResult:
    """Evaluate ``model_reference`` on ``data_dir`` (see the module docstring) and write the results to
    ``output_dir``. ``num_clips`` / ``num_crops`` / ``view_fusion`` override the processor's protocol (None: the
    saved one); ``batch_size`` counts videos (each brings all its views). ``update_card`` writes the measured
    numbers and the protocol into the model folder's README.md (its evaluation section, replaced on every run).
    ``layout``, ``split`` and ``annotations`` say how the data is organised (``video_datasets.load_video_folder``:
    class folders, UCF101 and HMDB51 with their official split ``split``, Kinetics, Something-Something v2)."""
    started = time.perf_counter()
    if num_workers < 0:
        raise UserInputError(f"--num-workers must be at least 0, got {num_workers}")
    if update_card and not Path(str(model_reference)).expanduser().is_dir():
        raise UserInputError("--update-card writes the model folder's README.md: give a local model folder")
    model, processor = load_classifier(model_reference, device)
    processor, protocol = evaluation_processor(
        processor, num_clips=num_clips, num_crops=num_crops, view_fusion=view_fusion
    )
    folder = load_video_folder(data_dir, 0, 0, layout=layout, split=split, annotations=annotations)
    split = "validation" if "validation" in folder.splits else "all"
    videos = folder.splits["validation" if split == "validation" else "train"]
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    label_ids = model_label_ids(folder.class_names, model.config.id2label)
    paths = list(videos["video"])
    labels = label_ids[np.asarray(videos["label"], dtype=np.int64)]

    scores, kept, failed = predict(
        model, processor, paths, protocol["view_fusion"], batch_size, num_workers, show_progress
    )
    if not len(kept):
        raise UserInputError(f"none of the {len(paths)} videos of {data_dir} could be decoded")
    labels = labels[kept]
    predicted = scores.argmax(axis=1)
    metrics = accuracy_metrics(scores, labels)
    matrix = confusion_matrix(labels, predicted, len(names))
    # What the pipeline reports: the averaged probabilities, or the softmax of the averaged logits.
    probabilities = scores if protocol["view_fusion"] == "softmax" else torch.from_numpy(scores).softmax(-1).numpy()
    unreadable = [*folder.unreadable, *(Path(paths[i]) for i in sorted(failed))]

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "results": output_dir / "results.json",
        "per_class": output_dir / "per_class.csv",
        "confusion_matrix": output_dir / "confusion_matrix.png",
        "predictions": output_dir / "predictions.csv",
    }
    class_rows = per_class_rows(matrix, names, np.unique(labels))
    _write_csv(files["per_class"], class_rows)
    _write_csv(
        files["predictions"],
        [
            {
                "video": paths[index],
                "label": names[label],
                "predicted": names[guess],
                "probability": float(row[guess]),
                "correct": int(label == guess),
            }
            for index, label, guess, row in zip(kept, labels, predicted, probabilities)
        ],
    )
    title = f"{Path(data_dir).name}: top-1 {metrics['top1_accuracy']:.3f}"
    plot_confusion_matrix(matrix, names, files["confusion_matrix"], title=title)
    results = {
        "model": str(model_reference),
        "architecture": type(model).__name__,
        "data": str(data_dir),
        "split": split,
        "metrics": metrics,
        "protocol": protocol,
        "preprocessing": processor_summary(processor),
        "counts": {
            "videos_listed": len(paths) + len(folder.unreadable),
            "videos_evaluated": int(len(kept)),
            "unreadable_videos": len(unreadable),
            "classes_in_data": len(folder.class_names),
            "model_labels": len(names),
        },
        "unreadable_videos": [str(path) for path in unreadable],
        "most_confused": most_confused_pairs(matrix, names),
        "seconds": round(time.perf_counter() - started, 2),
    }
    files["results"].write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    if update_card:
        card = Path(str(model_reference)).expanduser() / "README.md"
        files["model_card"] = card
        text = card.read_text(encoding="utf-8") if card.is_file() else ""
        card.write_text(replace_evaluation_section(text, card_section(results)), encoding="utf-8")
    return EvaluationResult(
        output_dir=output_dir,
        metrics=metrics,
        protocol=protocol,
        num_videos=int(len(kept)),
        unreadable_videos=unreadable,
        files=files,
    )


def card_section(results: dict) -> str:
    """The model card's evaluation section for a ``results.json`` dict: the measured numbers and the protocol."""
    metrics, protocol, counts = results["metrics"], results["protocol"], results["counts"]
    rows = ["| metric | value |", "| --- | --- |"]
    rows += [f"| {name.replace('_', ' ')} | {value:.4f} |" for name, value in metrics.items()]
    how = describe_protocol(protocol["num_clips"], protocol["num_crops"], protocol["view_fusion"])
    which = "the validation split" if results["split"] == "validation" else "every video"
    if protocol["overridden"]:
        saved = protocol["saved"]
        saved_how = describe_protocol(saved["num_clips"], saved["num_crops"], saved["view_fusion"])
        source = f"set for this run; the video processor saves {saved_how}"
    else:
        source = "the video processor's own"
    text = (
        f"Measured with `hf-videomodels evaluate` on {counts['videos_evaluated']} videos of "
        f"{counts['classes_in_data']} classes ({which} of `{Path(results['data']).name}`).\n\n"
        + "\n".join(rows)
        + "\n\n"
        f"Protocol: {how} ({source})."
    )
    if counts["unreadable_videos"]:
        text += f" {counts['unreadable_videos']} unreadable video file(s) were skipped."
    return text


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        if rows:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
