"""Video data sets as they lie on disk, listed into ``datasets`` splits for training and evaluation.

``load_video_folder`` reads one of these layouts (``layout="auto"`` tells them apart by their annotation files):

- ``folders``: ``DATA_DIR/<class>/<videos>`` (split here: ``val_fraction`` of each class is held out, stratified),
  or ``DATA_DIR/train/<class>/...`` plus ``DATA_DIR/validation/<class>/...`` (also ``val`` or ``test``).
  Classes in sorted order.
- ``ucf101``: ``UCF-101/<Class>/v_<Class>_gXX_cYY.avi`` with ``ucfTrainTestlist/`` (``classInd.txt``,
  ``trainlist0N.txt``, ``testlist0N.txt``), split 1-3. Classes in ``classInd.txt`` order.
- ``hmdb51``: ``<class>/<video>.avi`` with ``testTrainMulti_7030_splits/<class>_test_splitN.txt`` (each line
  ``<video>.avi 1|2|0``: train, test, unused), split 1-3. Classes in sorted order, as torchvision's HMDB51.
- ``kinetics``: the distributed ``train.csv`` and ``validate.csv`` (or ``val.csv``), read by their header, and
  videos named as the common downloaders name them, ``{youtube_id}_{time_start:06d}_{time_end:06d}.mp4``, in
  split folders (``train/``, ``val/`` or ``validate/``), with or without ``<label>/`` sub-folders. Classes in
  sorted order (the order of the published Kinetics label lists). Videos deleted from YouTube are missing from
  every copy: they are skipped, counted and named in a warning, and kept in ``VideoFolder.missing``.
- ``ssv2``: ``something-something-v2-labels.json``, ``-train.json`` and ``-validation.json`` (usually in
  ``labels/``) and ``<id>.webm`` videos (usually in ``20bn-something-something-v2/``). A video's class is its
  template without the brackets (``Putting [something] on [something]`` -> ``Putting something on something``).
  Classes in the order of the ids in the labels file.

The official test (or validation) list becomes the ``validation`` split, which ``Trainer`` evaluates; the data
set's own name for it is kept in ``VideoFolder.source_split_names``. A video listed by UCF101, HMDB51 or SSv2 but
not on disk is an error (those sets are complete when downloaded). Every listed file is opened once (its
metadata, no frames converted): files that are not readable videos are skipped, each named in a warning, and
kept in ``VideoFolder.unreadable``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value, concatenate_datasets
from tqdm.auto import tqdm

from .errors import UserInputError, suggest
from .training_args import LAYOUTS, check_val_fraction
from .video_io import VideoDecodingError, probe_video

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".gif", ".ogv"}
VALIDATION_SPLIT_NAMES = ("validation", "val", "test")
LAYOUT_NAMES = {
    "folders": "class folders",
    "ucf101": "UCF101",
    "hmdb51": "HMDB51",
    "kinetics": "Kinetics",
    "ssv2": "Something-Something v2",
}
NUMBERED_SPLITS = {"ucf101": 3, "hmdb51": 3}  # layouts with official splits 1..N; the others have one
# Where each layout's annotation files usually are, inside DATA_DIR (DATA_DIR itself is tried last).
ANNOTATION_FOLDERS = {
    "ucf101": ("ucfTrainTestlist",),
    "hmdb51": ("testTrainMulti_7030_splits", "test_train_splits"),
    "kinetics": ("annotations",),
    "ssv2": ("labels",),
}
UCF101_VIDEO_FOLDER = "UCF-101"
HMDB51_SPLIT_FILE = re.compile(r"(?P<label>.+)_test_split(?P<split>\d+)\.txt")
HMDB51_TAGS = {"1": "train", "2": "validation"}  # 0: not used in this split
KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")
KINETICS_LISTS = {"train": ("train.csv",), "validation": ("validate.csv", "val.csv")}
KINETICS_VIDEO_FOLDERS = {"train": ("train",), "validation": ("val", "validate", "validation")}
SSV2_LABELS = "something-something-v2-labels.json"
SSV2_LISTS = {"train": "something-something-v2-train.json", "validation": "something-something-v2-validation.json"}
SSV2_VIDEO_FOLDER = "20bn-something-something-v2"
NAMED_IN_MESSAGES = 5  # missing videos named in an error or warning; the rest are counted
PROBE_THREADS = 8  # opening a container waits on the disk more than on the CPU


@dataclass
class VideoFolder:
    """A data set listed for training or evaluation: its splits, and what of it was left out."""

    splits: DatasetDict  # "train", plus "validation" unless no validation split was asked for
    unreadable: list[Path]  # listed files that are not readable videos (skipped, each named in a warning)
    layout: str = "folders"
    split: int | None = None  # the official split number, for layouts that have several (UCF101, HMDB51)
    source_split_names: dict[str, str] = field(default_factory=dict)  # the data set's own name for each split
    missing: list[str] = field(default_factory=list)  # listed videos not on disk (Kinetics: deleted from YouTube)

    @property
    def class_names(self) -> list[str]:
        return self.splits["train"].features["label"].names

    def describe(self) -> str:
        """The layout and split in a few words, e.g. "UCF101 split 1 (train / test)"."""
        text = LAYOUT_NAMES[self.layout] + (f" split {self.split}" if self.split is not None else "")
        return f"{text} ({' / '.join(self.source_split_names[name] for name in self.splits)})"


# ------------------------------------------------------------------------------------------------ shared


def _is_readable_video(path: Path) -> bool:
    try:
        probe_video(path)
    except VideoDecodingError as error:
        logger.warning("skipping an unreadable video: %s", error)
        return False
    return True


def _readable_videos(paths: list[Path]) -> tuple[set[Path], list[Path]]:
    """Open every file once (metadata only): the readable ones, and the unreadable ones (each named in a warning)."""
    with ThreadPoolExecutor(min(PROBE_THREADS, os.cpu_count() or 1)) as pool:
        checks = pool.map(_is_readable_video, paths)
        readable = list(tqdm(checks, total=len(paths), desc="checking videos", unit="video", disable=None, leave=False))
    return {path for path, ok in zip(paths, readable) if ok}, [path for path, ok in zip(paths, readable) if not ok]


def _as_dataset(rows: list[tuple[Path, str]], class_names: list[str], source: str) -> Dataset:
    """``{"video": path, "label": ClassLabel}`` of ``(path, class name)`` rows; a class outside ``class_names``
    is named with ``source``, where it came from."""
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({name for _, name in rows} - set(index))
    if unknown:
        raise UserInputError(f"{source} has classes that the training data lacks: {', '.join(unknown[:10])}")
    features = Features({"video": Value("string"), "label": ClassLabel(names=class_names)})
    return Dataset.from_dict(
        {"video": [str(path) for path, _ in rows], "label": [index[name] for _, name in rows]}, features=features
    )


def _listed_folder(
    listed: dict[str, list[tuple[Path, str]]], class_names: list[str], sources: dict[str, str], **facts
) -> VideoFolder:
    """The ``VideoFolder`` of listed ``(path, class)`` rows per split, without the files that are not readable."""
    readable, unreadable = _readable_videos([path for rows in listed.values() for path, _ in rows])
    splits = DatasetDict(
        {
            split: _as_dataset([row for row in rows if row[0] in readable], class_names, sources[split])
            for split, rows in listed.items()
        }
    )
    return VideoFolder(splits=splits, unreadable=unreadable, source_split_names=sources, **facts)


def _refuse_missing(paths: list[Path], listed_in: str, where: Path) -> None:
    """UCF101, HMDB51 and SSv2 are complete when downloaded: a listed video that is not on disk is an error."""
    if paths:
        named = ", ".join(path.name for path in paths[:NAMED_IN_MESSAGES])
        raise UserInputError(
            f"{len(paths)} video(s) listed in {listed_in} are not under {where} ({named}"
            f"{', ...' if len(paths) > NAMED_IN_MESSAGES else ''}); point DATA_DIR at the folder that holds them"
        )


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """The non-blank lines of a list file, stripped (the official lists have Windows line ends), numbered from 1."""
    if not path.is_file():
        raise UserInputError(f"annotation file not found: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(number, line.strip()) for number, line in enumerate(lines, 1) if line.strip()]


def _read_json(path: Path):
    if not path.is_file():
        raise UserInputError(f"annotation file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserInputError(f"{path} is not valid JSON: {error}") from None


def _index_videos(folder: Path) -> dict[str, Path]:
    """Every video file under ``folder`` (sub-folders too), by file name without extension."""
    index = {}
    for directory, _, files in os.walk(folder):
        for name in files:
            stem, extension = os.path.splitext(name)
            if extension.lower() in VIDEO_EXTENSIONS:
                path = Path(directory, name)
                if stem in index:
                    raise UserInputError(f"two files for one video: {index[stem]} and {path}; remove one")
                index[stem] = path
    return index


def _first_folder(root: Path, names: Iterable[str]) -> Path:
    """The first of ``root``'s sub-folders ``names`` that exists, else ``root`` itself."""
    return next((root / name for name in names if (root / name).is_dir()), root)


