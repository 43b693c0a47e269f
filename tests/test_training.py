"""hf-videomodels train: data loading through datasets, Trainer fine-tuning, what it writes, push_to_hub."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import torch
from transformers import AutoModelForVideoClassification, pipeline

from hf_videomodels import demo, training
from hf_videomodels.cli import build_parser
from hf_videomodels.cli import main as cli_main
from hf_videomodels.errors import UserInputError
from hf_videomodels.training_args import TrainConfig, train_config_from_args
from hf_videomodels.video_io import read_video, write_video

TINY_TIMESFORMER = {
    "image_size": 32,
    "patch_size": 16,
    "num_frames": 4,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
TINY_PROCESSOR = {
    "num_frames": 4,
    "size": {"shortest_edge": 32},
    "crop_size": {"height": 32, "width": 32},
}


@pytest.fixture(scope="module")
def motion_folder(tmp_path_factory):
    return demo.make_motion_dataset(tmp_path_factory.mktemp("motion"), videos_per_class=5, seed=3)


def test_motion_clips_need_time_to_classify():
    """Any single frame is a square at a random place: per-class mean frames are alike; the motion differs."""
    rng = np.random.default_rng(0)
    clips = {d: np.stack([demo.motion_clip(d, rng) for _ in range(200)]) for d in demo.DIRECTIONS}
    means = {d: c.astype(np.float32).mean(axis=(0, 1)) for d, c in clips.items()}
    reference = means["left_to_right"]
    for direction, mean in means.items():
        # The average single frame is nearly flat and the same for every class (no position cue).
        assert np.abs(mean - reference).mean() < 4.0, direction
    # But the frame-to-frame displacement identifies the class: the brightest column/row moves as labelled.
    clip = demo.motion_clip("left_to_right", np.random.default_rng(1)).astype(np.float32).mean(-1)
    columns = clip.mean(axis=1)  # (T, W)
    shifts = [np.argmax(np.correlate(np.tile(columns[t], 2), columns[t + 1], "valid")) for t in range(3)]
    assert all(s != 0 for s in shifts)


def test_write_video_is_a_real_file(tmp_path):
    frames = demo.motion_clip("top_to_bottom", np.random.default_rng(0))
    path = write_video(frames, tmp_path / "clip.mp4")
    decoded, info = read_video(path)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(np.float32) - frames).mean() < 12  # lossy H.264, but the same picture


def test_load_video_folder_splits_stratified(motion_folder):
    folder = training.load_video_folder(motion_folder, val_fraction=0.2, seed=0)
    data, names = folder.splits, folder.class_names
    assert names == sorted(demo.DIRECTIONS)
    assert len(data["train"]) == 16 and len(data["validation"]) == 4
    assert sorted(data["validation"]["label"]) == [0, 1, 2, 3]


def test_load_video_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        training.load_video_folder(tmp_path / "missing")
    (tmp_path / "only_class").mkdir()
    write_video(demo.motion_clip("left_to_right", np.random.default_rng(0)), tmp_path / "only_class/a.mp4")
    with pytest.raises(UserInputError, match="at least two class"):
        training.load_video_folder(tmp_path)


def test_top_k_metric():
    compute = training.top_k_metrics(num_labels=6)

    class Prediction:
        # Hit at rank 1; the true class ranked last (miss); the true class ranked 3rd (top-5 hit only).
        predictions = np.array([[0.0, 3, 2, 1, 0.5, 0.2], [5.0, 4, 3, 2, 1, 0], [0.0, 1, 2, 3, 4, 5]])
        label_ids = np.array([1, 5, 3])

    result = compute(Prediction)
    loss = torch.nn.functional.cross_entropy(torch.tensor(Prediction.predictions).float(), torch.tensor([1, 5, 3]))
    assert result == {
        "loss": pytest.approx(loss.item()), "top1_accuracy": pytest.approx(1 / 3), "top5_accuracy": pytest.approx(2 / 3)
    }


@pytest.mark.parametrize("num_labels", [2, 3, 5])
def test_top_k_metric_only_below_the_class_count(num_labels):
    """Top-5 of five classes or fewer is 1 whatever the model does: it is not reported."""

    class Prediction:
        predictions = -np.eye(num_labels)  # every video's true class ranked last
        label_ids = np.arange(num_labels)

    result = training.top_k_metrics(num_labels)(Prediction)
    assert set(result) == {"loss", "top1_accuracy"} and result["top1_accuracy"] == 0.0


def test_train_writes_a_complete_model_folder(motion_folder, tmp_path, monkeypatch):
    pushed = []
    monkeypatch.setattr(huggingface_hub, "HfApi", _recording_hub_api(pushed))
    out = tmp_path / "run"
    result = training.train(
        training.TrainConfig(
            data_dir=motion_folder,
            output_dir=out,
            architecture="timesformer",
            config_overrides=TINY_TIMESFORMER,
            processor_overrides=TINY_PROCESSOR,
            epochs=2,
            batch_size=4,
            push_to_hub="someone/tiny-motion",
            show_progress=False,
        )
    )
    assert pushed == [("create_repo", "someone/tiny-motion"), ("upload_folder", "someone/tiny-motion", str(out))]
    for name in ("model.safetensors", "config.json", "video_preprocessor_config.json", "README.md"):
        assert (out / name).is_file(), name
    assert (out / "training_curve.png").stat().st_size > 1000
    # 8 steps: the loss is logged every step (not every 5th), so the curve has points; no empty checkpoints/.
    assert [entry["step"] for entry in result.log_history if "loss" in entry] == list(range(1, 9))
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == []
    config = json.loads((out / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(4)] == sorted(demo.DIRECTIONS)
    card = (out / "README.md").read_text()
    assert f"{result.metrics['eval_top1_accuracy']:.4f}" in card
    assert any("loss" in entry for entry in result.log_history)

    model = AutoModelForVideoClassification.from_pretrained(out)
    assert model.config.num_labels == 4
    predictions = pipeline("video-classification", model=str(out))(
        str(next(motion_folder.glob("left_to_right/*.mp4"))), top_k=4
    )
    assert sorted(p["label"] for p in predictions) == sorted(demo.DIRECTIONS)


def test_fine_tune_from_pretrained_folder_replaces_head(motion_folder, tmp_path):
    torch.manual_seed(0)
    from hf_videomodels import TimeSformerConfig, TimeSformerForVideoClassification, TimeSformerVideoProcessor

    source = tmp_path / "pretrained"
    config = TimeSformerConfig(num_labels=7, **TINY_TIMESFORMER)
    TimeSformerForVideoClassification(config).save_pretrained(source)
    TimeSformerVideoProcessor(**TINY_PROCESSOR).save_pretrained(source)
    result = training.train(
        training.TrainConfig(
            data_dir=motion_folder, output_dir=tmp_path / "tuned", model=str(source), max_steps=2,
            batch_size=4, show_progress=False,
        )
    )
    tuned = AutoModelForVideoClassification.from_pretrained(result.output_dir)
    assert tuned.config.num_labels == 4
    original = TimeSformerForVideoClassification.from_pretrained(source)
    # The backbone started from the pretrained weights (the embeddings moved only by two small steps).
    name, weight = next(iter(original.base_model.state_dict().items()))
    assert torch.allclose(tuned.base_model.state_dict()[name], weight, atol=0.05)


def test_cli_train_and_classify(motion_folder, tmp_path, capsys):
    out = tmp_path / "cli"
    code = cli_main(
        [
            "train", str(motion_folder), "--output", str(out), "--architecture", "timesformer",
            "--config", json.dumps(TINY_TIMESFORMER), "--processor", json.dumps(TINY_PROCESSOR),
            "--max-steps", "2", "--batch-size", "4", "--num-workers", "0",
        ]
    )
    assert code == 0
    video = next(motion_folder.glob("top_to_bottom/*.mp4"))
    assert cli_main(["classify", str(video), "--model", str(out), "--top-k", "2"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()][-2:]
    assert all(line.split()[1] in demo.DIRECTIONS for line in lines)
    assert cli_main(["classify", str(tmp_path / "nope.mp4"), "--model", str(out)]) == 2


# ------------------------------------------------------------------ settings, overrides and data-set edge cases


def _tiny_config(data_dir, output_dir, **settings) -> TrainConfig:
    """A tiny TimeSformer trained for a few steps (seconds) on ``data_dir``."""
    defaults = {
        "architecture": "timesformer", "config_overrides": TINY_TIMESFORMER, "processor_overrides": TINY_PROCESSOR,
        "max_steps": 3, "batch_size": 2, "show_progress": False,
    }
    return TrainConfig(data_dir=data_dir, output_dir=output_dir, **{**defaults, **settings})


def _write_classes(root: Path, videos_per_class: dict[str, int], seed: int = 0) -> Path:
    """Real 8-frame 32x32 H.264 files: ``root/<direction>/<i>.mp4``."""
    rng = np.random.default_rng(seed)
    for direction, count in videos_per_class.items():
        for i in range(count):
            write_video(demo.motion_clip(direction, rng, num_frames=8, size=32), root / direction / f"{i}.mp4", fps=8)
    return root


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory):
    return _write_classes(tmp_path_factory.mktemp("three"), dict.fromkeys(list(demo.DIRECTIONS)[:3], 3))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epochs": 0, "max_steps": -1}, "epochs"),
        ({"epochs": -1, "max_steps": -1}, "epochs"),
        ({"epochs": float("nan"), "max_steps": -1}, "epochs"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_steps": -2}, "max_steps"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"eval_batch_size": 0}, "eval_batch_size"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"num_workers": -1}, "num_workers"),
        ({"warmup_fraction": 1.5}, "warmup_fraction"),
        ({"logging_steps": 0}, "logging_steps"),
        ({"architecture": None}, "exactly one of model"),
        ({"model": "some/model"}, "exactly one of model"),
    ],
)
def test_train_config_refuses_invalid_settings(settings, message):
    with pytest.raises(UserInputError, match=message):
        _tiny_config("data", "out", **settings)


def test_epochs_are_not_checked_when_max_steps_is_set():
    assert _tiny_config("data", "out", epochs=0, max_steps=2).max_steps == 2


def test_cli_train_options_are_train_config_fields(capsys):
    """One definition: the parsed defaults are TrainConfig's, every field has an option, --help shows defaults."""
    args = build_parser().parse_args(["train", "DATA", "--output", "OUT", "--architecture", "i3d"])
    assert train_config_from_args(args) == TrainConfig(data_dir="DATA", output_dir="OUT", architecture="i3d")
    args = build_parser().parse_args(
        ["train", "D", "--output", "O", "--model", "m", "--config", '{"num_frames": 8}', "--num-workers", "3",
         "--bf16", "--val-fraction", "0", "--push-to-hub", "me/x", "--no-show-progress"]
    )
    config = train_config_from_args(args)
    assert (config.config_overrides, config.num_workers, config.bf16) == ({"num_frames": 8}, 3, True)
    assert config.val_fraction == 0
    assert (config.push_to_hub, config.show_progress) == ("me/x", False)
    args = build_parser().parse_args(["train", "D", "--output", "O", "--architecture", "i3d", "--epochs", "0"])
    with pytest.raises(UserInputError, match="epochs"):
        train_config_from_args(args)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for shown in ("--epochs EPOCHS passes over the training videos (> 0) (default: 3.0)", "(default: 0.0005)",
                  "--num-workers NUM_WORKERS", "(default: 0)", "--val-fraction", "(default: 0.2)"):
        assert shown in help_text, shown


