"""benchmarks/temporal_table.py on a tiny data set: one tiny architecture trained for a fraction of an epoch
through ``training.train``, one architecture without a small_config listed as skipped; table, JSON and chart
written; rows of other runs in the same folder merged, finished rows kept on resume; the families' rows."""

from __future__ import annotations

import dataclasses
import json

import PIL.Image
import pytest

from hf_videomodels.demo import DEMO_PROCESSOR_CONFIG, small_training_overrides
from hf_videomodels.registration import architectures, find_architecture

from .test_i3d_modeling import TINY
from .utils import load_benchmark_script


@pytest.fixture(scope="module")
def temporal_table():
    return load_benchmark_script("temporal_table")


def test_demo_processor_settings_reach_every_architecture():
    for name in ("I3D", "TimeSformer"):
        config, processor = small_training_overrides(find_architecture(name))
        assert processor.items() >= DEMO_PROCESSOR_CONFIG.items()  # all 16 frames at the file's rate, no flip
        assert config["num_frames"] == 16 and config["image_size"] == 64


def test_table_and_chart(temporal_table, tmp_path):
    i3d = find_architecture("I3D")
    tiny = dataclasses.replace(i3d, small_config={k: v for k, v in TINY.items() if k not in ("num_frames", "image_size")})
    unsized = dataclasses.replace(find_architecture("TSN"), small_config={})
    budget = temporal_table.Budget(videos_per_class=2, heldout_per_class=1, epochs=0.5, batch_size=4, val_fraction=0.0)
    rows = temporal_table.run_temporal_table(tmp_path, [tiny, unsized], budget, show_progress=False)
    skipped, trained = rows  # in the registered order (TSN first), not the order asked for
    assert trained.architecture == "I3D" and 0 <= trained.heldout_top1 <= 1 and trained.parameters > 0
    assert skipped.architecture == "TSN" and skipped.skipped == "no small_config registered"
    table = (tmp_path / "temporal_table.md").read_text()
    assert "| architecture | parameters | training time | held-out top-1 | chance |" in table
    assert "| I3D |" in table and "| TSN | skipped: no small_config registered |" in table
    assert "0.5 epochs" in table
    saved = json.loads((tmp_path / "temporal_table.json").read_text())
    assert [row["architecture"] for row in saved["rows"]] == ["TSN", "I3D"]
    assert saved["rows"][1]["chance"] == 0.25
    with PIL.Image.open(tmp_path / "temporal_table.png") as image:
        assert image.format == "PNG"
    processor = json.loads((tmp_path / "models" / "I3D" / "video_preprocessor_config.json").read_text())
    assert processor["num_frames"] == 16 and processor.get("target_fps") is None and not processor["do_flip"]


def test_rows_of_other_runs_are_merged_and_finished_rows_kept(temporal_table, tmp_path, monkeypatch):
    budget = temporal_table.Budget(videos_per_class=1, heldout_per_class=1, epochs=1, batch_size=4, val_fraction=0.0)

    def fake_train(entry, data_dir, heldout_dir, output_dir, budget, **options):
        assert data_dir.is_dir() and heldout_dir.is_dir()  # the shared data set is written before training
        return temporal_table.Row(entry.name, parameters=10, training_seconds=1.0, heldout_top1=0.5)

    monkeypatch.setattr(temporal_table, "train_one", fake_train)
    # Another process (another budget, and the same budget) left rows in the folder.
    other = temporal_table.Row("C3D", parameters=5, training_seconds=2.0, heldout_top1=0.75)
    for name, row_budget in (("C3D", budget), ("LRCN", dataclasses.replace(budget, epochs=2))):
        path = temporal_table.row_file(tmp_path, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        row = dataclasses.replace(other, architecture=name)
        path.write_text(json.dumps({"budget": dataclasses.asdict(row_budget), "row": dataclasses.asdict(row)}))
    rows = temporal_table.run_temporal_table(tmp_path, budget=budget, rows=["vivit model 2", "TSN"])
    assert [row.architecture for row in rows] == ["TSN", "C3D", "ViViT model 2"]  # LRCN: another budget
    assert "| C3D | 0.00 M | 0.0 min | 0.75 | 0.25 |" in (tmp_path / "temporal_table.md").read_text()

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished row was trained again")

    monkeypatch.setattr(temporal_table, "train_one", must_not_train)
    again = temporal_table.run_temporal_table(tmp_path, budget=budget, rows=["TSN"], resume=True)
    assert again == rows
    with pytest.raises(ValueError, match="unknown row.*ViViT model 5"):
        temporal_table.run_temporal_table(tmp_path, budget=budget, rows=["ViViT model 5"])


def test_every_row_has_a_valid_small_config(temporal_table):
    entries = temporal_table.table_entries(architectures())
    names = [entry.name for entry in entries]
    assert len(names) == len(set(names))
    for family, variants in temporal_table.VARIANTS.items():
        assert [f"{family} {variant}" for variant in variants] == [n for n in names if n.startswith(family + " ")]
    for entry in entries:
        config, _ = small_training_overrides(entry.architecture)
        entry.architecture.config_class(**{**config, **entry.config_overrides})  # validates the combination
