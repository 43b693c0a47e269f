"""hf-videomodels train's recipes: checkpoints and exact resume, gradient accumulation, checkpointing, soft targets
(label smoothing, mixup, cutmix), layer-wise learning-rate decay, linear probe, TensorBoard."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hf_videomodels import demo, training
from hf_videomodels.errors import UserInputError
from hf_videomodels.training_args import TrainConfig
from hf_videomodels.video_io import write_video
from hf_videomodels.video_trainer import VideoTrainer

TINY_TIMESFORMER = {
    "image_size": 32, "patch_size": 16, "num_frames": 4, "hidden_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 2, "intermediate_size": 64, "hidden_dropout_prob": 0.1,
}
TINY_PROCESSOR = {
    "num_frames": 4, "sampling": "clip", "frame_sample_rate": 2, "target_fps": None, "size": {"shortest_edge": 36},
    "crop_size": {"height": 32, "width": 32},
}


@pytest.fixture(scope="module")
def nine_videos(tmp_path_factory):
    """Three classes of three real 8-frame 40x40 H.264 files."""
    root = tmp_path_factory.mktemp("nine")
    rng = np.random.default_rng(0)
    for direction in list(demo.DIRECTIONS)[:3]:
        for i in range(3):
            write_video(demo.motion_clip(direction, rng, num_frames=8, size=40), root / direction / f"{i}.mp4", fps=8)
    return root


def tiny_config(data_dir, output_dir, **settings) -> TrainConfig:
    defaults = {
        "architecture": "timesformer", "config_overrides": TINY_TIMESFORMER, "processor_overrides": TINY_PROCESSOR,
        "max_steps": 3, "batch_size": 2, "val_fraction": 0, "show_progress": False, "learning_rate": 1e-3,
    }
    return TrainConfig(data_dir=data_dir, output_dir=output_dir, **{**defaults, **settings})


class Interrupted(Exception):
    pass


def interrupt_after(monkeypatch, step: int) -> None:
    """Stop training as a kill would, once ``step`` optimiser steps are done (their checkpoint written)."""
    original = VideoTrainer.training_step

    def training_step(self, *args, **kwargs):
        if self.state.global_step == step:
            raise Interrupted
        return original(self, *args, **kwargs)

    monkeypatch.setattr(VideoTrainer, "training_step", training_step)


def test_resume_after_an_interrupt_is_bit_identical(nine_videos, tmp_path, monkeypatch):
    """9 videos, batches of 2: 5 steps an epoch. Checkpoints every 3 steps; the run is killed during step 8 and
    resumes from step 6, one step into the second epoch (its shuffle, augmentation, dropout, mixing all random)."""
    recipe = {"max_steps": 9, "save_checkpoints": "3", "mixup_alpha": 0.8, "cutmix_alpha": 1.0,
              "label_smoothing": 0.1}
    straight = training.train(tiny_config(nine_videos, tmp_path / "straight", **recipe))
    interrupt_after(monkeypatch, 7)
    with pytest.raises(Interrupted):
        training.train(tiny_config(nine_videos, tmp_path / "resumed", **recipe))
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "resumed/checkpoints").iterdir()) == ["checkpoint-3", "checkpoint-6"]
    resumed = training.train(tiny_config(nine_videos, tmp_path / "resumed", resume_from_checkpoint="last", **recipe))
    weights = load_file(straight.output_dir / "model.safetensors")
    resumed_weights = load_file(resumed.output_dir / "model.safetensors")
    assert weights.keys() == resumed_weights.keys()
    for name, tensor in weights.items():
        assert torch.equal(tensor, resumed_weights[name]), name
    final = [run.output_dir / "checkpoints/checkpoint-9" for run in (straight, resumed)]
    optimizers = [torch.load(folder / "optimizer.pt", weights_only=True) for folder in final]
    for name, moments in optimizers[0]["state"].items():
        for key, value in moments.items():
            assert torch.equal(value, optimizers[1]["state"][name][key]), (name, key)
    schedulers = [torch.load(folder / "scheduler.pt", weights_only=True) for folder in final]
    assert schedulers[0] == schedulers[1]
    losses = [[e["loss"] for e in run.log_history if "loss" in e and e["step"] > 6] for run in (straight, resumed)]
    assert losses[0] == losses[1]


def test_resume_errors_name_the_fix(nine_videos, tmp_path):
    with pytest.raises(UserInputError, match="no checkpoint-N folder.*--save-checkpoints"):
        training.train(tiny_config(nine_videos, tmp_path / "out", resume_from_checkpoint="last"))
    with pytest.raises(UserInputError, match="not a checkpoint folder"):
        training.train(tiny_config(nine_videos, tmp_path / "out", resume_from_checkpoint=str(tmp_path)))


def _losses_and_norms(result) -> tuple[list[float], list[float]]:
    steps = [entry for entry in result.log_history if "loss" in entry]
    return [entry["loss"] for entry in steps], [entry["grad_norm"] for entry in steps]


def test_gradient_accumulation_equals_the_larger_batch(nine_videos, tmp_path):
    """Two batches of 2 accumulated make one step of the same 4 clips (seeded: the same crops): the same loss,
    gradient norm and weights. (Trainer would neither average the batches nor divide by the process count if the
    models said their ``**kwargs`` take loss arguments.)"""
    settings = {"max_steps": 2, "config_overrides": {**TINY_TIMESFORMER, "hidden_dropout_prob": 0.0}}
    large = training.train(tiny_config(nine_videos, tmp_path / "large", batch_size=4, **settings))
    accumulated = training.train(
        tiny_config(nine_videos, tmp_path / "accumulated", batch_size=2, gradient_accumulation_steps=2, **settings)
    )
    for expected, got in zip(_losses_and_norms(large), _losses_and_norms(accumulated)):
        assert got == pytest.approx(expected, rel=1e-5)
    weights = load_file(large.output_dir / "model.safetensors")
    for name, tensor in load_file(accumulated.output_dir / "model.safetensors").items():
        torch.testing.assert_close(tensor, weights[name], rtol=1e-5, atol=1e-6)


def _count_block_calls(monkeypatch) -> list[int]:
    """Counts the forward runs of the first transformer block's MLP in the model ``train`` builds (a block's own
    hooks stay outside the checkpoint; a module inside it runs again when the backward pass recomputes it)."""
    calls = []
    build = training.build_model_and_processor

    def build_and_count(*args, **kwargs):
        model, processor = build(*args, **kwargs)
        model.base_model.layers[0].mlp.register_forward_pre_hook(lambda module, inputs: calls.append(1))
        return model, processor

    monkeypatch.setattr(training, "build_model_and_processor", build_and_count)
    return calls


def test_gradient_checkpointing_recomputes_blocks_and_changes_no_number(nine_videos, tmp_path, monkeypatch):
    settings = {"max_steps": 2, "config_overrides": {**TINY_TIMESFORMER, "hidden_dropout_prob": 0.0}}
    calls = _count_block_calls(monkeypatch)
    plain = training.train(tiny_config(nine_videos, tmp_path / "plain", **settings))
    plain_calls, calls[:] = len(calls), []
    checkpointed = training.train(tiny_config(nine_videos, tmp_path / "checkpointed", gradient_checkpointing=True, **settings))
    assert (plain_calls, len(calls)) == (2, 4)  # each block runs again in the backward pass
    weights = load_file(plain.output_dir / "model.safetensors")
    for name, tensor in load_file(checkpointed.output_dir / "model.safetensors").items():
        torch.testing.assert_close(tensor, weights[name], rtol=1e-5, atol=1e-6)


def test_bf16_composes_with_accumulation_checkpointing_and_mixing(nine_videos, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = training.train(
        tiny_config(nine_videos, tmp_path / "out", bf16=True, gradient_accumulation_steps=2, gradient_checkpointing=True,
                    mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, max_steps=2)
    )
    losses, norms = _losses_and_norms(result)
    assert len(losses) == 2 and np.isfinite(losses + norms).all()
