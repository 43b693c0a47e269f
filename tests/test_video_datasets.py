"""Data layouts of video_datasets, each built in miniature from real encoded files: class folders, UCF101 (AVI),
HMDB51 (AVI), Kinetics (MP4) and Something-Something v2 (VP9 WebM); their splits, labels, class order and errors."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoConfig

from hf_videomodels import demo
from hf_videomodels.cli import build_parser
from hf_videomodels.cli import main as cli_main
from hf_videomodels.errors import UserInputError
from hf_videomodels.training_args import train_config_from_args
from hf_videomodels.video_datasets import detect_layout, load_video_folder
from hf_videomodels.video_io import write_video

from .conftest import DATA_DIR, require_shared
from .test_training import TINY_PROCESSOR, TINY_TIMESFORMER

# Classes listed out of alphabetical order, so a loader that sorts instead of reading classInd.txt fails.
UCF_CLASSES = ("PlayingCello", "ApplyEyeMakeup", "HandstandPushups")
HMDB_CLASSES = ("wave", "brush_hair", "catch")
# The tags of each class's three videos per split (1 train, 2 test, 0 unused), as in *_test_splitN.txt.
HMDB_TAGS = {1: (1, 2, 0), 2: (2, 1, 1), 3: (1, 0, 2)}
KINETICS_LABELS = ("zumba", "air drumming", "abseiling")
VIDEO = {"youtube_id": "a", "time_start": 0, "time_end": 10}  # the columns of a Kinetics CSV row but its label
SSV2_LABELS = {
    "Putting something on something": "0",
    "Holding something": "1",
    "Pushing something from left to right": "2",
}
SSV2_TEMPLATES = ("Putting [something] on [something]", "Holding [something]", "Pushing [something] from left to right")


def _write_clip(path: Path, rng: np.random.Generator, codec: str) -> Path:
    """A real 8-frame 32x32 video (a square moving right) in the container of ``path``'s extension."""
    return write_video(demo.motion_clip("left_to_right", rng, num_frames=8, size=32), path, fps=8, codec=codec)


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="\r\n") as file:  # the official lists have Windows line ends
        file.write("\n".join(lines) + "\n")
    return path


def _annotation_copy(source: Path, destination: Path) -> Path:
    return Path(shutil.copytree(source, destination))


# ------------------------------------------------------------------------------------------------ UCF101


@pytest.fixture(scope="module")
def ucf101(tmp_path_factory) -> Path:
    """UCF-101/<Class>/v_<Class>_gXX_c01.avi (MPEG-4 part 2, as shipped) for groups 1-3, and ucfTrainTestlist/:
    split N tests on group N. HandstandPushups' files spell it HandStandPushups, as in the real set."""
    root, rng = tmp_path_factory.mktemp("ucf101"), np.random.default_rng(0)
    lists = root / "ucfTrainTestlist"
    _write_lines(lists / "classInd.txt", [f"{i} {name}" for i, name in enumerate(UCF_CLASSES, 1)])
    for split in (1, 2, 3):
        train, test = [], []
        for index, name in enumerate(UCF_CLASSES, 1):
            for group in (1, 2, 3):
                video = f"{name}/v_{name.replace('Handstand', 'HandStand')}_g{group:02d}_c01.avi"
                if split == 1:
                    _write_clip(root / "UCF-101" / video, rng, "mpeg4")
                (test.append(video) if group == split else train.append(f"{video} {index}"))
        _write_lines(lists / f"trainlist{split:02d}.txt", train)
        _write_lines(lists / f"testlist{split:02d}.txt", test)
    return root


