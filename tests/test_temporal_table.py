"""The temporal table (hf_videomodels.temporal_table, ``hf-videomodels benchmark temporal``) on tiny data sets: one
tiny architecture trained for a fraction of an epoch through ``training.train`` and scored forwards and reversed,
architectures without a small_config listed as skipped; table, JSON and chart written; rows of other runs in the
same folder merged, finished rows kept on resume; the families' rows; the flow row from the command line, the
Farneback flow it trains on, and its skip without OpenCV."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import PIL.Image
import pytest

from hf_videomodels import temporal_table
from hf_videomodels.classical_flow import FarnebackFlow
from hf_videomodels.cli import main
from hf_videomodels.demo import DEMO_PROCESSOR_CONFIG, DIRECTIONS, motion_clip, small_training_overrides
from hf_videomodels.flow_processing import FlowVideoProcessor
from hf_videomodels.models.two_stream import TwoStreamVideoProcessor
from hf_videomodels.registration import architectures, find_architecture
from hf_videomodels.video_io import read_video, write_video

from .test_i3d_modeling import TINY

HEADER = "| architecture | parameters | training time | held-out top-1 | reversed top-1 | chance |"


def test_demo_processor_settings_reach_every_architecture():
    for name in ("I3D", "TimeSformer"):
        config, processor = small_training_overrides(find_architecture(name))
        assert processor.items() >= DEMO_PROCESSOR_CONFIG.items()  # all 16 frames at the file's rate, no flip
        assert config["num_frames"] == 16 and config["image_size"] == 64


def test_table_and_chart(tmp_path):
    i3d = find_architecture("I3D")
    tiny = dataclasses.replace(
        i3d, small_config={k: v for k, v in TINY.items() if k not in ("num_frames", "image_size")}
    )
    unsized = dataclasses.replace(find_architecture("TSN"), small_config={})
    budget = temporal_table.Budget(videos_per_class=2, heldout_per_class=1, epochs=0.5, batch_size=4, val_fraction=0.0)
    rows = temporal_table.run_temporal_table(tmp_path, [tiny, unsized], budget, show_progress=False)
    # In the registered order (TSN first), not the order asked for; the flow rows last.
    skipped, trained, skipped_flow = rows
    assert trained.architecture == "I3D" and 0 <= trained.heldout_top1 <= 1 and trained.parameters > 0
    assert 0 <= trained.reversed_top1 <= 1 and trained.chance == 0.25
    assert skipped.architecture == "TSN" and skipped.skipped == "no small_config registered"
    assert skipped_flow.architecture == "TSN flow stream" and skipped_flow.skipped == "no small_config registered"
    table = (tmp_path / "temporal_table.md").read_text()
    assert HEADER in table and "| I3D |" in table and "| TSN | skipped: no small_config registered |" in table
    assert "0.5 epochs" in table
    saved = json.loads((tmp_path / "temporal_table.json").read_text())
    assert [row["architecture"] for row in saved["rows"]] == ["TSN", "I3D", "TSN flow stream"]
    with PIL.Image.open(tmp_path / "temporal_table.png") as image:
        assert image.format == "PNG"
    processor = json.loads((tmp_path / "models" / "I3D" / "video_preprocessor_config.json").read_text())
    assert processor["num_frames"] == 16 and processor.get("target_fps") is None and not processor["do_flip"]


def test_rows_of_other_runs_are_merged_and_finished_rows_kept(tmp_path, monkeypatch):
    budget = temporal_table.Budget(videos_per_class=1, heldout_per_class=1, epochs=1, batch_size=4, val_fraction=0.0)

    def fake_train(entry, data, output_dir, budget, show_progress=False):
        assert data.train.is_dir() and data.heldout.is_dir()  # written before training
        return temporal_table.Row(entry.name, parameters=10, training_seconds=1.0, heldout_top1=0.5, chance=0.25)

    monkeypatch.setattr(temporal_table, "train_one", fake_train)
    # Another process (another budget, and the same budget) left rows in the folder; rows written before the
    # reversed column have none.
    other = temporal_table.Row("C3D", parameters=5, training_seconds=2.0, heldout_top1=0.75, chance=0.25)
    for name, row_budget in (("C3D", budget), ("LRCN", dataclasses.replace(budget, epochs=2))):
        path = temporal_table.row_file(tmp_path, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        row = {k: v for k, v in dataclasses.asdict(other).items() if k != "reversed_top1"} | {"architecture": name}
        path.write_text(json.dumps({"budget": dataclasses.asdict(row_budget), "row": row}))
    rows = temporal_table.run_temporal_table(
        tmp_path, budget=budget, rows=["vivit model 2", "TSN"], show_progress=False
    )
    assert [row.architecture for row in rows] == ["TSN", "C3D", "ViViT model 2"]  # LRCN: another budget
    assert "| C3D | 0.00 M | 0.0 min | 0.75 |  | 0.25 |" in (tmp_path / "temporal_table.md").read_text()

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished row was trained again")

    monkeypatch.setattr(temporal_table, "train_one", must_not_train)
    again = temporal_table.run_temporal_table(tmp_path, budget=budget, rows=["TSN"], resume=True, show_progress=False)
    assert again == rows
    with pytest.raises(
        ValueError, match="unknown row 'ViViT model 5' \\(did you mean 'ViViT model .'\\?\\); the rows are: TSN, "
    ):
        temporal_table.run_temporal_table(tmp_path, budget=budget, rows=["ViViT model 5"])


def test_every_row_has_a_valid_small_config():
    entries = temporal_table.table_entries(architectures())
    names = [entry.name for entry in entries]
    assert len(names) == len(set(names))
    for family, variants in temporal_table.VARIANTS.items():
        assert [f"{family} {variant}" for variant in variants] == [n for n in names if n.startswith(family + " ")]
    assert set(temporal_table.QUICK_ROWS) <= set(names)
    assert [entry.name for entry in entries if entry.flow] == ["TSN flow stream", "TwoStream TSN"]
    assert "TwoStream" not in names  # its input includes flow: no RGB-only row
    for entry in entries:
        config, _ = small_training_overrides(entry.architecture)
        entry.architecture.config_class(**{**config, **entry.config_overrides})  # validates the combination


def test_farneback_flow_of_a_sliding_square_points_its_way_and_is_cached(tmp_path):
    """The flow the flow rows train on: a square sliding right has flow pointing right (+x), one sliding up
    flow pointing up (-y), about the clip's speed (3-5 pixels per frame); the second call reads the cache."""
    rng = np.random.default_rng(0)
    processor = FlowVideoProcessor(
        **{**DEMO_PROCESSOR_CONFIG, "num_frames": 15}, mode="clip", input_name="pixel_values", bound=20
    )
    options = {"flow_model": FarnebackFlow(), "flow_cache_dir": str(tmp_path / "cache")}
    for direction, (dy, dx) in (("left_to_right", (0, 1)), ("bottom_to_top", (-1, 0))):
        video = write_video(motion_clip(direction, rng), tmp_path / f"{direction}.mp4", fps=12)
        flow = processor(str(video), **options, return_tensors="pt")["pixel_values"][0] * 20  # back to pixels
        moving = flow.norm(dim=1) > 1  # the square (the noisy background barely moves)
        mean_x, mean_y = (flow[:, axis][moving].mean().item() for axis in (0, 1))
        along, across = (mean_x, mean_y) if dx else (mean_y, mean_x)
        assert 2 < along * (dx or dy) < 6 and abs(across) < 0.5, (direction, mean_x, mean_y)
    cached = sorted((tmp_path / "cache").glob("*.npy"))
    assert len(cached) == 2 and np.load(cached[0]).shape == (15, 2, 64, 64)  # every pair of each video, once

    def refuse(*args, **kwargs):
        raise AssertionError("flow computed again instead of read from the cache")

    options["flow_model"].clip_flow = refuse  # same estimator and settings, so the same cache key
    again = processor(str(video), **options, return_tensors="pt")["pixel_values"][0]
    assert (again * 20).allclose(flow)

    # A reversed clip, as the table scores it: the decoded frames backwards, whose flow (computed, not cached: the
    # frames have no file) points down.
    backwards = read_video(video)[0][::-1].copy()
    flow = processor(backwards, flow_model=FarnebackFlow(), return_tensors="pt")["pixel_values"][0] * 20
    assert 2 < flow[:, 1][flow.norm(dim=1) > 1].mean() < 6


