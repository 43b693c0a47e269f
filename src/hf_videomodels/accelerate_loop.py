"""A plain Accelerate training loop, without Trainer: a short example to start your own loop from.

    python -m hf_videomodels.accelerate_loop DATA_DIR --output OUT --architecture timesformer
    accelerate launch --multi_gpu --num_processes 8 -m hf_videomodels.accelerate_loop DATA_DIR --output OUT ...

It takes ``hf-videomodels train``'s options and shares its pieces: the data folder listing, the model and video
processor, the seeded training clips and sampler, label smoothing / mixup / cutmix, the AdamW parameter groups
(weight decay, layer-wise decay, a frozen backbone), the batching and the metrics. What is left is the loop: an
AdamW step with a cosine schedule per (accumulated) batch, and after each epoch an evaluation whose logits and
labels are gathered from every process and scored by ``training.top_k_metrics``, exactly as ``train`` scores
them. Checkpoints, resuming, TensorBoard and the Hub are ``train``'s: options for them are refused here.
"""

from __future__ import annotations

import json
import math
import sys

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import EvalPrediction, get_cosine_schedule_with_warmup, set_seed

from .errors import UserInputError
from .mixing import ClipMixing, soft_cross_entropy
from .parameter_groups import freeze_backbone, frozen_modules, optimizer_groups
from .seeded_clips import EpochShuffleSampler, SeededTrainingClips
from .training import (
    build_model_and_processor,
    collate,
    list_training_data,
    top_k_metrics,
    train_on_cpu,
    video_transform,
)
from .training_args import TrainConfig

# Settings of ``train`` this example leaves out, with the value that means "not used".
TRAINER_ONLY = {"save_checkpoints": "no", "resume_from_checkpoint": None, "tensorboard": False, "push_to_hub": None}


@torch.no_grad()
def evaluate(model, loader: DataLoader, accelerator: Accelerator, num_labels: int) -> dict:
    """Top-k accuracies and loss on every video of ``loader`` (gathered from all processes, padding dropped)."""
    model.eval()
    logits, labels = [], []
    for batch in loader:
        batch_labels = batch.pop("labels")
        batch_logits = model(**batch).logits
        gathered = accelerator.gather_for_metrics((batch_logits, batch_labels))
        logits.append(gathered[0].float().cpu())
        labels.append(gathered[1].cpu())
    prediction = EvalPrediction(predictions=torch.cat(logits).numpy(), label_ids=torch.cat(labels).numpy())
    return top_k_metrics(num_labels)(prediction)


def run(cfg: TrainConfig) -> list[dict]:
    """Train ``cfg`` with the loop; returns each epoch's validation metrics and saves the model to
    ``cfg.output_dir``."""
    refused = [name for name, unused in TRAINER_ONLY.items() if getattr(cfg, name) != unused]
    if refused:
        raise UserInputError(f"the example loop leaves {', '.join(refused)} to hf-videomodels train; drop them")
    accelerator = Accelerator(
        cpu=train_on_cpu(cfg.bf16),
        mixed_precision="bf16" if cfg.bf16 else "no",
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
    )
    set_seed(cfg.seed)
    folder = list_training_data(cfg)
    if "validation" not in folder.splits:
        raise UserInputError("the example loop evaluates after each epoch: it needs --val-fraction above 0")
    model, processor = build_model_and_processor(cfg, folder.class_names)
    if cfg.freeze_backbone:
        freeze_backbone(model)
    if cfg.gradient_checkpointing:
        model.activation_checkpointing_enable()
    clips = SeededTrainingClips(folder.splits["train"], processor, cfg.seed)
    sampler = EpochShuffleSampler(len(clips), cfg.seed)
    train_loader = DataLoader(clips, cfg.batch_size, sampler=sampler, collate_fn=collate, num_workers=cfg.num_workers)
    validation = folder.splits["validation"]
    validation.set_transform(video_transform(processor))
    eval_loader = DataLoader(validation, cfg.eval_batch_size or cfg.batch_size, collate_fn=collate)
    optimizer = torch.optim.AdamW(optimizer_groups(model, cfg.learning_rate, cfg.weight_decay, cfg.layer_decay))
    model, prepared_optimizer, train_loader, eval_loader = accelerator.prepare(
        model, optimizer, train_loader, eval_loader
    )
    # The schedule counts optimiser steps and is stepped here (Accelerate's prepared scheduler would step once
    # per process each time).
    steps_per_epoch = math.ceil(len(train_loader) / cfg.gradient_accumulation_steps)
    total_steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(cfg.epochs * steps_per_epoch)
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(cfg.warmup_fraction * total_steps), total_steps)
    mixing = ClipMixing(cfg.mixup_alpha, cfg.cutmix_alpha, cfg.label_smoothing)
    unwrapped = accelerator.unwrap_model(model)
    frozen = frozen_modules(unwrapped)
    num_labels = unwrapped.config.num_labels
    history, step = [], 0
    progress = tqdm(total=total_steps, disable=not (cfg.show_progress and accelerator.is_local_main_process))
    for epoch in range(math.ceil(total_steps / steps_per_epoch)):
        sampler.set_epoch(epoch)
        model.train()
        for module in frozen:  # a linear probe's backbone keeps its BatchNorm statistics
            module.eval()
        for batch in train_loader:
            with accelerator.accumulate(model):
                labels = batch.pop("labels")
                videos = {name: batch[name] for name in unwrapped.video_input_names if name in batch}
                videos, targets = mixing(videos, labels, num_labels)
                loss = soft_cross_entropy(model(**{**batch, **videos}).logits, targets)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)  # as Trainer does
                prepared_optimizer.step()  # a no-op until the last accumulated batch
                prepared_optimizer.zero_grad()
            if accelerator.sync_gradients:
                scheduler.step()
                step += 1
                progress.update()
                progress.set_postfix(loss=f"{loss.item():.3f}")
                if step == total_steps:
                    break
        history.append({"epoch": epoch + 1, "step": step, **evaluate(model, eval_loader, accelerator, num_labels)})
        accelerator.print(json.dumps(history[-1]))
        if step == total_steps:
            break
    progress.close()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unwrapped.save_pretrained(cfg.output_dir)
        processor.save_pretrained(cfg.output_dir)
    return history


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .cli import HelpFormatter
    from .errors import report_user_errors
    from .training_args import add_train_arguments, train_config_from_args

    parser = argparse.ArgumentParser(
        prog="python -m hf_videomodels.accelerate_loop", description=__doc__, formatter_class=HelpFormatter
    )
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    return report_user_errors(lambda: run(train_config_from_args(args)))


if __name__ == "__main__":
    sys.exit(main())