@pytest.mark.parametrize("split", [1, 3])
def test_ucf101_official_split(ucf101, split):
    folder = load_video_folder(ucf101, split=split)
    assert (folder.layout, folder.split, folder.class_names) == ("ucf101", split, list(UCF_CLASSES))
    assert folder.source_split_names == {"train": "train", "validation": "test"}
    validation = folder.splits["validation"]
    assert sorted(Path(p).name[-10:-8] for p in validation["video"]) == [f"{split:02d}"] * 3
    assert len(folder.splits["train"]) == 6
    for path, label in zip(validation["video"], validation["label"]):
        assert Path(path).parent.name == UCF_CLASSES[label] and Path(path).is_file()
    assert folder.describe() == f"UCF101 split {split} (train / test)"


def test_ucf101_annotations_outside_the_data_folder(ucf101):
    """DATA_DIR is the video folder itself; --annotations names a file of the split folder (its folder is meant)."""
    folder = load_video_folder(ucf101 / "UCF-101", annotations=ucf101 / "ucfTrainTestlist" / "classInd.txt", split=2)
    assert folder.layout == "ucf101" and len(folder.splits["validation"]) == 3


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda lists: _write_lines(lists / "testlist01.txt", ["Knitting/v_Knitting_g01_c01.avi"]),
            r"testlist01.txt:1",
        ),
        (
            lambda lists: _write_lines(lists / "trainlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 3"]),
            r"trainlist01.txt:1: .* is class 2 \(ApplyEyeMakeup\) in classInd.txt, not 3",
        ),
        (
            lambda lists: _write_lines(lists / "classInd.txt", ["1 A", "3 B"]),
            r"classInd.txt:2: expected '2 <ClassName>'",
        ),
        (lambda lists: (lists / "testlist01.txt").unlink(), "annotation file not found: .*testlist01.txt"),
        (
            lambda lists: _write_lines(lists / "testlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g07_c01.avi"]),
            r"1 video\(s\) listed in testlist01.txt are not under .*UCF-101 \(v_ApplyEyeMakeup_g07_c01.avi\)",
        ),
    ],
)
def test_ucf101_inconsistent_lists_are_named(ucf101, tmp_path, edit, message):
    lists = _annotation_copy(ucf101 / "ucfTrainTestlist", tmp_path / "lists")
    edit(lists)
    with pytest.raises(UserInputError, match=message):
        load_video_folder(ucf101, annotations=lists)


@pytest.mark.parametrize("split", [0, 4])
def test_split_out_of_range(ucf101, split):
    with pytest.raises(UserInputError, match=f"--split {split}: the ucf101 layout has splits 1-3"):
        load_video_folder(ucf101, split=split)


# ------------------------------------------------------------------------------------------------ HMDB51


@pytest.fixture(scope="module")
def hmdb51(tmp_path_factory) -> Path:
    """<class>/<video>.avi and testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt (tags of HMDB_TAGS)."""
    root, rng = tmp_path_factory.mktemp("hmdb51"), np.random.default_rng(1)
    for name in HMDB_CLASSES:
        videos = [f"{name}_video_{i}_u_cm_np1_fr_med_{i}.avi" for i in range(3)]
        for video in videos:
            _write_clip(root / name / video, rng, "mpeg4")
        for split, tags in HMDB_TAGS.items():
            lines = [f"{video} {tag} " for video, tag in zip(videos, tags)]  # a trailing blank, as in the real files
            _write_lines(root / "testTrainMulti_7030_splits" / f"{name}_test_split{split}.txt", lines)
    return root