def test_command_trains_the_flow_rows(tmp_path, capsys):
    """``hf-videomodels benchmark temporal`` with the flow rows and a tiny budget: the TSN flow stream and two-stream
    TSN trained on Farneback flow, scored forwards and reversed; table, JSON and chart written."""
    code = main(
        ["benchmark", "temporal", "--output", str(tmp_path), "--rows", "tsn flow stream", "TwoStream TSN"]
        + ["--videos-per-class", "2", "--heldout-per-class", "1", "--epochs", "0.5", "--batch-size", "4"]
        + ["--val-fraction", "0", "--no-progress"]
    )
    out = capsys.readouterr().out
    assert code == 0 and HEADER in out and "| TSN flow stream | 0.70 M |" in out and "| TwoStream TSN | 1.40 M |" in out
    assert "2 training and 1 held-out videos per class" in out and "Farneback" in out
    rows = json.loads((tmp_path / "temporal_table.json").read_text())["rows"]
    assert [row["architecture"] for row in rows] == ["TSN flow stream", "TwoStream TSN"]
    assert all(row["reversed_top1"] is not None and row["skipped"] is None for row in rows)
    # One flow file per video (2 training and 1 held-out per class); reversed clips' flow is not cached.
    assert len(list((tmp_path / "data" / "flow_cache").glob("*.npy"))) == 3 * len(DIRECTIONS)
    saved = json.loads((tmp_path / "models" / "TSN flow stream" / "video_preprocessor_config.json").read_text())
    assert saved["video_processor_type"] == "FlowVideoProcessor" and saved["mode"] == "clip"
    assert saved["num_frames"] == 15 and saved["flow_model"] is None  # the estimator is given at each call
    with PIL.Image.open(tmp_path / "temporal_table.png") as image:
        assert image.format == "PNG"


