"""Fine-tuning any registered architecture on a folder of videos, with transformers' ``Trainer``.

Data layout: ``DATA_DIR/<class name>/<video files>`` (split into train/validation here, stratified), or
``DATA_DIR/train/<class>/...`` plus ``DATA_DIR/validation/<class>/...`` (also ``val`` or ``test``).
Videos are listed into a ``datasets.Dataset`` and decoded on the fly by the model's video processor:
random temporal jitter and spatial augmentation for training, the deterministic evaluation recipe otherwise.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import evaluate
import numpy as np
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import (
    AutoModelForVideoClassification,
    AutoVideoProcessor,
    Trainer,
    TrainingArguments,
    set_seed,
)

from .hub import save_model_folder
from .metrics import TOP_K_ACCURACY
from .model_card import render_model_card
from .registration import find_architecture

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".gif", ".ogv"}
VALIDATION_SPLIT_NAMES = ("validation", "val", "test")


@dataclass
class TrainConfig:
    data_dir: Path
    output_dir: Path
    model: str | None = None  # a folder or Hub repo to fine-tune ...
    architecture: str | None = None  # ... or an architecture (e.g. "timesformer") to train from scratch
    config_overrides: dict = field(default_factory=dict)
    processor_overrides: dict = field(default_factory=dict)
    epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float = 5e-4
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1
    batch_size: int = 8
    eval_batch_size: int | None = None
    val_fraction: float = 0.2
    num_workers: int = 0
    bf16: bool = False
    seed: int = 0
    logging_steps: int = 5
    push_to_hub: str | None = None
    show_progress: bool = True


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict
    log_history: list
    class_names: list[str]


def _class_folders(root: Path) -> dict[str, list[Path]]:
    classes = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        if videos:
            classes[folder.name] = videos
    return classes


def load_video_folder(data_dir, val_fraction: float = 0.2, seed: int = 0) -> DatasetDict:
    """A ``DatasetDict`` with ``train`` and ``validation`` splits of ``{"video": path, "label": ClassLabel}``."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    split_dirs = {"train": root / "train"}
    for name in VALIDATION_SPLIT_NAMES:
        if (root / name).is_dir():
            split_dirs["validation"] = root / name
            break
    presplit = split_dirs["train"].is_dir() and "validation" in split_dirs
    per_split = {name: _class_folders(path) for name, path in split_dirs.items()} if presplit else None
    class_names = sorted(per_split["train"]) if presplit else sorted(_class_folders(root))
    if len(class_names) < 2:
        raise ValueError(
            f"{root} must hold at least two class sub-folders of video files "
            f"({', '.join(sorted(VIDEO_EXTENSIONS))}); found {class_names or 'none'}"
        )
    features = Features({"video": Value("string"), "label": ClassLabel(names=class_names)})

    def as_dataset(classes: dict[str, list[Path]]) -> Dataset:
        unknown = set(classes) - set(class_names)
        if unknown:
            raise ValueError(f"validation classes not present in training data: {sorted(unknown)}")
        rows = [(str(path), class_names.index(name)) for name, paths in classes.items() for path in paths]
        return Dataset.from_dict({"video": [r[0] for r in rows], "label": [r[1] for r in rows]}, features=features)

    if presplit:
        return DatasetDict({name: as_dataset(classes) for name, classes in per_split.items()})
    full = as_dataset(_class_folders(root))
    split = full.train_test_split(test_size=val_fraction, stratify_by_column="label", seed=seed)
    return DatasetDict({"train": split["train"], "validation": split["test"]})


def video_transform(video_processor, training: bool):
    """Batch transform for ``Dataset.set_transform``: decode + sample + augment, on access."""

    def transform(batch: dict) -> dict:
        inputs = video_processor(batch["video"], training=training, return_tensors="pt")
        return {"pixel_values": list(inputs["pixel_values"]), "labels": batch["label"]}

    return transform


def collate(examples: list[dict]) -> dict:
    return {
        "pixel_values": torch.stack([e["pixel_values"] for e in examples]),
        "labels": torch.tensor([e["labels"] for e in examples]),
    }


def top_k_metrics(num_labels: int):
    metric = evaluate.load(TOP_K_ACCURACY)
    top_k = min(5, num_labels)

    def compute(eval_prediction) -> dict:
        logits, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        results = metric.compute(predictions=logits, references=labels, k=1)
        results.update(metric.compute(predictions=logits, references=labels, k=top_k))
        return {"top1_accuracy": results["top1_accuracy"], "top5_accuracy": results[f"top{top_k}_accuracy"]}

    return compute