@pytest.mark.parametrize("split", [1, 2])
def test_hmdb51_official_split(hmdb51, split):
    folder = load_video_folder(hmdb51, split=split)
    assert (folder.layout, folder.class_names) == ("hmdb51", sorted(HMDB_CLASSES))  # sorted, as torchvision
    tags = HMDB_TAGS[split]
    for name, tag in (("train", 1), ("validation", 2)):
        data = folder.splits[name]
        expected = {f"{c}_video_{i}" for c in HMDB_CLASSES for i, t in enumerate(tags) if t == tag}
        assert {Path(p).name.split("_u_")[0] for p in data["video"]} == expected  # tag 0: in neither split
        assert [folder.class_names[label] for label in data["label"]] == [Path(p).parent.name for p in data["video"]]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lists: (lists / "catch_test_split3.txt").unlink(), "no <class>_test_split3.txt for catch"),
        (
            lambda lists: _write_lines(lists / "wave_test_split3.txt", ["wave_video_0.avi 3"]),
            r"wave_test_split3.txt:1: expected '<video>.avi 0\|1\|2'",
        ),
        (lambda lists: _write_lines(lists / "wave_test_split3.txt", ["gone.avi 1"]), r"are not under .* \(gone.avi\)"),
    ],
)
def test_hmdb51_inconsistent_splits_are_named(hmdb51, tmp_path, edit, message):
    lists = _annotation_copy(hmdb51 / "testTrainMulti_7030_splits", tmp_path / "splits")
    edit(lists)
    with pytest.raises(UserInputError, match=message):
        load_video_folder(hmdb51, split=3, annotations=lists)


# ------------------------------------------------------------------------------------------------ Kinetics


def _write_csv(path: Path, header: list[str], rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory) -> Path:
    """train.csv (K400's columns) and validate.csv (another column order); train/<label>/ and a flat val/ of
    <youtube_id>_<start:06d>_<end:06d>.mp4. One video of each split was never downloaded; one is corrupt."""
    root, rng = tmp_path_factory.mktemp("kinetics"), np.random.default_rng(2)
    for split, folder, header in (
        ("train", "train", ["label", "youtube_id", "time_start", "time_end", "split", "is_cc"]),
        ("val", "val", ["youtube_id", "time_start", "time_end", "label", "split"]),
    ):
        rows = []
        for index, label in enumerate(KINETICS_LABELS * 2):
            youtube_id = f"{split}Id{index:02d}-_x"
            rows.append({"label": label, "youtube_id": youtube_id, "time_start": 7 * index, "time_end": 7 * index + 10})
            name = f"{youtube_id}_{7 * index:06d}_{7 * index + 10:06d}.mp4"
            path = root / folder / (label if split == "train" else "") / name
            if index == 4:
                continue  # deleted from YouTube
            if split == "train" and index == 5:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"not a video")
                continue
            _write_clip(path, rng, "h264")
        _write_csv(
            root / ("validate.csv" if split == "val" else "train.csv"), header, [{**r, "split": split} for r in rows]
        )
    return root


def test_kinetics_lists_skip_missing_videos_with_a_warning(kinetics, caplog):
    with caplog.at_level(logging.WARNING):
        folder = load_video_folder(kinetics)
    assert (folder.layout, folder.class_names) == ("kinetics", sorted(KINETICS_LABELS))
    assert folder.source_split_names == {"train": "train", "validation": "validate"}
    assert folder.missing == ["trainId04-_x_000028_000038", "valId04-_x_000028_000038"]
    assert [p.name for p in folder.unreadable] == ["trainId05-_x_000035_000045.mp4"]
    warnings = [r.getMessage() for r in caplog.records if "not under" in r.getMessage()]
    assert len(warnings) == 2 and "1 of the 6 videos listed in train.csv" in warnings[0]
    assert "trainId04-_x_000028_000038" in warnings[0]
    assert (len(folder.splits["train"]), len(folder.splits["validation"])) == (4, 5)
    for data in folder.splits.values():
        for path, label in zip(data["video"], data["label"]):
            index = int(Path(path).name.split("Id")[1][:2])
            assert folder.class_names[label] == KINETICS_LABELS[index % 3]
    assert "Kinetics (train / validate)" == folder.describe()


