"""Training on several processes (``accelerate launch``, two CPU processes over gloo) and the plain Accelerate loop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForVideoClassification, AutoVideoProcessor, TrainingArguments

from hf_videomodels import accelerate_loop, demo, training
from hf_videomodels.errors import UserInputError
from hf_videomodels.video_io import write_video
from hf_videomodels.video_trainer import VideoTrainer

from .test_training_recipes import TINY_PROCESSOR, TINY_TIMESFORMER, tiny_config

# No dropout: one process and two then draw nothing differently, and the runs must agree to rounding.
DETERMINISTIC = {**TINY_TIMESFORMER, "hidden_dropout_prob": 0.0}


@pytest.fixture(scope="module")
def split_folder(tmp_path_factory):
    """train/: 4 classes x 2 videos (two global batches of 4); validation/: 3 videos, so with 2 videos per process
    the second process's batch is padded with a repeated video, which the metrics must not count."""
    root = tmp_path_factory.mktemp("split")
    rng = np.random.default_rng(0)
    for direction in demo.DIRECTIONS:
        for i in range(2):
            clip = demo.motion_clip(direction, rng, num_frames=8, size=40)
            write_video(clip, root / "train" / direction / f"{i}.mp4")
    for direction in list(demo.DIRECTIONS)[:3]:
        write_video(demo.motion_clip(direction, rng, num_frames=8, size=40), root / "validation" / direction / "0.mp4")
    return root


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def evaluate_folder(model_dir, data_dir, output_dir) -> dict:
    """Validation metrics of a saved model in this (single) process, with train's evaluation."""
    folder = training.load_video_folder(data_dir)
    model = AutoModelForVideoClassification.from_pretrained(model_dir)
    validation = folder.splits["validation"]
    validation.set_transform(training.video_transform(AutoVideoProcessor.from_pretrained(model_dir)))
    args = TrainingArguments(output_dir=str(output_dir), per_device_eval_batch_size=2, report_to="none",
                             use_cpu=True, remove_unused_columns=False, disable_tqdm=True)
    trainer = VideoTrainer(model=model, args=args, eval_dataset=validation, data_collator=training.collate,
                           compute_metrics=training.top_k_metrics(len(folder.class_names)))
    return trainer.evaluate()


def _steps(history: list[dict]) -> list[tuple]:
    return [(e["step"], e["loss"], e["grad_norm"]) for e in history if "loss" in e]


def test_two_processes_train_as_one_with_the_global_batch(split_folder, tmp_path):
    """Two processes with batches of 2 take the same optimiser steps as one process with batches of 4: the same
    clips (seeded per video and epoch), the same losses and gradients (to summation order), the same weights, and
    evaluation scores exactly the 3 validation videos (the padded repeat dropped)."""
    settings = {"config_overrides": DETERMINISTIC, "epochs": 2, "max_steps": -1, "eval_batch_size": 2}
    one = training.train(tiny_config(split_folder, tmp_path / "one", batch_size=4, **settings))
    two_dir = tmp_path / "two"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
        "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        "-m", "hf_videomodels_cli", "train", str(split_folder), "--output", str(two_dir), "--architecture",
        "timesformer", "--config", json.dumps(DETERMINISTIC), "--processor", json.dumps(TINY_PROCESSOR),
        "--epochs", "2", "--batch-size", "2", "--eval-batch-size", "2", "--learning-rate", "1e-3", "--no-show-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    finished = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    history = json.loads((two_dir / "training_log.json").read_text())
    expected_steps = _steps(one.log_history)
    assert [step for step, _, _ in _steps(history)] == [1, 2, 3, 4]  # 8 videos, 4 a step, 2 epochs
    for (_, loss, norm), (_, expected_loss, expected_norm) in zip(_steps(history), expected_steps):
        assert (loss, norm) == pytest.approx((expected_loss, expected_norm), rel=1e-4)
    weights = load_file(one.output_dir / "model.safetensors")
    for name, tensor in load_file(two_dir / "model.safetensors").items():
        torch.testing.assert_close(tensor, weights[name], rtol=1e-4, atol=1e-5)
    two_metrics = [e for e in history if "eval_loss" in e][-1]
    same_weights = evaluate_folder(two_dir, split_folder, tmp_path / "eval")
    assert two_metrics["eval_top1_accuracy"] == same_weights["eval_top1_accuracy"]
    assert two_metrics["eval_loss"] == pytest.approx(same_weights["eval_loss"], rel=1e-6)
    assert one.metrics["eval_loss"] == pytest.approx(two_metrics["eval_loss"], rel=1e-4)


def test_accelerate_loop_trains_and_scores_with_train_s_metrics(split_folder, tmp_path):
    cfg = tiny_config(split_folder, tmp_path / "loop", max_steps=3, gradient_accumulation_steps=2, mixup_alpha=0.8,
                      label_smoothing=0.1, eval_batch_size=2)
    history = accelerate_loop.run(cfg)
    assert [entry["step"] for entry in history] == [2, 3]  # 4 batches of 2 an epoch, 2 accumulated a step
    assert set(history[-1]) == {"epoch", "step", "loss", "top1_accuracy"}
    rescored = evaluate_folder(cfg.output_dir, split_folder, tmp_path / "eval")
    assert history[-1]["top1_accuracy"] == rescored["eval_top1_accuracy"]
    assert history[-1]["loss"] == pytest.approx(rescored["eval_loss"], rel=1e-6)


def test_accelerate_loop_refuses_trainer_only_options(split_folder, tmp_path):
    with pytest.raises(UserInputError, match="leaves save_checkpoints, tensorboard to hf-videomodels train"):
        accelerate_loop.run(tiny_config(split_folder, tmp_path / "x", save_checkpoints="2", tensorboard=True))
