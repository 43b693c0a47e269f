"""hf-videomodels train's recipes: checkpoints and exact resume, gradient accumulation, checkpointing, soft targets
(label smoothing, mixup, cutmix), layer-wise learning-rate decay, linear probe, TensorBoard."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hf_videomodels import demo, mixing, parameter_groups, training
from hf_videomodels.cli import build_parser
from hf_videomodels.cli import main as cli_main
from hf_videomodels.errors import UserInputError
from hf_videomodels.registration import ARCHITECTURES, find_architecture
from hf_videomodels.training_args import TrainConfig, train_config_from_args
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


def test_decoding_workers_give_the_same_clips(nine_videos, tmp_path):
    """Each clip is seeded by the video and the epoch, not by the worker that decodes it."""
    runs = [
        training.train(tiny_config(nine_videos, tmp_path / f"workers{n}", num_workers=n, max_steps=2)) for n in (0, 2)
    ]
    weights = [load_file(run.output_dir / "model.safetensors") for run in runs]
    assert all(torch.equal(tensor, weights[1][name]) for name, tensor in weights[0].items())


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
    # To rounding: Adam divides by the root of tiny second moments, which magnifies last-digit differences.
    for name, tensor in load_file(accumulated.output_dir / "model.safetensors").items():
        torch.testing.assert_close(tensor, weights[name], rtol=1e-4, atol=1e-5)


def _count_block_calls(monkeypatch) -> list[int]:
    """Counts the forward runs of the first transformer block's MLP in the model ``train`` builds (a block's own
    hooks stay outside the checkpoint; a module inside it runs again when the backward pass recomputes it)."""
    calls = []
    build = training.build_model_and_processor

    def build_and_count(*args, **kwargs):
        model, processor = build(*args, **kwargs)
        model.base_model.layers[0].mlp.register_forward_pre_hook(lambda *_: calls.append(1))
        return model, processor

    monkeypatch.setattr(training, "build_model_and_processor", build_and_count)
    return calls


def test_gradient_checkpointing_recomputes_blocks_and_changes_no_number(nine_videos, tmp_path, monkeypatch):
    settings = {"max_steps": 2, "config_overrides": {**TINY_TIMESFORMER, "hidden_dropout_prob": 0.0}}
    calls = _count_block_calls(monkeypatch)
    plain = training.train(tiny_config(nine_videos, tmp_path / "plain", **settings))
    plain_calls, calls[:] = len(calls), []
    checkpointed = training.train(
        tiny_config(nine_videos, tmp_path / "checkpointed", gradient_checkpointing=True, **settings)
    )
    assert (plain_calls, len(calls)) == (2, 4)  # each block runs again in the backward pass
    weights = load_file(plain.output_dir / "model.safetensors")
    for name, tensor in load_file(checkpointed.output_dir / "model.safetensors").items():
        torch.testing.assert_close(tensor, weights[name], rtol=1e-4, atol=1e-5)


def test_bf16_composes_with_accumulation_checkpointing_and_mixing(nine_videos, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = training.train(
        tiny_config(nine_videos, tmp_path / "out", bf16=True, gradient_accumulation_steps=2,
                    gradient_checkpointing=True, mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, max_steps=2)
    )
    losses, norms = _losses_and_norms(result)
    assert len(losses) == 2 and np.isfinite(losses + norms).all()


# ------------------------------------------------------------------ soft targets


def test_label_smoothing_targets():
    targets = mixing.smoothed_one_hot(torch.tensor([2, 0]), 4, 0.2)
    assert torch.allclose(targets, torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]]))


def _constant_clips(num_frames=3, size=32) -> dict[str, torch.Tensor]:
    """Clip i of the batch (class i) is all i: a mixed clip shows exactly which clips went into it."""
    values = torch.arange(4.0).view(4, 1, 1, 1, 1)
    return {
        "pixel_values": values.expand(4, num_frames, 3, size, size).clone(),
        "flow_values": values.expand(4, num_frames, 2, size * 2, size * 2).clone(),
    }


def test_mixup_mixes_clips_and_targets_alike():
    torch.manual_seed(0)
    mixed, targets = mixing.ClipMixing(mixup_alpha=1.0)(_constant_clips(), torch.arange(4), 4)
    assert torch.allclose(targets.sum(dim=1), torch.ones(4))
    assert (targets.max(dim=1).values < 1).any()  # some clips really are mixed
    for clips in mixed.values():
        assert torch.allclose(clips, (targets @ torch.arange(4.0)).view(4, 1, 1, 1, 1).expand_as(clips))


@pytest.mark.parametrize("seed", range(4))
def test_cutmix_pastes_the_same_box_in_every_frame(seed):
    torch.manual_seed(seed)
    mixed, targets = mixing.ClipMixing(cutmix_alpha=1.0, label_smoothing=0.1)(_constant_clips(), torch.arange(4), 4)
    smoothing = 0.1 / 4
    for i in range(4):
        frames = mixed["pixel_values"][i]
        assert torch.equal(frames, frames[:1].expand_as(frames))  # every frame (and channel) alike: one box
        shares = torch.stack([(frames == k).float().mean() for k in range(4)])
        # The targets' weights are the pixel shares exactly (label smoothing on top).
        assert torch.allclose((targets[i] - smoothing) / (1 - 0.1), shares, atol=1e-6)
        flow_shares = torch.stack([(mixed["flow_values"][i] == k).float().mean() for k in range(4)])
        assert torch.allclose(flow_shares, shares, atol=0.07)  # the same box, rounded to the flow's own pixels


def test_mixing_switches_between_mixup_and_cutmix():
    torch.manual_seed(0)
    both = mixing.ClipMixing(mixup_alpha=1.0, cutmix_alpha=1.0)
    kinds = set()
    for _ in range(20):
        mixed, _ = both(_constant_clips(), torch.arange(4), 4)
        fractional = not torch.equal(mixed["pixel_values"], mixed["pixel_values"].round())
        kinds.add("mixup" if fractional else "cutmix")
    assert kinds == {"mixup", "cutmix"}


def test_soft_cross_entropy_matches_torch_label_smoothing():
    logits, labels = torch.randn(5, 4), torch.tensor([0, 3, 1, 1, 2])
    expected = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.2)
    assert torch.allclose(mixing.soft_cross_entropy(logits, mixing.smoothed_one_hot(labels, 4, 0.2)), expected)


# ------------------------------------------------------------------ layer-wise learning-rate decay, linear probe


def _small_model(name: str):
    arch = find_architecture(name)
    config_overrides, _ = demo.small_training_overrides(arch)
    return arch.classification_class(arch.config_class(num_labels=4, **config_overrides))


def _expected_layer(name: str, depths: list[int]) -> int:
    """The depth of a parameter, by hand for each naming scheme: embeddings 0, block i (counted through the
    stages) i + 1, Swin's patch merging with the last block of its stage, final norm and classifier L + 1."""
    if found := re.search(r"\.layers\.(\d+)\.", name):
        return int(found[1]) + 1
    if found := re.search(r"\.stages\.(\d+)\.blocks\.(\d+)\.", name):
        return sum(depths[: int(found[1])]) + int(found[2]) + 1
    if found := re.search(r"\.stages\.(\d+)\.downsample\.", name):
        return sum(depths[: int(found[1]) + 1])
    if re.search(r"embed|cls_token|position_embeddings", name):
        return 0
    assert re.search(r"layernorm|encoder\.norm|classifier", name), name
    return sum(depths) + 1