def test_two_stream_processor_keeps_a_flow_model_without_saving_it(tmp_path):
    """Training's transform calls the processor with videos alone: a kept flow model gives flow_values then."""
    video = write_video(motion_clip("left_to_right", np.random.default_rng(0)), tmp_path / "clip.mp4", fps=12)
    config = find_architecture("TwoStream").config_class(**find_architecture("TwoStream").small_config)
    processor = TwoStreamVideoProcessor.for_model_config(config, **DEMO_PROCESSOR_CONFIG)
    kept = TwoStreamVideoProcessor.from_dict(processor.to_dict(), flow_model=FarnebackFlow())
    outputs = kept(str(video), return_tensors="pt")
    assert outputs["pixel_values"].shape == (1, 16, 3, 64, 64) and outputs["flow_values"].shape == (1, 15, 2, 64, 64)
    assert outputs["flow_values"][:, :, 0].mean() > 0.05  # moving right: +x (in units of the 20-pixel bound)
    kept.save_pretrained(tmp_path / "saved")
    assert "flow_model" not in json.loads((tmp_path / "saved" / "video_preprocessor_config.json").read_text())
    assert "flow_frames" in TwoStreamVideoProcessor.from_pretrained(tmp_path / "saved")(str(video))  # none kept


def test_flow_row_skipped_without_opencv(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 fails
    (entry,) = temporal_table.select_entries(["TSN flow stream"])
    row = temporal_table.train_one(entry, None, tmp_path, temporal_table.Budget())
    assert row.skipped.startswith("Farneback optical flow needs OpenCV") and "hf-videomodels[flow]" in row.skipped
    assert main(["benchmark", "temporal", "--output", str(tmp_path), "--rows", "ViViT model 9"]) == 2
    assert "unknown row 'ViViT model 9'" in capsys.readouterr().err
