"""Fine-tuning any registered architecture on a video data set, with transformers' ``Trainer``.

The data is listed by ``video_datasets.load_video_folder`` (class folders, UCF101, HMDB51, Kinetics,
Something-Something v2) into a ``datasets.DatasetDict`` of paths and labels; the videos are decoded on the fly by
the model's video processor: random temporal jitter and spatial augmentation for training, the deterministic
evaluation recipe otherwise.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import evaluate
import torch
from transformers import (
    AutoConfig,
    AutoModelForVideoClassification,
    AutoVideoProcessor,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import is_torch_bf16_gpu_available

from .errors import UserInputError, check_known_keys
from .hub import resolve_model_reference, save_model_folder
from .metrics import TOP_K_ACCURACY
from .mixing import ClipMixing
from .model_card import render_model_card
from .parameter_groups import freeze_backbone, layer_ids
from .registration import find_architecture
from .remote_code import check_bundlable
from .seeded_clips import EpochShuffleSampler, SeededTrainingClips
from .training_args import TrainConfig
from .video_datasets import (  # noqa: F401  (VIDEO_EXTENSIONS, stratified_split, ...: re-exported from their old home)
    VALIDATION_SPLIT_NAMES,
    VIDEO_EXTENSIONS,
    VideoFolder,
    _class_folders,
    load_video_folder,
    stratified_split,
)
from .video_processing_utils import VideoClipProcessor, model_input_tensors
from .video_trainer import VideoTrainer

logger = logging.getLogger(__name__)

# Loss points on the training curve when logging_steps is not set: every step of runs up to this many steps.
CURVE_POINTS = 50
# Top-k accuracies reported, for the k below the class count (with k classes or fewer, top-k is always 1).
TOP_K = (1, 5)
# Config keys the data sets (from the class folders), which overrides cannot change.
LABEL_KEYS = ("num_labels", "id2label", "label2id")


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict  # eval_* metrics of the validation split; the training metrics when there is none
    log_history: list
    class_names: list[str]
    unreadable_videos: list[Path] = field(default_factory=list)  # skipped files, each named in a warning


def video_transform(video_processor):
    """Batch transform for ``Dataset.set_transform``: decode + sample the evaluation views, on access (training
    clips come from ``seeded_clips.SeededTrainingClips``, whose augmentation survives a resume).

    A partial of a module-level function, not a closure, so the dataset pickles: ``DataLoader`` workers started
    by spawn or forkserver (macOS, Windows, Linux from Python 3.14) receive it pickled."""
    return functools.partial(_transform_batch, video_processor)


def _transform_batch(video_processor, batch: dict) -> dict:
    inputs = model_input_tensors(video_processor(batch["video"], return_tensors="pt"))
    return {**{name: list(value) for name, value in inputs.items()}, "labels": batch["label"]}


def collate(examples: list[dict]) -> dict:
    """Stack every model input of the examples (each a per-video tensor) and their labels into one batch."""
    batch = {name: torch.stack([e[name] for e in examples]) for name in examples[0] if name != "labels"}
    batch["labels"] = torch.tensor([e["labels"] for e in examples])
    return batch


def top_k_metrics(num_labels: int):
    """``compute_metrics`` for ``Trainer``: ``top{k}_accuracy`` for each k of ``TOP_K`` below ``num_labels``, and the
    cross-entropy ``loss`` (``VideoTrainer`` leaves the evaluation loss to this, computed over exactly the
    validation videos also when several processes evaluate)."""
    metric = evaluate.load(TOP_K_ACCURACY)
    ks = [k for k in TOP_K if k < num_labels]

    def compute(eval_prediction) -> dict:
        logits, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        results = {}
        for k in ks:
            results.update(metric.compute(predictions=logits, references=labels, k=k))
        loss = torch.nn.functional.cross_entropy(torch.as_tensor(logits).float(), torch.as_tensor(labels).long())
        return {"loss": loss.item(), **{f"top{k}_accuracy": results[f"top{k}_accuracy"] for k in ks}}

    return compute


def check_overrides(cfg: TrainConfig) -> None:
    """Refuse config and processor override keys the model's classes do not have, with the valid ones (a typo
    would otherwise be stored beside the real setting, fail inside ``from_pretrained``, or be ignored)."""
    if cfg.model:
        resolve_model_reference(cfg.model)  # "no such folder" / "not a model folder" before transformers' errors
        config = AutoConfig.from_pretrained(cfg.model)
        processor_class = type(AutoVideoProcessor.from_pretrained(cfg.model))
    else:
        arch = find_architecture(cfg.architecture)
        config, processor_class = arch.config_class(), arch.video_processor_class
    from_data = sorted(set(cfg.config_overrides) & set(LABEL_KEYS))
    if from_data:
        raise UserInputError(f"{', '.join(from_data)}: set from the data's class folders, not by a config override")
    check_known_keys(cfg.config_overrides, set(config.to_dict()) - set(LABEL_KEYS), f"{type(config).__name__} config")
    check_known_keys(cfg.processor_overrides, processor_class.valid_kwargs.__annotations__, processor_class.__name__)


def train_on_cpu(bf16: bool) -> bool:
    """Whether to set Trainer's ``use_cpu``: on a machine without an accelerator. Without it transformers refuses
    bf16 on the CPU, and the processes ``accelerate launch`` or ``torchrun`` start each train alone (and write the
    same folder) instead of joining one gloo run. An accelerator without bf16 is refused rather than silently left
    for the CPU."""
    if not (torch.cuda.is_available() or torch.backends.mps.is_available()):
        return True
    if bf16 and not is_torch_bf16_gpu_available():
        raise UserInputError("this accelerator does not support bf16 (CUDA needs an Ampere or newer GPU); drop --bf16")
    return False


def build_model_and_processor(cfg: TrainConfig, class_names: list[str]):
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
    if arch.classification_class is None:
        raise UserInputError(f"{arch.name} does not classify videos, so it cannot be trained as a classifier")
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


def list_training_data(cfg: TrainConfig) -> VideoFolder:
    """``cfg``'s data set listed into splits (its layout, split number and annotations)."""
    return load_video_folder(
        cfg.data_dir, cfg.val_fraction, cfg.seed, layout=cfg.layout, split=cfg.split, annotations=cfg.annotations
    )


