"""benchmarks/temporal_table.py on a tiny data set: one tiny architecture trained for a fraction of an epoch
through ``training.train``, one architecture without a small_config listed as skipped; table, JSON and chart
written."""

from __future__ import annotations

import dataclasses
import json

import PIL.Image
import pytest

from hf_videomodels.demo import DEMO_PROCESSOR_CONFIG, small_training_overrides
from hf_videomodels.registration import find_architecture

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
    unsized = dataclasses.replace(find_architecture("TimeSformer"), small_config={})
    budget = temporal_table.Budget(videos_per_class=2, heldout_per_class=1, epochs=0.5, batch_size=4, val_fraction=0.0)
    rows = temporal_table.run_temporal_table(tmp_path, [tiny, unsized], budget, show_progress=False)
    trained, skipped = rows
    assert trained.architecture == "I3D" and 0 <= trained.heldout_top1 <= 1 and trained.parameters > 0
    assert skipped.architecture == "TimeSformer" and skipped.skipped == "no small_config registered"
    table = (tmp_path / "temporal_table.md").read_text()
    assert "| architecture | parameters | training time | held-out top-1 | chance |" in table
    assert "| I3D |" in table and "| TimeSformer | skipped: no small_config registered |" in table
    assert "0.5 epochs" in table
    saved = json.loads((tmp_path / "temporal_table.json").read_text())
    assert [row["architecture"] for row in saved["rows"]] == ["I3D", "TimeSformer"]
    assert saved["rows"][0]["chance"] == 0.25
    with PIL.Image.open(tmp_path / "temporal_table.png") as image:
        assert image.format == "PNG"
    processor = json.loads((tmp_path / "models" / "I3D" / "video_preprocessor_config.json").read_text())
    assert processor["num_frames"] == 16 and processor.get("target_fps") is None and not processor["do_flip"]
