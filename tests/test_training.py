"""hf-videomodels train: data loading through datasets, Trainer fine-tuning, what it writes, push_to_hub."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import torch
from transformers import AutoModelForVideoClassification, pipeline

from hf_videomodels import demo, training
from hf_videomodels.cli import main as cli_main
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
    data = training.load_video_folder(motion_folder, val_fraction=0.2, seed=0)
    names = data["train"].features["label"].names
    assert names == sorted(demo.DIRECTIONS)
    assert len(data["train"]) == 16 and len(data["validation"]) == 4
    assert sorted(data["validation"]["label"]) == [0, 1, 2, 3]


def test_load_video_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        training.load_video_folder(tmp_path / "missing")
    (tmp_path / "only_class").mkdir()
    write_video(demo.motion_clip("left_to_right", np.random.default_rng(0)), tmp_path / "only_class/a.mp4")
    with pytest.raises(ValueError, match="at least two class"):
        training.load_video_folder(tmp_path)


def test_top_k_metric():
    compute = training.top_k_metrics(num_labels=6)

    class Prediction:
        # Hit at rank 1; the true class ranked last (miss); the true class ranked 3rd (top-5 hit only).
        predictions = np.array([[0.0, 3, 2, 1, 0.5, 0.2], [5.0, 4, 3, 2, 1, 0], [0.0, 1, 2, 3, 4, 5]])
        label_ids = np.array([1, 5, 3])

    result = compute(Prediction)
    assert result["top1_accuracy"] == pytest.approx(1 / 3)
    assert result["top5_accuracy"] == pytest.approx(2 / 3)


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