def resume_checkpoint(cfg: TrainConfig, checkpoints: Path) -> str | None:
    """The checkpoint folder ``cfg.resume_from_checkpoint`` names (``last``: the newest in ``checkpoints``)."""
    wanted = cfg.resume_from_checkpoint
    if wanted is None:
        return None
    if wanted == "last":
        last = get_last_checkpoint(checkpoints) if checkpoints.is_dir() else None
        if last is None:
            raise UserInputError(
                f"--resume-from-checkpoint last: no checkpoint-N folder in {checkpoints}; "
                "a run saves them with --save-checkpoints"
            )
        return last
    if not (Path(wanted) / "trainer_state.json").is_file():
        raise UserInputError(
            f"--resume-from-checkpoint {wanted}: not a checkpoint folder (no trainer_state.json); give "
            "OUTPUT/checkpoints/checkpoint-N or 'last'"
        )
    return wanted


def tensorboard_callback(log_dir: Path):
    """Trainer's TensorBoard logger, writing to ``log_dir`` (from the main process only)."""
    from transformers.integrations import TensorBoardCallback, is_tensorboard_available

    if not is_tensorboard_available():
        raise UserInputError("--tensorboard needs the tensorboard package: pip install 'hf-videomodels[tensorboard]'")
    callback = TensorBoardCallback()
    callback.logging_dir = str(log_dir)
    return callback