def test_kinetics_class_order_is_the_published_label_list(tmp_path):
    """The classes of a train.csv naming every Kinetics-400 label, in a shuffled order: sorted, which is the order
    of the published list (the I3D checkpoints' logits)."""
    published = require_shared(DATA_DIR / "labels" / "kinetics400.txt").read_text().splitlines()
    header = ["label", "youtube_id", "time_start", "time_end", "split"]
    shuffled = np.random.default_rng(0).permutation(published)
    rows = [{**VIDEO, "label": label, "youtube_id": f"id{i}"} for i, label in enumerate(shuffled)]
    _write_csv(tmp_path / "train.csv", header, rows)
    _write_csv(tmp_path / "validate.csv", header, rows[:3])
    _write_clip(tmp_path / "id0_000000_000010.mp4", np.random.default_rng(0), "h264")  # the other 399 are missing
    assert load_video_folder(tmp_path).class_names == published


def test_kinetics_errors(kinetics, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    shutil.copy(kinetics / "train.csv", lists / "train.csv")
    with pytest.raises(UserInputError, match="no validate.csv or val.csv in"):
        load_video_folder(kinetics, layout="kinetics", annotations=lists)
    shutil.copy(kinetics / "validate.csv", lists / "val.csv")
    with pytest.raises(UserInputError, match=r"none of the 6 videos listed in .*train.csv is under .*; expected"):
        load_video_folder(tmp_path, layout="kinetics", annotations=lists)
    _write_csv(lists / "val.csv", ["label", "youtube_id", "time_start", "time_end"], [{"label": "yoga", **VIDEO}])
    with pytest.raises(UserInputError, match="val.csv has labels that train.csv lacks: yoga"):
        load_video_folder(kinetics, layout="kinetics", annotations=lists)
    header = ["youtube_id", "time_start", "time_end", "split"]  # the unlabelled test list's columns
    _write_csv(lists / "train.csv", header, [VIDEO])
    with pytest.raises(UserInputError, match=r"train.csv has no label column \(header: youtube_id,time_start"):
        load_video_folder(kinetics, layout="kinetics", annotations=lists)
    with pytest.raises(UserInputError, match="--split 2: the kinetics layout has one split"):
        load_video_folder(kinetics, split=2)


# ------------------------------------------------------------------------------------------------ SSv2


@pytest.fixture(scope="module")
def ssv2(tmp_path_factory) -> Path:
    """labels/ with the three JSON files and 20bn-something-something-v2/<id>.webm (VP9, as shipped)."""
    root, rng = tmp_path_factory.mktemp("ssv2"), np.random.default_rng(3)
    labels = root / "labels"
    labels.mkdir()
    (labels / "something-something-v2-labels.json").write_text(json.dumps(SSV2_LABELS))
    for split, first_id in (("train", 100), ("validation", 200)):
        entries = [
            {"id": str(first_id + i), "label": template.lower(), "template": template, "placeholders": ["a cup"]}
            for i, template in enumerate(SSV2_TEMPLATES * 2)
        ]
        (labels / f"something-something-v2-{split}.json").write_text(json.dumps(entries))
        for entry in entries:
            _write_clip(root / "20bn-something-something-v2" / f"{entry['id']}.webm", rng, "libvpx-vp9")
    return root


def test_ssv2_template_without_brackets_is_the_class(ssv2):
    folder = load_video_folder(ssv2)
    assert folder.layout == "ssv2"
    assert folder.class_names == sorted(SSV2_LABELS, key=SSV2_LABELS.get)  # the order of the ids
    assert folder.source_split_names == {"train": "train", "validation": "validation"}
    for name, first_id in (("train", 100), ("validation", 200)):
        data = folder.splits[name]
        assert [Path(p).name for p in data["video"]] == [f"{first_id + i}.webm" for i in range(6)]
        templates = [SSV2_TEMPLATES[i % 3].replace("[", "").replace("]", "") for i in range(6)]
        assert [folder.class_names[label] for label in data["label"]] == templates


def test_ssv2_errors(ssv2, tmp_path):
    labels = _annotation_copy(ssv2 / "labels", tmp_path / "labels")
    validation = labels / "something-something-v2-validation.json"
    validation.write_text(json.dumps([{"id": "200", "template": "Spinning [something]"}]))
    with pytest.raises(UserInputError, match=r"video 200, 'Spinning \[something\]', is not a class"):
        load_video_folder(ssv2, annotations=labels)
    validation.write_text(json.dumps([{"id": "999", "template": "Holding [something]"}]))
    with pytest.raises(
        UserInputError, match=r"listed in something-something-v2-validation.json are not under .*999.webm"
    ):
        load_video_folder(ssv2, annotations=labels)
    (labels / "something-something-v2-labels.json").write_text(json.dumps({"Holding something": "1"}))
    with pytest.raises(UserInputError, match="class ids must be 0 to 0"):
        load_video_folder(ssv2, annotations=labels)


# ------------------------------------------------------------------------------------------------ detection


def test_auto_detection(ucf101, hmdb51, kinetics, ssv2, tmp_path):
    for root, layout in ((ucf101, "ucf101"), (hmdb51, "hmdb51"), (kinetics, "kinetics"), (ssv2, "ssv2")):
        assert detect_layout(root) == layout
    (tmp_path / "a").mkdir()
    assert detect_layout(tmp_path) == "folders"
    shutil.copy(ucf101 / "ucfTrainTestlist" / "classInd.txt", tmp_path)
    shutil.copy(ssv2 / "labels" / "something-something-v2-labels.json", tmp_path)
    with pytest.raises(UserInputError, match=r"several layouts \(ucf101, ssv2\); choose one with --layout"):
        load_video_folder(tmp_path)
    with pytest.raises(UserInputError, match="holds the annotation files of no layout"):
        load_video_folder(ucf101, annotations=tmp_path / "a")
    with pytest.raises(UserInputError, match="no classInd.txt in"):
        load_video_folder(hmdb51, layout="ucf101")
    with pytest.raises(UserInputError, match="unknown layout 'ucf' .*did you mean 'ucf101'"):
        load_video_folder(ucf101, layout="ucf")


def test_class_folders_with_split_folders(tmp_path):
    rng = np.random.default_rng(4)
    for split, count in (("train", 2), ("val", 1)):
        for name in ("b", "a"):
            for i in range(count):
                _write_clip(tmp_path / split / name / f"{i}.mp4", rng, "h264")
    folder = load_video_folder(tmp_path, layout="folders")
    assert (folder.class_names, folder.source_split_names) == (["a", "b"], {"train": "train", "validation": "val"})
    assert (len(folder.splits["train"]), len(folder.splits["validation"])) == (4, 2)
    with pytest.raises(UserInputError, match="the folders layout has one split"):
        load_video_folder(tmp_path, split=2)


# ------------------------------------------------------------------------------------------------ training


def test_cli_layout_options():
    args = ["train", "D", "--output", "O", "--architecture", "i3d"]
    config = train_config_from_args(
        build_parser().parse_args([*args, "--layout", "hmdb51", "--split", "2", "--annotations", "splits"])
    )
    assert (config.layout, config.split, config.annotations) == ("hmdb51", 2, Path("splits"))
    with pytest.raises(SystemExit):
        build_parser().parse_args([*args, "--layout", "ucf"])


def test_train_on_ucf101_split(ucf101, tmp_path):
    """hf-videomodels train on the UCF101 miniature: the head follows classInd.txt, the card names the split."""
    out = tmp_path / "run"
    code = cli_main(
        ["train", str(ucf101), "--output", str(out), "--architecture", "timesformer", "--split", "2",
         "--config", json.dumps(TINY_TIMESFORMER), "--processor", json.dumps(TINY_PROCESSOR),
         "--max-steps", "2", "--batch-size", "3", "--no-show-progress"]
    )  # fmt: skip
    assert code == 0
    config = AutoConfig.from_pretrained(out)
    assert [config.id2label[i] for i in range(3)] == list(UCF_CLASSES)
    card = (out / "README.md").read_text()
    assert "6 training videos of UCF101 split 2 (train / test)" in card
    assert "measured on 3 validation videos (test)" in card