# ------------------------------------------------------------------------------------------------ layouts


def _has_kinetics_lists(folder: Path) -> bool:
    for name in (name for names in KINETICS_LISTS.values() for name in names):
        if (folder / name).is_file():
            with open(folder / name, newline="", encoding="utf-8") as file:
                if "youtube_id" in next(csv.reader(file), []):
                    return True
    return False


MARKERS = {  # whether a folder holds a layout's annotation files
    "ucf101": lambda folder: (folder / "classInd.txt").is_file(),
    "hmdb51": lambda folder: any(HMDB51_SPLIT_FILE.fullmatch(path.name) for path in folder.glob("*_test_split*.txt")),
    "kinetics": _has_kinetics_lists,
    "ssv2": lambda folder: (folder / SSV2_LABELS).is_file(),
}
MARKER_NAMES = {
    "ucf101": "classInd.txt",
    "hmdb51": "<class>_test_split<N>.txt",
    "kinetics": "train.csv / validate.csv with a youtube_id column",
    "ssv2": SSV2_LABELS,
}


def _candidate_folders(root: Path, annotations: Path | None, layout: str) -> list[Path]:
    if annotations is not None:
        return [annotations]
    return [root / name for name in ANNOTATION_FOLDERS[layout]] + [root]


def _annotation_folder(root: Path, annotations: Path | None, layout: str) -> Path:
    """The folder of ``layout``'s annotation files: ``annotations`` when given, else the usual places in ``root``."""
    candidates = _candidate_folders(root, annotations, layout)
    found = next((folder for folder in candidates if folder.is_dir() and MARKERS[layout](folder)), None)
    if found is None:
        raise UserInputError(
            f"no {MARKER_NAMES[layout]} in {' or '.join(map(str, candidates))}: the {LAYOUT_NAMES[layout]} layout needs "
            f"its annotation files; give their folder with --annotations"
        )
    return found