def train(cfg: TrainConfig) -> TrainResult:
    """Train a video classifier on ``cfg.data_dir`` and write it to ``cfg.output_dir``.

    Fine-tunes ``cfg.model`` (a new classification head for the data's classes) or trains ``cfg.architecture``
    from scratch, with transformers' ``Trainer``: AdamW, cosine schedule with warm-up, evaluation of top-1
    (and top-5 with more than five classes) accuracy on the validation split after every epoch and at the end.

    The output folder holds the weights (safetensors), config with the labels, video processor, a model card
    with the measured metrics, ``training_log.json`` and ``training_curve.png``; it is also uploaded to
    ``cfg.push_to_hub`` when set. Unknown config/processor override keys, unusable data folders and numbers
    raise ``UserInputError`` before any training.

    Training clips are shuffled and augmented from the seed, the epoch and the video alone
    (:mod:`~hf_videomodels.seeded_clips`): a run resumed from a checkpoint continues exactly as the uninterrupted
    run, and ``accelerate launch`` processes see the clips one process would.
    """
    set_seed(cfg.seed)
    check_overrides(cfg)
    on_cpu = train_on_cpu(cfg.bf16)
    output_dir = Path(cfg.output_dir)
    checkpoints = output_dir / "checkpoints"
    resume_from = resume_checkpoint(cfg, checkpoints)
    callbacks = [tensorboard_callback(output_dir / "tensorboard")] if cfg.tensorboard else []
    folder = list_training_data(cfg)
    data, class_names = folder.splits, folder.class_names
    validation = data.get("validation")
    model, processor = build_model_and_processor(cfg, class_names)
    if cfg.with_code:  # refused now rather than after training (two-stream's code cannot be bundled)
        check_bundlable(model.config.model_type)
    if cfg.layer_decay is not None:
        layer_ids(model)  # a model without blocks is refused now, not after the data loads
    if cfg.freeze_backbone:
        freeze_backbone(model)
    train_clips = SeededTrainingClips(data["train"], processor, cfg.seed)
    if validation is not None:
        validation.set_transform(video_transform(processor))

    steps_per_epoch = math.ceil(len(data["train"]) / (cfg.batch_size * cfg.gradient_accumulation_steps))
    total_steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(steps_per_epoch * cfg.epochs)
    args = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=int(cfg.warmup_fraction * total_steps),
        lr_scheduler_type="cosine",
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size or cfg.batch_size,
        eval_strategy="epoch" if validation is not None else "no",
        save_strategy="steps" if cfg.save_checkpoints.isdigit() else cfg.save_checkpoints,
        save_steps=int(cfg.save_checkpoints) if cfg.save_checkpoints.isdigit() else 500,
        save_total_limit=cfg.save_total_limit,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        activation_checkpointing=cfg.gradient_checkpointing,
        logging_strategy="steps",
        # A fraction is of the run's steps: every step for short runs, so the curve always has points.
        logging_steps=cfg.logging_steps or 1 / CURVE_POINTS,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=cfg.num_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        bf16=cfg.bf16,
        use_cpu=on_cpu,
        seed=cfg.seed,
        disable_tqdm=not cfg.show_progress,
    )
    trainer = VideoTrainer(
        model=model,
        args=args,
        train_dataset=train_clips,
        eval_dataset=validation,
        data_collator=collate,
        compute_metrics=top_k_metrics(len(class_names)),
        callbacks=callbacks,
        mixing=ClipMixing(cfg.mixup_alpha, cfg.cutmix_alpha, cfg.label_smoothing),
        layer_decay=cfg.layer_decay,
        train_sampler=EpochShuffleSampler(len(train_clips), cfg.seed),
    )
    train_output = trainer.train(resume_from_checkpoint=resume_from)
    metrics = trainer.evaluate() if validation is not None else train_output.metrics
    history = trainer.state.log_history
    if trainer.is_world_process_zero():  # under `accelerate launch`, one process writes the model folder
        _write_model_folder(cfg, folder, trainer.model, processor, metrics, history)
    return TrainResult(
        output_dir=output_dir,
        metrics=metrics,
        log_history=history,
        class_names=class_names,
        unreadable_videos=folder.unreadable,
    )


def _write_model_folder(cfg: TrainConfig, folder: VideoFolder, model, processor, metrics: dict, history: list) -> None:
    """The output folder: weights, config, processor, model card, training log and curve (and the Hub upload)."""
    output_dir = Path(cfg.output_dir)
    checkpoints = output_dir / "checkpoints"
    if checkpoints.is_dir() and not any(checkpoints.iterdir()):
        checkpoints.rmdir()  # nothing is saved there (save_strategy="no"), but Trainer creates it
    card_metrics = {k.removeprefix("eval_"): v for k, v in metrics.items() if "accuracy" in k or k.endswith("loss")}
    card = render_model_card(
        model_id=cfg.push_to_hub or output_dir.name,
        architecture=type(model).__name__.removesuffix("ForVideoClassification"),
        base_model=cfg.model,
        datasets=[],
        metrics=card_metrics,
        source=_describe_training(cfg, folder),
        preprocessing=processor_summary(processor),
    )
    # The log and the curve are written first, so that the Hub upload carries them too.
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "training_log.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
    plot_training_curve(history, output_dir / "training_curve.png")
    save_model_folder(model, processor, output_dir, card, push_to_hub=cfg.push_to_hub, with_code=cfg.with_code)


def _describe_training(cfg: TrainConfig, folder: VideoFolder) -> str:
    """The model card's account of the run: how, on what, and what the metrics are measured on."""
    names = folder.class_names
    how = f"Fine-tuned from `{cfg.model}`" if cfg.model else "Trained from scratch"
    classes = f"{len(names)} classes ({', '.join(names[:10])}{', ...' if len(names) > 10 else ''})"
    text = (
        f"{how} with `hf-videomodels train` on {len(folder.splits['train'])} training videos of {folder.describe()} "
        f"in {classes}"
    )
    if "validation" in folder.splits:
        source = folder.source_split_names["validation"]
        text += f"; the metrics are measured on {len(folder.splits['validation'])} validation videos ({source})."
    else:
        text += "; there was no validation split, so the metrics are training metrics only."
    if folder.unreadable:
        text += f" {len(folder.unreadable)} unreadable video file(s) were skipped."
    if folder.missing:
        text += f" {len(folder.missing)} listed video(s) were missing from the data folder and skipped."
    recipe = [
        f"{name.replace('_', ' ')} {getattr(cfg, name)}"
        for name in ("gradient_accumulation_steps", "label_smoothing", "mixup_alpha", "cutmix_alpha", "layer_decay")
        if getattr(cfg, name) not in (None, 0, 1)
    ]
    recipe += ["backbone frozen (linear probe)"] * cfg.freeze_backbone + ["bf16 mixed precision"] * cfg.bf16
    if recipe:
        text += f" Recipe: {', '.join(recipe)}."
    return text


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
