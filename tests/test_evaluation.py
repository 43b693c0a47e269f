"""hf-videomodels evaluate: the protocol from the processor (and overridden), both view fusions against a hand
computation from the per-view logits, the files written, the model card section, and the errors."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import PIL.Image
import pytest
import torch

from hf_videomodels import demo, evaluation
from hf_videomodels.cli import main as cli_main
from hf_videomodels.errors import UserInputError
from hf_videomodels.modeling_utils import fuse_views, view_logits
from hf_videomodels.model_card import (
    EVALUATION_END,
    EVALUATION_START,
    NOT_EVALUATED,
    render_model_card,
    replace_evaluation_section,
)
from hf_videomodels.registration import find_architecture
from hf_videomodels.video_io import VideoDecodingError

# The registry's small TimeSformer, on 4 frames of 32 pixels: fast enough for 6 views of every video.
TINY_CLIP = {"num_frames": 4, "image_size": 32}
# 2 clips x 3 crops; a 16-frame clip taken every frame, so the clips differ.
TINY_PROTOCOL = {"num_clips": 2, "num_crops": 3, "view_fusion": "softmax", "frame_sample_rate": 1, "target_fps": None}
CLASSES = sorted(demo.DIRECTIONS)


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    root = demo.make_motion_dataset(tmp_path_factory.mktemp("motion"), videos_per_class=3, seed=5)
    (root / "top_to_bottom" / "top_to_bottom_002.mp4").unlink()  # unequal support: mean class accuracy != top-1
    return root


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory, data_folder):
    """A random tiny TimeSformer for the motion classes, whose processor saves a 2 x 3 view softmax protocol. Its
    classifier is centred on the data (the mean logits subtracted), so its random predictions vary by video."""
    arch = find_architecture("TimeSformer")
    labels = {"num_labels": 4, "id2label": dict(enumerate(CLASSES)), "label2id": {n: i for i, n in enumerate(CLASSES)}}
    config = arch.config_class(**labels, **{**arch.small_config, **TINY_CLIP})
    torch.manual_seed(0)
    model = arch.classification_class(config).eval()
    processor = arch.video_processor_class.for_model_config(config, size={"shortest_edge": 40}, **TINY_PROTOCOL)
    with torch.no_grad():
        videos = [str(path) for path in sorted(data_folder.glob("*/*.mp4"))]
        model.classifier.bias -= model(processor(videos, return_tensors="pt")["pixel_values"]).logits.mean(dim=0)
    folder = tmp_path_factory.mktemp("model") / "tiny-timesformer"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    (folder / "README.md").write_text("# tiny\n\nA card written before the evaluation section existed.\n")
    return folder


def hand_scores(model_folder, paths, view_fusion: str, **call_options) -> np.ndarray:
    """Per video: the model on each of its views separately, combined with numpy."""
    model, processor = evaluation.load_classifier(model_folder)
    rows = []
    for path in paths:
        views = processor(path, return_tensors="pt", **call_options)["pixel_values"]
        views = views[0] if views.ndim == 6 else views
        with torch.no_grad():
            logits = np.stack([model(view[None]).logits[0].numpy() for view in views]).astype(np.float64)
        if view_fusion == "softmax":
            exp = np.exp(logits - logits.max(axis=1, keepdims=True))
            logits = exp / exp.sum(axis=1, keepdims=True)
        rows.append(logits.mean(axis=0))
    return np.stack(rows)


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_fuse_views_softmax_and_logits_by_hand():
    # One video, three views: one sure of class 0, two mildly for class 1. Averaged logits pick 0, averaged
    # probabilities pick 1: the fusion changes the prediction.
    view_logits = torch.tensor([[10.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
    by_logits = fuse_views(view_logits, 3, "logits")
    by_softmax = fuse_views(view_logits, 3, "softmax")
    assert torch.allclose(by_logits, torch.tensor([[10 / 3, 4 / 3]]))
    p0 = np.exp([10.0, 0.0]) / np.exp([10.0, 0.0]).sum()
    p1 = np.exp([0.0, 2.0]) / np.exp([0.0, 2.0]).sum()
    assert np.allclose(by_softmax.numpy(), [(p0 + 2 * p1) / 3], atol=1e-6)
    assert by_logits.argmax().item() == 0 and by_softmax.argmax().item() == 1
    # Two videos of two views each: views of a video are adjacent rows.
    two = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0], [0.0, 1.0]])
    assert torch.allclose(fuse_views(two, 2, "logits"), torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    with pytest.raises(ValueError, match="view_fusion"):
        fuse_views(two, 2, "max")


@pytest.mark.parametrize("view_fusion", ["softmax", "logits"])
def test_metrics_match_a_hand_computation(model_folder, data_folder, tmp_path, view_fusion):
    """The saved protocol (2 clips x 3 crops) with either fusion: metrics, predictions and the per-class report
    agree with per-view logits combined by hand."""
    override = None if view_fusion == "softmax" else "logits"  # softmax is the processor's own setting
    result = evaluation.evaluate_model(model_folder, data_folder, tmp_path, view_fusion=override, show_progress=False)
    assert result.protocol["views"] == 6 and result.protocol["view_fusion"] == view_fusion
    predictions = read_csv(result.files["predictions"])
    paths = [row["video"] for row in predictions]
    labels = np.array([CLASSES.index(row["label"]) for row in predictions])
    assert len(paths) == 11 and sorted(labels.tolist()) == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 2
    scores = hand_scores(model_folder, paths, view_fusion)
    predicted = scores.argmax(axis=1)
    assert [CLASSES[i] for i in predicted] == [row["predicted"] for row in predictions]
    probabilities = scores if view_fusion == "softmax" else np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert np.allclose([float(row["probability"]) for row in predictions], probabilities.max(axis=1), atol=1e-5)
    assert len(set(predicted.tolist())) > 1  # the test would be weak if every video got one class

    per_class = [np.mean(predicted[labels == c] == c) for c in range(4)]
    assert result.metrics["top1_accuracy"] == pytest.approx(np.mean(predicted == labels))
    assert result.metrics["mean_class_accuracy"] == pytest.approx(np.mean(per_class))
    assert "top5_accuracy" not in result.metrics  # four labels: top-5 is always 1
    report = read_csv(result.files["per_class"])
    assert [row["class"] for row in report] == CLASSES
    assert [float(row["accuracy"]) for row in report] == pytest.approx(per_class)
    assert [int(row["support"]) for row in report] == [3, 3, 3, 2]
    for c, row in enumerate(report):
        wrong = np.bincount(predicted[(labels == c) & (predicted != c)], minlength=4)
        assert row["most_confused_with"] == (CLASSES[wrong.argmax()] if wrong.any() else "")

    results = json.loads(result.files["results"].read_text())
    assert results["metrics"] == pytest.approx(result.metrics)
    assert results["protocol"]["overridden"] == ([] if override is None else ["view_fusion"])
    assert results["counts"] == {
        "videos_listed": 11,
        "videos_evaluated": 11,
        "unreadable_videos": 0,
        "classes_in_data": 4,
        "model_labels": 4,
    }
    assert results["preprocessing"]["num_clips"] == 2 and results["split"] == "all"
    with PIL.Image.open(result.files["confusion_matrix"]) as picture:
        assert picture.format == "PNG" and min(picture.size) > 300


def test_logits_fusion_equals_the_models_own_view_averaging(model_folder, data_folder):
    model, processor = evaluation.load_classifier(model_folder)
    pixel_values = processor(str(data_folder / "left_to_right/left_to_right_000.mp4"), return_tensors="pt")[
        "pixel_values"
    ]
    with torch.no_grad():
        own = model(pixel_values).logits
        folded, num_views = view_logits(model, {"pixel_values": pixel_values})
    assert folded.shape == (6, 4) and num_views == 6
    assert torch.allclose(fuse_views(folded, 6, "logits"), own, atol=1e-5)


def test_pipeline_follows_the_view_fusion(model_folder, data_folder, tmp_path):
    """The pipeline's scores are evaluate's fused scores: softmax fusion (the processor's) and logits (given)."""
    from transformers import pipeline

    classifier = pipeline("video-classification", model=str(model_folder))
    video = str(data_folder / "bottom_to_top/bottom_to_top_001.mp4")
    for view_fusion in ("softmax", "logits"):
        options = {} if view_fusion == "softmax" else {"view_fusion": "logits"}
        scores = {p["label"]: p["score"] for p in classifier(video, top_k=4, **options)}
        expected = hand_scores(model_folder, [video], view_fusion)[0]
        if view_fusion == "logits":
            expected = np.exp(expected - expected.max()) / np.exp(expected - expected.max()).sum()
        assert [scores[name] for name in CLASSES] == pytest.approx(expected, abs=1e-5)


def test_protocol_read_from_the_processor_and_overridden(model_folder):
    _, processor = evaluation.load_classifier(model_folder)
    same, protocol = evaluation.evaluation_processor(processor)
    assert same is processor
    saved = {"num_clips": 2, "num_crops": 3, "view_fusion": "softmax"}
    assert protocol == {**saved, "views": 6, "overridden": [], "saved": saved}
    changed, protocol = evaluation.evaluation_processor(processor, num_clips=1, num_crops=1, view_fusion="logits")
    assert (changed.num_clips, changed.num_crops, changed.view_fusion) == (1, 1, "logits")
    assert protocol["views"] == 1 and protocol["overridden"] == ["num_clips", "num_crops", "view_fusion"]
    assert protocol["saved"] == saved
    assert evaluation.evaluation_processor(processor, num_clips=2)[1]["overridden"] == []  # the saved value
    assert changed.num_frames == processor.num_frames and processor.num_clips == 2  # the rest kept, the saved untouched
    tsn = find_architecture("TSN").video_processor_class()
    with pytest.raises(UserInputError, match="num_clips must be 1"):
        evaluation.evaluation_processor(tsn, num_clips=2)


def test_cli_overrides_the_protocol_and_updates_the_card_once(model_folder, data_folder, tmp_path, capsys):
    card_folder = tmp_path / "model"
    shutil.copytree(model_folder, card_folder)
    argv = ["evaluate", str(data_folder), "--model", str(card_folder), "--output", str(tmp_path / "out")]
    argv += ["--num-clips", "1", "--num-crops", "1", "--view-fusion", "logits", "--update-card", "--no-progress"]
    assert cli_main(argv) == 0
    assert cli_main(argv) == 0  # a second run replaces the section
    out = capsys.readouterr().out
    assert "top1_accuracy" in out and "1 clip(s) x 1 crop(s), logits fusion" in out
    results = json.loads((tmp_path / "out/results.json").read_text())
    assert results["protocol"]["views"] == 1
    card = (card_folder / "README.md").read_text()
    assert card.count(EVALUATION_START) == 1 and card.count("## Evaluation") == 1
    assert card.startswith("# tiny")  # the rest of the card is kept
    assert f"| top1 accuracy | {results['metrics']['top1_accuracy']:.4f} |" in card
    saved = "2 clip(s) × 3 crop(s) = 6 views, their softmax probabilities averaged"
    assert f"Protocol: 1 view (one clip, one crop) (set for this run; the video processor saves {saved})." in card


def test_replace_evaluation_section_in_a_rendered_card():
    card = render_model_card("m", "TSN", None, [], None, "source", {})
    assert NOT_EVALUATED in card
    updated = replace_evaluation_section(replace_evaluation_section(card, "first"), "second")
    before = card[: card.index(EVALUATION_START)]
    assert updated == f"{before}{EVALUATION_START}\nsecond\n{EVALUATION_END}\n"


def test_unreadable_videos_are_skipped_named_and_counted(model_folder, data_folder, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(data_folder, data)
    (data / "left_to_right" / "broken.mp4").write_bytes(b"not a video")  # refused when the folder is listed
    undecodable = str(data / "right_to_left" / "right_to_left_001.mp4")  # opens, but fails at decoding
    processor_class = type(evaluation.load_classifier(model_folder)[1])
    original_call = processor_class.__call__

    def failing_call(self, videos, **kwargs):
        if videos == undecodable:
            raise VideoDecodingError(f"{videos}: corrupt frame")
        return original_call(self, videos, **kwargs)

    monkeypatch.setattr(processor_class, "__call__", failing_call)
    result = evaluation.evaluate_model(
        model_folder, data, tmp_path / "out", num_clips=1, num_crops=1, show_progress=False
    )
    results = json.loads(result.files["results"].read_text())
    assert results["counts"]["videos_listed"] == 12 and results["counts"]["videos_evaluated"] == 10
    assert results["counts"]["unreadable_videos"] == 2
    assert sorted(results["unreadable_videos"]) == sorted([str(data / "left_to_right" / "broken.mp4"), undecodable])
    assert result.num_videos == 10 and len(read_csv(result.files["predictions"])) == 10


def test_official_split_of_a_ucf101_layout(model_folder, data_folder, tmp_path):
    """A UCF101-style download (classInd.txt, train/test lists): --split 2's test list is what is evaluated."""
    root, lists = tmp_path / "ucf", tmp_path / "ucf" / "ucfTrainTestlist"
    shutil.copytree(data_folder, root / "UCF-101")
    lists.mkdir()
    (lists / "classInd.txt").write_text("".join(f"{i} {name}\n" for i, name in enumerate(CLASSES, 1)))
    videos = sorted(path.relative_to(root / "UCF-101").as_posix() for path in (root / "UCF-101").glob("*/*.mp4"))
    for split in (1, 2, 3):
        test = [video for i, video in enumerate(videos) if i % 3 == split - 1]
        train = [f"{video} {CLASSES.index(video.split('/')[0]) + 1}" for video in videos if video not in test]
        (lists / f"testlist{split:02d}.txt").write_text("\n".join(test) + "\n")
        (lists / f"trainlist{split:02d}.txt").write_text("\n".join(train) + "\n")
    argv = ["evaluate", str(root), "--model", str(model_folder), "--output", str(tmp_path / "out"), "--split", "2"]
    assert cli_main([*argv, "--num-clips", "1", "--num-crops", "1", "--no-progress"]) == 0
    results = json.loads((tmp_path / "out/results.json").read_text())
    expected = [str(root / "UCF-101" / video) for i, video in enumerate(videos) if i % 3 == 1]
    assert results["split"] == "validation" and results["counts"]["videos_evaluated"] == len(expected)
    assert sorted(row["video"] for row in read_csv(tmp_path / "out/predictions.csv")) == expected


def test_many_classes_picture_and_most_confused_pairs(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"class {i}" for i in range(400)]
    labels = np.repeat(np.arange(400), 3)
    predicted = np.where(rng.random(labels.size) < 0.7, labels, rng.integers(0, 400, labels.size))
    predicted[:3] = 7  # class 0's three videos all taken for class 7: the most confused pair
    matrix = evaluation.confusion_matrix(labels, predicted, 400)
    assert matrix.sum() == labels.size and np.trace(matrix) == np.sum(labels == predicted)
    pairs = evaluation.most_confused_pairs(matrix, names)
    assert pairs[0] == {"true": "class 0", "predicted": "class 7", "count": 3, "fraction": 1.0}
    assert [p["count"] for p in pairs] == sorted((p["count"] for p in pairs), reverse=True)
    path = evaluation.plot_confusion_matrix(matrix, names, tmp_path / "many.png")
    with PIL.Image.open(path) as picture:
        assert picture.format == "PNG" and picture.size[0] > 1000


def test_errors(model_folder, data_folder, tmp_path, capsys):
    with pytest.raises(UserInputError, match="no such folder"):
        evaluation.evaluate_model("./no_such_model", data_folder, tmp_path)
    with pytest.raises(UserInputError, match="not a model folder"):
        evaluation.evaluate_model(data_folder, data_folder, tmp_path)
    raft = tmp_path / "raft"
    find_architecture("RAFT").config_class().save_pretrained(raft)
    with pytest.raises(UserInputError, match="RAFT model, which does not classify videos"):
        evaluation.evaluate_model(raft, data_folder, tmp_path)
    with pytest.raises(FileNotFoundError):
        evaluation.evaluate_model(model_folder, tmp_path / "no_data", tmp_path)
    other = tmp_path / "other"
    for name in ("left_to_right", "spinning"):
        shutil.copytree(data_folder / "left_to_right", other / name)
    with pytest.raises(UserInputError, match="not labels of the model: spinning"):
        evaluation.evaluate_model(model_folder, other, tmp_path, show_progress=False)
    with pytest.raises(UserInputError, match="--num-workers must be at least 0"):
        evaluation.evaluate_model(model_folder, data_folder, tmp_path, num_workers=-1)
    with pytest.raises(UserInputError, match="give a local model folder"):
        evaluation.evaluate_model("someone/some-model", data_folder, tmp_path, update_card=True)
    assert cli_main(["evaluate", str(tmp_path / "no_data"), "--model", str(model_folder)]) == 2
    assert "no_data" in capsys.readouterr().err


def test_label_matching_ignores_case_and_underscores():
    id2label = {0: "playing guitar", 1: "Riding a bike", 2: "jumping"}
    assert evaluation.model_label_ids(["riding_a_bike", "Playing_Guitar"], id2label).tolist() == [1, 0]
