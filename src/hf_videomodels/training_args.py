"""The settings of ``hf-videomodels train``, defined once: the ``TrainConfig`` dataclass.

``training.train`` takes it, and the command line builds its ``train`` options from the fields (help text in
each field's metadata, defaults shown by ``--help``). Light on purpose: importing this module loads no
torch, datasets or model code, so ``hf-videomodels train --help`` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserInputError
from .registration import ARCHITECTURE_FOLDERS

# The data layouts ``video_datasets.load_video_folder`` reads ("auto" tells them apart by their annotation files).
LAYOUTS = ("auto", "folders", "ucf101", "hmdb51", "kinetics", "ssv2")


def json_object(text: str) -> dict:
    """Parse a JSON object given on the command line (argparse ``type``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, e.g. '{\"num_frames\": 8}'")
    return value


def check_val_fraction(val_fraction: float) -> None:
    if not 0 <= val_fraction < 1:
        raise UserInputError(
            f"val_fraction (--val-fraction) must be at least 0 and below 1, got {val_fraction}; "
            "0 trains without a validation split"
        )


@dataclass
class TrainConfig:
    """Everything ``training.train`` needs. Invalid numbers are refused here, with ``UserInputError``.

    Field metadata drives the command line: ``help``; ``flag`` (the option name when it is not the field
    name with dashes); ``positional``; ``parse`` (the argparse ``type`` when it is not the field's type);
    ``metavar``.
    """

    data_dir: Path = field(
        metadata={
            "positional": True,
            "help": "DATA_DIR/<class>/<videos> (split here, stratified), DATA_DIR/{train,validation}/<class>/..., or "
            "a UCF101, HMDB51, Kinetics or Something-Something v2 download (see --layout)",
        }
    )
    output_dir: Path = field(
        metadata={"flag": "--output", "metavar": "DIR", "help": "folder for the model, card, log and curve"}
    )
    model: str | None = field(default=None, metadata={"help": "folder or Hub repo of a pretrained model to fine-tune"})
    architecture: str | None = field(default=None, metadata={"help": "train from scratch instead: " + ", ".join(ARCHITECTURE_FOLDERS)})
    config_overrides: dict = field(
        default_factory=dict,
        metadata={
            "flag": "--config",
            "parse": json_object,
            "metavar": "JSON",
            "help": "JSON object of model config settings",
        },
    )
    processor_overrides: dict = field(
        default_factory=dict,
        metadata={
            "flag": "--processor",
            "parse": json_object,
            "metavar": "JSON",
            "help": "JSON object of video processor settings",
        },
    )
    epochs: float = field(default=3.0, metadata={"help": "passes over the training videos (> 0)"})
    max_steps: int = field(
        default=-1, metadata={"help": "optimiser steps to run instead of --epochs; -1: run --epochs"}
    )
    learning_rate: float = field(default=5e-4, metadata={"help": "peak learning rate (cosine schedule)"})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW weight decay"})
    warmup_fraction: float = field(default=0.1, metadata={"help": "fraction of the steps spent warming up"})
    batch_size: int = field(
        default=8,
        metadata={"help": "training videos per batch and process (--gradient-accumulation-steps batches a step)"},
    )
    eval_batch_size: int | None = field(default=None, metadata={"help": "validation batch size; default: --batch-size"})
    val_fraction: float = field(
        default=0.2,
        metadata={
            "help": "fraction of DATA_DIR/<class> videos held out for validation (stratified); 0: none. Class "
            "folders only: the other layouts have official splits"
        },
    )
    layout: str = field(
        default="auto",
        metadata={
            "choices": LAYOUTS,
            "help": "how DATA_DIR is organised; auto: by its annotation files (classInd.txt, *_test_split1.txt, "
            "train.csv, something-something-v2-labels.json), class folders when there are none",
        },
    )
    split: int = field(default=1, metadata={"help": "official split of UCF101 and HMDB51 (1-3)"})
    annotations: Path | None = field(
        default=None,
        metadata={
            "metavar": "PATH",
            "help": "folder (or a file in it) of the split/annotation files, if not in DATA_DIR",
        },
    )
    num_workers: int = field(default=0, metadata={"help": "video decoding worker processes (0: in the main one)"})
    bf16: bool = field(default=False, metadata={"help": "bf16 mixed precision (autocast; on the CPU too)"})
    seed: int = field(default=0, metadata={"help": "seed of the split, initialisation, sampling and augmentation"})
    logging_steps: int | None = field(
        default=None,
        metadata={"help": "steps between training-loss logs; default: every step up to 50, ~50 points beyond"},
    )
    push_to_hub: str | None = field(
        default=None, metadata={"metavar": "REPO", "help": "also upload the model folder to this Hub repo"}
    )
    with_code: bool = field(
        default=False,
        metadata={
            "help": "also write the model's code into the output (auto_map): transformers alone then loads it with "
            "trust_remote_code=True"
        },
    )
    show_progress: bool = field(default=True, metadata={"help": "progress bars"})
    save_checkpoints: str = field(
        default="no",
        metadata={
            "metavar": "no|epoch|N",
            "help": "save a resumable checkpoint (weights, optimiser, schedule, random state) in OUTPUT/checkpoints "
            "after every epoch or every N steps",
        },
    )
    save_total_limit: int | None = field(default=None, metadata={"help": "keep only the newest N checkpoints"})
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={
            "metavar": "PATH|last",
            "help": "continue an interrupted run (same settings) from a checkpoint folder, or 'last': the newest "
            "in OUTPUT/checkpoints",
        },
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "batches whose gradients add up to one step (--batch-size each)"}
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "recompute block activations in the backward pass: less memory, more time"}
    )
    label_smoothing: float = field(default=0.0, metadata={"help": "label smoothing of the training targets, in [0, 1)"})
    mixup_alpha: float = field(
        default=0.0, metadata={"help": "mixup of training clips, Beta(alpha, alpha) weights (e.g. 0.8); 0: off"}
    )
    cutmix_alpha: float = field(
        default=0.0,
        metadata={"help": "cutmix: the same box of another clip in every frame (e.g. 1.0); 0: off; with "
                  "--mixup-alpha, one of the two per batch"},
    )
    layer_decay: float | None = field(
        default=None,
        metadata={"help": "layer-wise learning-rate decay of a transformer, in (0, 1) (e.g. 0.75): block i of L "
                  "trains at decay**(L+1-i) times the rate, the embeddings at decay**(L+1)"},
    )
    freeze_backbone: bool = field(
        default=False, metadata={"help": "linear probe: train the classifier only, the backbone frozen (eval mode)"}
    )
    tensorboard: bool = field(
        default=False, metadata={"help": "TensorBoard logs in OUTPUT/tensorboard (needs hf-videomodels[tensorboard])"}
    )

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.output_dir = Path(self.output_dir)
        if self.annotations is not None:
            self.annotations = Path(self.annotations)
        if bool(self.model) == bool(self.architecture):
            raise UserInputError(
                "give exactly one of model (--model, to fine-tune) or architecture (--architecture, from scratch)"
            )
        if self.max_steps != -1 and self.max_steps < 1:
            raise UserInputError(
                f"max_steps (--max-steps) must be a positive number of steps or -1, got {self.max_steps}"
            )
        if self.max_steps == -1 and not (math.isfinite(self.epochs) and self.epochs > 0):
            raise UserInputError(f"epochs (--epochs) must be a positive number, got {self.epochs}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise UserInputError(f"learning_rate (--learning-rate) must be positive, got {self.learning_rate}")
        if not self.weight_decay >= 0:
            raise UserInputError(f"weight_decay (--weight-decay) must be at least 0, got {self.weight_decay}")
        if not 0 <= self.warmup_fraction < 1:
            raise UserInputError(f"warmup_fraction (--warmup-fraction) must be in [0, 1), got {self.warmup_fraction}")
        for name in ("batch_size", "eval_batch_size", "logging_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserInputError(f"{name} (--{name.replace('_', '-')}) must be at least 1, got {value}")
        if self.num_workers < 0:
            raise UserInputError(f"num_workers (--num-workers) must be at least 0, got {self.num_workers}")
        check_val_fraction(self.val_fraction)
        if self.layout not in LAYOUTS:
            raise UserInputError(f"layout (--layout) must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        self.save_checkpoints = str(self.save_checkpoints)
        if self.save_checkpoints not in ("no", "epoch") and not (
            self.save_checkpoints.isdigit() and int(self.save_checkpoints) > 0
        ):
            raise UserInputError(
                f"save_checkpoints (--save-checkpoints) must be no, epoch or a positive number of steps, "
                f"got {self.save_checkpoints!r}"
            )
        for name in ("save_total_limit", "gradient_accumulation_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserInputError(f"{name} (--{name.replace('_', '-')}) must be at least 1, got {value}")
        if not 0 <= self.label_smoothing < 1:
            raise UserInputError(f"label_smoothing (--label-smoothing) must be in [0, 1), got {self.label_smoothing}")
        for name in ("mixup_alpha", "cutmix_alpha"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise UserInputError(f"{name} (--{name.replace('_', '-')}) must be at least 0 (0: off), got {value}")
        if self.layer_decay is not None and not 0 < self.layer_decay < 1:
            raise UserInputError(
                f"layer_decay (--layer-decay) must be in (0, 1), e.g. 0.75, got {self.layer_decay}; "
                "leave it unset for none"
            )
        if self.freeze_backbone and (self.layer_decay is not None or self.gradient_checkpointing):
            raise UserInputError(
                "freeze_backbone (--freeze-backbone) trains the classifier alone: --layer-decay and "
                "--gradient-checkpointing act on the backbone; drop them"
            )


def _without_none(hint):
    """``X`` for ``X | None``; other hints unchanged."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        kinds = [kind for kind in typing.get_args(hint) if kind is not type(None)]
        if len(kinds) == 1:
            return kinds[0]
    return hint


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one option per ``TrainConfig`` field (the command line's help formatter shows their defaults)."""
    hints = typing.get_type_hints(TrainConfig)
    for spec in dataclasses.fields(TrainConfig):
        meta = spec.metadata
        kind = _without_none(hints[spec.name])
        options = {"help": meta["help"]}
        for key in ("metavar", "choices"):
            if key in meta:
                options[key] = meta[key]
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = meta.get("parse", kind)
        if meta.get("positional"):
            parser.add_argument(spec.name, metavar=spec.name.upper(), **options)
            continue
        if spec.default is not dataclasses.MISSING:
            options["default"] = spec.default
        elif spec.default_factory is not dataclasses.MISSING:
            options["default"] = spec.default_factory()
        else:
            options["required"] = True
        flag = meta.get("flag", "--" + spec.name.replace("_", "-"))
        parser.add_argument(flag, dest=spec.name, **options)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` of parsed ``train`` options."""
    return TrainConfig(**{spec.name: getattr(args, spec.name) for spec in dataclasses.fields(TrainConfig)})