def detect_layout(root: Path, annotations: Path | None = None) -> str:
    """The layout whose annotation files are there; ``folders`` when there are none."""
    found = [
        layout
        for layout in MARKERS
        if any(folder.is_dir() and MARKERS[layout](folder) for folder in _candidate_folders(root, annotations, layout))
    ]
    if len(found) > 1:
        raise UserInputError(
            f"{annotations or root} holds the annotation files of several layouts ({', '.join(found)}); "
            f"choose one with --layout"
        )
    return found[0] if found else "folders"


def _class_folders(root: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """The readable video files of each class sub-folder of ``root``, and the unreadable ones (skipped).
    Folders left without videos are dropped, with a warning naming them."""
    files = {
        folder.name: sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
    }
    readable, unreadable = _readable_videos([path for paths in files.values() for path in paths])
    classes = {name: videos for name, paths in files.items() if (videos := [p for p in paths if p in readable])}
    empty = [name for name in files if name not in classes]
    if empty:
        logger.warning(
            "ignoring %d class folder(s) of %s without readable video files (%s): %s",
            len(empty),
            root,
            ", ".join(sorted(VIDEO_EXTENSIONS)),
            ", ".join(empty),
        )
    return classes, unreadable


def _load_folders(root: Path, val_fraction: float, seed: int) -> VideoFolder:
    validation_dir = next((root / name for name in VALIDATION_SPLIT_NAMES if (root / name).is_dir()), None)
    presplit = (root / "train").is_dir() and validation_dir is not None
    split_dirs = {"train": root / "train", "validation": validation_dir} if presplit else {"train": root}
    listed = {name: _class_folders(path) for name, path in split_dirs.items()}
    unreadable = [path for _, skipped in listed.values() for path in skipped]
    class_names = sorted(listed["train"][0])
    if len(class_names) < 2:
        raise UserInputError(
            f"{split_dirs['train']} must hold at least two class sub-folders of video files "
            f"({', '.join(sorted(VIDEO_EXTENSIONS))}); found {class_names or 'none'}"
        )
    rows = {
        name: [(path, label) for label, paths in classes.items() for path in paths]
        for name, (classes, _) in listed.items()
    }
    if presplit:
        splits = DatasetDict({name: _as_dataset(rows[name], class_names, str(split_dirs[name])) for name in rows})
        sources = {name: path.name for name, path in split_dirs.items()}
    else:
        splits = stratified_split(_as_dataset(rows["train"], class_names, str(root)), val_fraction, seed)
        sources = {"train": "train", "validation": f"{val_fraction:g} held out, stratified"}
    return VideoFolder(splits=splits, unreadable=unreadable, source_split_names=sources)


def _read_class_index(path: Path) -> list[str]:
    """UCF101's ``classInd.txt``: lines "1 ApplyEyeMakeup", numbered 1, 2, ... in order."""
    names = []
    for number, line in _read_lines(path):
        fields = line.split()
        if len(fields) != 2 or fields[0] != str(len(names) + 1):
            raise UserInputError(f"{path}:{number}: expected '{len(names) + 1} <ClassName>', got {line!r}")
        names.append(fields[1])
    return names


def _read_ucf101_list(path: Path, class_names: list[str], video_root: Path) -> list[tuple[Path, str]]:
    """``trainlist0N.txt`` ("Class/v_...avi 1", the 1-based class number) or ``testlist0N.txt`` ("Class/v_...avi")."""
    rows = []
    for number, line in _read_lines(path):
        video, *label = line.split()
        name = video.split("/")[0]
        if "/" not in video or name not in class_names or len(label) > 1:
            raise UserInputError(
                f"{path}:{number}: expected '<Class>/<video>.avi [class number]' with a class of classInd.txt, got {line!r}"
            )
        if label and label[0] != str(class_names.index(name) + 1):
            raise UserInputError(
                f"{path}:{number}: {video} is class {class_names.index(name) + 1} ({name}) in classInd.txt, "
                f"not {label[0]}"
            )
        rows.append((video_root / video, name))
    return rows


def _load_ucf101(root: Path, split: int, annotations: Path | None) -> VideoFolder:
    lists = _annotation_folder(root, annotations, "ucf101")
    class_names = _read_class_index(lists / "classInd.txt")
    video_root = _first_folder(root, [UCF101_VIDEO_FOLDER])
    files = {"train": f"trainlist{split:02d}.txt", "validation": f"testlist{split:02d}.txt"}
    listed = {name: _read_ucf101_list(lists / file, class_names, video_root) for name, file in files.items()}
    for name, rows in listed.items():
        _refuse_missing([path for path, _ in rows if not path.is_file()], files[name], video_root)
    return _listed_folder(listed, class_names, {"train": "train", "validation": "test"}, layout="ucf101", split=split)


def _load_hmdb51(root: Path, split: int, annotations: Path | None) -> VideoFolder:
    lists = _annotation_folder(root, annotations, "hmdb51")
    found = [(match, path) for path in sorted(lists.iterdir()) if (match := HMDB51_SPLIT_FILE.fullmatch(path.name))]
    files = {match["label"]: path for match, path in found if match["split"] == str(split)}
    without = sorted({match["label"] for match, _ in found} - set(files))
    if not files or without:
        raise UserInputError(
            f"{lists} has no <class>_test_split{split}.txt for {', '.join(without[:10]) or 'any class'}; "
            f"HMDB51 has one per class for each of the splits 1-3"
        )
    class_names = sorted(files)
    listed = {"train": [], "validation": []}
    for label, path in files.items():
        for number, line in _read_lines(path):
            fields = line.split()
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise UserInputError(
                    f"{path}:{number}: expected '<video>.avi 0|1|2' (unused, train, test), got {line!r}"
                )
            if fields[1] in HMDB51_TAGS:
                listed[HMDB51_TAGS[fields[1]]].append((root / label / fields[0], label))
    for rows in listed.values():
        _refuse_missing([path for path, _ in rows if not path.is_file()], f"{lists}/*_test_split{split}.txt", root)
    return _listed_folder(listed, class_names, {"train": "train", "validation": "test"}, layout="hmdb51", split=split)


def _read_kinetics_list(path: Path) -> list[tuple[str, str]]:
    """``(file name without extension, label)`` of each row of a Kinetics CSV, its columns found by name."""
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        header = reader.fieldnames or []
        absent = [column for column in KINETICS_COLUMNS if column not in header]
        if absent:
            raise UserInputError(
                f"{path} has no {', '.join(absent)} column (header: {','.join(header) or 'none'}); a Kinetics list "
                f"needs the columns {','.join(KINETICS_COLUMNS)}"
            )
        rows = []
        for number, row in enumerate(reader, 2):
            try:
                start, end = int(float(row["time_start"])), int(float(row["time_end"]))
            except (TypeError, ValueError):
                raise UserInputError(
                    f"{path}:{number}: time_start and time_end must be seconds, got {row['time_start']!r}, "
                    f"{row['time_end']!r}"
                ) from None
            if not row["label"]:
                raise UserInputError(f"{path}:{number}: no label (an unlabelled list cannot be trained or evaluated)")
            rows.append((f"{row['youtube_id']}_{start:06d}_{end:06d}", row["label"]))
    if not rows:
        raise UserInputError(f"{path} lists no videos")
    return rows


def _load_kinetics(root: Path, annotations: Path | None) -> VideoFolder:
    lists = _annotation_folder(root, annotations, "kinetics")
    files = {}
    for split, names in KINETICS_LISTS.items():
        files[split] = next((lists / name for name in names if (lists / name).is_file()), None)
        if files[split] is None:
            raise UserInputError(f"no {' or '.join(names)} in {lists}: the Kinetics layout needs its {split} list")
    table = {split: _read_kinetics_list(path) for split, path in files.items()}
    class_names = sorted({label for _, label in table["train"]})
    unknown = sorted({label for _, label in table["validation"]} - set(class_names))
    if unknown:
        raise UserInputError(
            f"{files['validation']} has labels that {files['train'].name} lacks: {', '.join(unknown[:NAMED_IN_MESSAGES])}"
        )
    listed, missing, indexes = {}, [], {}
    for split, rows in table.items():
        folder = _first_folder(root, KINETICS_VIDEO_FOLDERS[split])
        videos = indexes[folder] = indexes.get(folder) or _index_videos(folder)
        absent = [stem for stem, _ in rows if stem not in videos]
        if len(absent) == len(rows):
            raise UserInputError(
                f"none of the {len(rows)} videos listed in {files[split]} is under {folder}; expected files named "
                f"<youtube_id>_<time_start:06d>_<time_end:06d>.mp4 (e.g. {rows[0][0]}.mp4), in {folder} or its "
                f"sub-folders"
            )
        if absent:
            logger.warning(
                "%d of the %d videos listed in %s are not under %s (deleted from YouTube?); skipped: %s%s",
                len(absent),
                len(rows),
                files[split].name,
                folder,
                ", ".join(absent[:NAMED_IN_MESSAGES]),
                ", ..." if len(absent) > NAMED_IN_MESSAGES else "",
            )
        listed[split] = [(videos[stem], label) for stem, label in rows if stem in videos]
        missing += absent
    sources = {split: path.stem for split, path in files.items()}
    return _listed_folder(listed, class_names, sources, layout="kinetics", missing=missing)


def _read_ssv2_labels(path: Path) -> list[str]:
    """Class names in the order of their ids in ``something-something-v2-labels.json`` ({"name": "0", ...})."""
    labels = _read_json(path)
    try:
        ids = {name: int(number) for name, number in labels.items()}
    except (AttributeError, TypeError, ValueError):
        raise UserInputError(
            f'{path}: expected an object of class names and ids, {{"Holding something": "0", ...}}'
        ) from None
    if sorted(ids.values()) != list(range(len(ids))):
        raise UserInputError(f"{path}: the class ids must be 0 to {len(ids) - 1}, each once")
    return sorted(ids, key=ids.get)


def _load_ssv2(root: Path, annotations: Path | None) -> VideoFolder:
    lists = _annotation_folder(root, annotations, "ssv2")
    class_names = _read_ssv2_labels(lists / SSV2_LABELS)
    known = set(class_names)
    video_root = _first_folder(root, [SSV2_VIDEO_FOLDER])
    videos = _index_videos(video_root)
    listed = {}
    for split, name in SSV2_LISTS.items():
        path, rows, absent = lists / name, [], []
        entries = _read_json(path)
        for entry in entries if isinstance(entries, list) else [entries]:
            try:
                video, template = str(entry["id"]), entry["template"]
            except (KeyError, TypeError):
                raise UserInputError(
                    f'{path}: expected a list of {{"id": ..., "template": ...}} objects, got {str(entry)[:80]}'
                ) from None
            label = template.replace("[", "").replace("]", "")
            if label not in known:
                raise UserInputError(
                    f"{path}: the template of video {video}, {template!r}, is not a class of {SSV2_LABELS}"
                )
            if video in videos:
                rows.append((videos[video], label))
            else:
                absent.append(video_root / f"{video}.webm")
        _refuse_missing(absent, name, video_root)
        listed[split] = rows
    return _listed_folder(listed, class_names, {"train": "train", "validation": "validation"}, layout="ssv2")


def load_video_folder(
    data_dir, val_fraction: float = 0.2, seed: int = 0, *, layout: str = "auto", split: int = 1, annotations=None
) -> VideoFolder:
    """List a data set (the layouts in the module docstring) into ``train`` and ``validation`` splits of
    ``{"video": path, "label": ClassLabel}``.

    ``val_fraction`` and ``seed`` split a folder of class folders (``val_fraction=0``: no validation split); the
    other layouts have official splits (``split`` picks UCF101's or HMDB51's 1-3). ``annotations`` is the
    folder of the annotation files (or a file in it) when they are not in ``data_dir``. Bad layouts, splits and
    annotation files raise ``UserInputError`` naming the file and what was expected.
    """
    check_val_fraction(val_fraction)
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if layout not in LAYOUTS:
        raise UserInputError(f"unknown layout {layout!r}{suggest(layout, LAYOUTS)}; choose one of {', '.join(LAYOUTS)}")
    if annotations is not None:
        annotations = Path(annotations)
        if annotations.is_file():
            annotations = annotations.parent
        elif not annotations.is_dir():
            raise FileNotFoundError(f"annotation folder not found: {annotations}")
    if layout == "auto":
        layout = detect_layout(root, annotations)
        if layout == "folders" and annotations is not None:
            raise UserInputError(
                f"{annotations} holds the annotation files of no layout (looked for {'; '.join(MARKER_NAMES.values())})"
            )
    elif layout == "folders" and annotations is not None:
        raise UserInputError("class folders have no annotation files: drop --annotations, or choose another --layout")
    if not 1 <= split <= NUMBERED_SPLITS.get(layout, 1):
        official = f"splits 1-{NUMBERED_SPLITS[layout]}" if layout in NUMBERED_SPLITS else "one split (--split 1)"
        raise UserInputError(f"--split {split}: the {layout} layout has {official}")
    if layout == "folders":
        return _load_folders(root, val_fraction, seed)
    if layout == "ucf101":
        return _load_ucf101(root, split, annotations)
    if layout == "hmdb51":
        return _load_hmdb51(root, split, annotations)
    if layout == "kinetics":
        return _load_kinetics(root, annotations)
    return _load_ssv2(root, annotations)


def stratified_split(full: Dataset, val_fraction: float, seed: int) -> DatasetDict:
    """Hold out ``val_fraction`` of the videos for validation, in proportion per class.

    No validation split for ``val_fraction=0``. A class with one video cannot be split: it is used for training
    only (with a warning). A fraction that would give either split fewer videos than there are classes is
    refused, with the fraction that works.
    """
    if val_fraction == 0:
        return DatasetDict({"train": full})
    names = full.features["label"].names
    labels = np.asarray(full["label"])
    counts = np.bincount(labels, minlength=len(names))
    single = counts[labels] == 1
    if single.any():
        logger.warning(
            "class(es) with a single video, used for training only (never validated): %s",
            ", ".join(names[i] for i in np.flatnonzero(counts == 1)),
        )
    num_videos, num_classes = int((~single).sum()), int((counts >= 2).sum())
    if num_classes == 0:
        raise UserInputError("every class has a single video: nothing can be validated; use --val-fraction 0")
    num_validation = math.ceil(val_fraction * num_videos)  # as datasets.Dataset.train_test_split counts
    if num_validation < num_classes:
        raise UserInputError(
            f"--val-fraction {val_fraction} holds out {num_validation} of {num_videos} videos for validation, fewer "
            f"than the {num_classes} classes with two videos or more; a stratified split needs one per class: use "
            f"at least {math.ceil(num_classes / num_videos * 1000) / 1000:g}, or 0 for no validation split"
        )
    if num_videos - num_validation < num_classes:
        raise UserInputError(
            f"--val-fraction {val_fraction} leaves {num_videos - num_validation} of {num_videos} videos for training, "
            f"fewer than the {num_classes} classes; use at most "
            f"{math.floor((num_videos - num_classes) / num_videos * 1000) / 1000:g}"
        )
    split = full.select(np.flatnonzero(~single)).train_test_split(
        test_size=val_fraction, stratify_by_column="label", seed=seed
    )
    train = (
        concatenate_datasets([split["train"], full.select(np.flatnonzero(single))]) if single.any() else split["train"]
    )
    return DatasetDict({"train": train, "validation": split["test"]})