def test_train_has_a_docstring():
    assert "output folder" in training.train.__doc__


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"config_overrides": {**TINY_TIMESFORMER, "num_frame": 4}}, "'num_frame' \\(did you mean 'num_frames'\\?\\)"),
        ({"config_overrides": {**TINY_TIMESFORMER, "id2label": {0: "a"}}}, "id2label: set from the data"),
        ({"processor_overrides": {**TINY_PROCESSOR, "crop_sise": 32}}, "'crop_sise' \\(did you mean 'crop_size'\\?\\)"),
    ],
)
def test_unknown_override_keys_are_refused(three_classes, tmp_path, overrides, message):
    with pytest.raises(UserInputError, match=message) as refused:
        training.train(_tiny_config(three_classes, tmp_path / "out", **overrides))
    assert "Valid keys:" in str(refused.value) or "id2label" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_unknown_override_keys_are_refused_when_fine_tuning(three_classes, tmp_path):
    from hf_videomodels import TimeSformerConfig, TimeSformerForVideoClassification, TimeSformerVideoProcessor

    source = tmp_path / "pretrained"
    TimeSformerForVideoClassification(TimeSformerConfig(**TINY_TIMESFORMER)).save_pretrained(source)
    TimeSformerVideoProcessor(**TINY_PROCESSOR).save_pretrained(source)
    for overrides, typo in (({"config_overrides": {"hiden_dropout_prob": 0.1}}, "hidden_dropout_prob"),
                            ({"processor_overrides": {"num_clip": 2}}, "num_clips")):
        settings = {"architecture": None, "model": str(source), "config_overrides": {}, "processor_overrides": {}}
        with pytest.raises(UserInputError, match=f"did you mean '{typo}'"):
            training.train(_tiny_config(three_classes, tmp_path / "out", **{**settings, **overrides}))