@pytest.mark.parametrize("name", ["ViT per frame", "ViViT", "TimeSformer", "Swin", "VideoSwin"])
def test_layer_decay_groups_of_each_transformer(name):
    model = _small_model(name)
    config = model.config
    depths = list(config.depths) if hasattr(config, "depths") else [config.num_hidden_layers]
    groups = parameter_groups.optimizer_groups(model, learning_rate=1.0, weight_decay=0.05, layer_decay=0.5)
    rate = {id(p): group["lr"] for group in groups for p in group["params"]}
    decay = {id(p): group["weight_decay"] for group in groups for p in group["params"]}
    names = dict(model.named_parameters())
    assert sum(len(group["params"]) for group in groups) == len(names)
    for parameter_name, parameter in names.items():
        layer = _expected_layer(parameter_name, depths)
        assert rate[id(parameter)] == 0.5 ** (sum(depths) + 1 - layer), parameter_name
        # Trainer's rule: no weight decay for biases (Swin's relative position bias tables too) and LayerNorms.
        no_decay = "bias" in parameter_name or parameter.ndim == 1 and "norm" in parameter_name
        assert decay[id(parameter)] == (0.0 if no_decay else 0.05), parameter_name
    assert {round(-math.log2(r)) for r in rate.values()} == set(range(sum(depths) + 2))  # every depth has a group


def test_layer_decay_of_a_cnn_is_refused():
    with pytest.raises(UserInputError, match="needs a transformer.*I3DForVideoClassification"):
        parameter_groups.layer_ids(_small_model("I3D"))