def build_model_and_processor(cfg: TrainConfig, class_names: list[str]):
    from .video_processing_utils import VideoClipProcessor

    id2label = dict(enumerate(class_names))
    label2id = {name: i for i, name in id2label.items()}
    if cfg.model:
        model = AutoModelForVideoClassification.from_pretrained(
            cfg.model,
            num_labels=len(class_names),
            id2label=id2label,
            label2id=label2id,
            ignore_mismatched_sizes=True,  # a new head for the new label set
            **cfg.config_overrides,
        )
        processor = AutoVideoProcessor.from_pretrained(cfg.model, **cfg.processor_overrides)
        if {"num_frames", "image_size"} & set(cfg.config_overrides) and isinstance(processor, VideoClipProcessor):
            # The model's input changed: the saved processor follows it (explicit processor overrides still win).
            processor = processor.matched_to_config(model.config, **cfg.processor_overrides)
        return model, processor
    if not cfg.architecture:
        raise ValueError("give either a pretrained model (--model) or an architecture to train from scratch")
    arch = find_architecture(cfg.architecture)
    config = arch.config_class(
        num_labels=len(class_names), id2label=id2label, label2id=label2id, **cfg.config_overrides
    )
    model = arch.classification_class(config)
    processor = arch.video_processor_class.for_model_config(config, **cfg.processor_overrides)
    return model, processor


def draw_training_curve(axis, log_history: list[dict]) -> None:
    """Training loss per logging step (left axis) and validation top-1 per evaluation (right axis)."""
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    evals = [(e["step"], e["eval_top1_accuracy"]) for e in log_history if "eval_top1_accuracy" in e]
    if train:
        axis.plot(*zip(*train), color="tab:blue", marker=".")
    axis.set_xlabel("step")
    axis.set_ylabel("training loss", color="tab:blue")
    if evals:
        accuracy_axis = axis.twinx()
        accuracy_axis.plot(*zip(*evals), color="tab:green", marker="o")
        accuracy_axis.set_ylim(0, 1.02)
        accuracy_axis.set_ylabel("validation top-1 accuracy", color="tab:green")


def plot_training_curve(log_history: list[dict], path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(6, 3.5), dpi=120)
    draw_training_curve(axis, log_history)
    axis.set_title("Training curve")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def train(cfg: TrainConfig) -> TrainResult:
    set_seed(cfg.seed)
    data = load_video_folder(cfg.data_dir, cfg.val_fraction, cfg.seed)
    class_names = data["train"].features["label"].names
    model, processor = build_model_and_processor(cfg, class_names)
    data["train"].set_transform(video_transform(processor, training=True))
    data["validation"].set_transform(video_transform(processor, training=False))

    steps_per_epoch = math.ceil(len(data["train"]) / cfg.batch_size)
    total_steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(steps_per_epoch * cfg.epochs)
    args = TrainingArguments(
        output_dir=str(Path(cfg.output_dir) / "checkpoints"),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=int(cfg.warmup_fraction * total_steps),
        lr_scheduler_type="cosine",
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size or cfg.batch_size,
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=cfg.logging_steps,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=cfg.num_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        bf16=cfg.bf16,
        seed=cfg.seed,
        disable_tqdm=not cfg.show_progress,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["validation"],
        data_collator=collate,
        compute_metrics=top_k_metrics(len(class_names)),
    )
    trainer.train()
    metrics = trainer.evaluate()
    output_dir = Path(cfg.output_dir)
    card = render_model_card(
        model_id=cfg.push_to_hub or output_dir.name,
        architecture=type(model).__name__.removesuffix("ForVideoClassification"),
        base_model=cfg.model,
        datasets=[],
        metrics={k.removeprefix("eval_"): v for k, v in metrics.items() if "accuracy" in k or k == "eval_loss"},
        source=(
            f"Fine-tuned with `hf-videomodels train` on {len(data['train'])} training and "
            f"{len(data['validation'])} validation videos in {len(class_names)} classes "
            f"({', '.join(class_names[:10])}{', ...' if len(class_names) > 10 else ''})."
        ),
        preprocessing=processor_summary(processor),
    )
    save_model_folder(trainer.model, processor, output_dir, card, push_to_hub=cfg.push_to_hub)
    history = trainer.state.log_history
    (output_dir / "training_log.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
    plot_training_curve(history, output_dir / "training_curve.png")
    return TrainResult(output_dir=output_dir, metrics=metrics, log_history=history, class_names=class_names)


def processor_summary(processor) -> dict:
    """The preprocessing facts a model card should state (frames, sampling, sizes, normalisation)."""
    keys = (
        "num_frames",
        "sampling",
        "frame_sample_rate",
        "short_video",
        "num_clips",
        "num_crops",
        "size",
        "crop_size",
        "rescale_factor",
        "image_mean",
        "image_std",
        "channel_order",
    )
    summary = {}
    for key in keys:
        value = getattr(processor, key, None)
        if value is not None:
            summary[key] = dict(value) if hasattr(value, "keys") else value
    return summary