def test_val_fraction_zero_trains_without_validation(three_classes, tmp_path):
    assert list(training.load_video_folder(three_classes, val_fraction=0).splits) == ["train"]
    result = training.train(_tiny_config(three_classes, tmp_path / "out", val_fraction=0))
    assert not any(key.startswith("eval_") for entry in result.log_history for key in entry)
    assert "train_loss" in result.metrics and not any("accuracy" in key for key in result.metrics)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "no validation split" in card and "Trained from scratch" in card and "| train_loss |" in card


def test_val_fraction_too_small_for_the_classes_says_the_minimum(motion_folder):
    # 20 videos, 4 classes: 0.1 holds out 2 videos, one per class needs 4, i.e. a fraction of at least 0.2.
    with pytest.raises(UserInputError, match="fewer than the 4 classes.*at least 0.2,"):
        training.load_video_folder(motion_folder, val_fraction=0.1)
    with pytest.raises(UserInputError, match="leaves 2 of 20 videos for training.*at most 0.8"):
        training.load_video_folder(motion_folder, val_fraction=0.9)
    with pytest.raises(UserInputError, match="below 1"):
        training.load_video_folder(motion_folder, val_fraction=1.0)


def test_a_class_with_one_video_is_kept_for_training_only(tmp_path, caplog):
    root = _write_classes(tmp_path, {"left_to_right": 1, "right_to_left": 4, "top_to_bottom": 4})
    folder = training.load_video_folder(root, val_fraction=0.25, seed=0)
    assert "single video, used for training only (never validated): left_to_right" in caplog.text
    train_labels = folder.splits["train"]["label"]
    assert train_labels.count(0) == 1 and sorted(folder.splits["validation"]["label"]) == [1, 2]
    assert len(train_labels) == 7
    with pytest.raises(UserInputError, match="every class has a single video"):
        training.load_video_folder(_write_classes(tmp_path / "singles", {"left_to_right": 1, "top_to_bottom": 1}))