def test_layer_decay_trains_with_the_decayed_rates(nine_videos, tmp_path, monkeypatch):
    rates = []
    original = VideoTrainer.create_optimizer

    def record(self, model=None):
        optimizer = original(self, model)
        rates.extend(group["lr"] for group in optimizer.param_groups)
        return optimizer

    monkeypatch.setattr(VideoTrainer, "create_optimizer", record)
    training.train(tiny_config(nine_videos, tmp_path / "out", layer_decay=0.5, max_steps=1, warmup_fraction=0))
    # Two blocks: rates 1e-3 * 0.5 ** (3 - id) for ids 0..3, each with and without weight decay.
    assert sorted(set(rates)) == pytest.approx([1e-3 / 8, 1e-3 / 4, 1e-3 / 2, 1e-3])


@pytest.mark.parametrize("name", [a.name for a in ARCHITECTURES if a.classification_class is not None])
def test_freeze_backbone_leaves_the_classifiers(name):
    model = _small_model(name)
    head = parameter_groups.freeze_backbone(model)
    assert head and all("classifier" in n.split(".") for n in head)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == set(head)
    frozen = parameter_groups.frozen_modules(model)
    assert frozen and not any(p.requires_grad for module in frozen for p in module.parameters())


def test_linear_probe_changes_only_the_head(nine_videos, tmp_path, monkeypatch):
    """A small TSN (BatchNorm throughout): after training, every weight and BatchNorm statistic of the backbone is
    as initialised, the classifier moved."""
    initial = {}
    build = training.build_model_and_processor

    def build_and_keep(*args, **kwargs):
        model, processor = build(*args, **kwargs)
        initial.update({k: v.clone() for k, v in model.state_dict().items()})
        return model, processor

    monkeypatch.setattr(training, "build_model_and_processor", build_and_keep)
    tsn_overrides, _ = demo.small_training_overrides(find_architecture("TSN"))
    result = training.train(
        tiny_config(nine_videos, tmp_path / "probe", architecture="tsn", freeze_backbone=True, max_steps=2,
                    config_overrides={**tsn_overrides, "num_frames": 4, "image_size": 32})
    )
    trained = load_file(result.output_dir / "model.safetensors")
    changed = {name for name, tensor in trained.items() if not torch.equal(tensor, initial[name])}
    assert changed == {"classifier.weight", "classifier.bias"}
    assert any("running_mean" in name for name in trained)  # BatchNorm statistics are saved, and compared


def test_tensorboard_logs(nine_videos, tmp_path, monkeypatch):
    result = training.train(tiny_config(nine_videos, tmp_path / "out", tensorboard=True, max_steps=2))
    assert list((result.output_dir / "tensorboard").glob("events.out.tfevents.*"))
    import transformers.integrations

    monkeypatch.setattr(transformers.integrations, "is_tensorboard_available", lambda: False)
    with pytest.raises(UserInputError, match=r"pip install 'hf-videomodels\[tensorboard\]'"):
        training.train(tiny_config(nine_videos, tmp_path / "none", tensorboard=True))


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"save_checkpoints": "often"}, "save_checkpoints"),
        ({"save_checkpoints": "0"}, "save_checkpoints"),
        ({"save_total_limit": 0}, "save_total_limit"),
        ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"label_smoothing": -0.1}, "label_smoothing"),
        ({"mixup_alpha": -1}, "mixup_alpha"),
        ({"cutmix_alpha": float("nan")}, "cutmix_alpha"),
        ({"layer_decay": 0}, "layer_decay"),
        ({"layer_decay": 1.0}, "layer_decay"),
        ({"freeze_backbone": True, "layer_decay": 0.75}, "freeze_backbone"),
        ({"freeze_backbone": True, "gradient_checkpointing": True}, "freeze_backbone"),
    ],
)
def test_recipe_settings_are_checked(settings, message):
    with pytest.raises(UserInputError, match=message):
        tiny_config("data", "out", **settings)


def test_cli_recipe_options(capsys):
    args = build_parser().parse_args(
        ["train", "D", "--output", "O", "--architecture", "vivit", "--save-checkpoints", "epoch", "--save-total-limit",
         "2", "--resume-from-checkpoint", "last", "--gradient-accumulation-steps", "4", "--gradient-checkpointing",
         "--label-smoothing", "0.1", "--mixup-alpha", "0.8", "--cutmix-alpha", "1", "--layer-decay", "0.75",
         "--tensorboard"]
    )
    config = train_config_from_args(args)
    assert (config.save_checkpoints, config.save_total_limit, config.resume_from_checkpoint) == ("epoch", 2, "last")
    assert (config.gradient_accumulation_steps, config.gradient_checkpointing, config.tensorboard) == (4, True, True)
    assert (config.label_smoothing, config.mixup_alpha, config.cutmix_alpha, config.layer_decay) == (0.1, 0.8, 1, 0.75)
    assert cli_main(["train", "D", "--output", "O", "--architecture", "vivit", "--save-checkpoints", "x"]) == 2
    assert "save_checkpoints (--save-checkpoints) must be no, epoch or a positive number" in capsys.readouterr().err