def test_empty_class_folders_are_named_in_a_warning(three_classes, tmp_path, caplog):
    shutil.copytree(three_classes, tmp_path / "data")
    (tmp_path / "data" / "no_videos_yet").mkdir()
    (tmp_path / "data" / "only_notes" ).mkdir()
    (tmp_path / "data" / "only_notes" / "readme.txt").write_text("x")
    folder = training.load_video_folder(tmp_path / "data", val_fraction=0)
    assert len(folder.class_names) == 3
    assert "without readable video files" in caplog.text and "no_videos_yet, only_notes" in caplog.text


def test_corrupt_video_is_skipped_named_and_counted(three_classes, tmp_path, capsys, caplog):
    shutil.copytree(three_classes, tmp_path / "data")
    broken = tmp_path / "data" / "left_to_right" / "broken.mp4"
    whole = (tmp_path / "data" / "left_to_right" / "0.mp4").read_bytes()
    broken.write_bytes(whole[: len(whole) // 2])  # a download cut off half way
    out = tmp_path / "out"
    code = cli_main(
        ["train", str(tmp_path / "data"), "--output", str(out), "--architecture", "timesformer",
         "--config", json.dumps(TINY_TIMESFORMER), "--processor", json.dumps(TINY_PROCESSOR),
         "--max-steps", "2", "--batch-size", "2", "--val-fraction", "0.34", "--no-show-progress"]
    )
    assert code == 0
    assert str(broken) in caplog.text
    printed = capsys.readouterr().out
    assert "skipped 1 unreadable video(s)" in printed
    start = printed.rindex("{\n")  # the command's JSON, after Trainer's own log lines
    metrics = json.loads(printed[start : printed.index("\n}", start) + 2])
    assert set(metrics) >= {"eval_top1_accuracy", "eval_loss"} and "eval_top5_accuracy" not in metrics  # 3 classes
    assert "1 unreadable video file(s) were skipped" in (out / "README.md").read_text()


def test_bf16_trains_on_the_cpu(three_classes, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    autocast = []

    def record_autocast(module, args):
        autocast.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu"))

    build = training.build_model_and_processor
    monkeypatch.setattr(training, "build_model_and_processor", _hooked(build, record_autocast))
    result = training.train(_tiny_config(three_classes, tmp_path / "out", bf16=True, val_fraction=0))
    assert autocast and set(autocast) == {torch.bfloat16}
    losses = [entry["loss"] for entry in result.log_history if "loss" in entry]
    assert len(losses) == 3 and all(np.isfinite(losses))


def _hooked(build, hook):
    """``build_model_and_processor`` with a forward pre-hook on the backbone (inside the model's forward, which
    Accelerate wraps in autocast)."""

    def build_with_hook(*args, **kwargs):
        model, processor = build(*args, **kwargs)
        model.base_model.register_forward_pre_hook(hook)
        return model, processor

    return build_with_hook


def _recording_hub_api(calls):
    """Stands in for huggingface_hub.HfApi: records what would be pushed instead of reaching the network."""

    class RecordingApi:
        def create_repo(self, repo_id, exist_ok=False, **kwargs):
            calls.append(("create_repo", repo_id))

        def upload_folder(self, repo_id, folder_path, **kwargs):
            # Everything the folder must hold is already written when the upload starts.
            assert (Path(folder_path) / "model.safetensors").is_file()
            calls.append(("upload_folder", repo_id, folder_path))

    return RecordingApi


@pytest.mark.slow
def test_demo_main_job(tmp_path):
    """The README's main job with its embedded defaults: >= 90 % on held-out files, a pipeline answer, a picture."""
    result = demo.run_demo(output_dir=tmp_path / "demo", show_progress=False)
    assert result.heldout_accuracy >= 0.9, result
    assert result.example_predictions[0]["label"] == result.example_video.parent.name
    assert result.picture.stat().st_size > 10_000
    assert (tmp_path / "demo" / "model" / "model.safetensors").is_file()
