"""The committed model cards in model_cards/ are exactly what the conversion scripts write today."""

from __future__ import annotations

import importlib.util

import pytest
from transformers.image_utils import SizeDict

from conversion import convert_i3d_pytorch_i3d, convert_timesformer_original, convert_video_swin_original
from hf_videomodels.model_card import format_setting, hub_base_model, render_model_card
from hf_videomodels.models.i3d import I3DVideoProcessor
from hf_videomodels.training import processor_summary

from .conftest import REPO_ROOT, SHARED_DIR, require_shared


def _rendered_cards() -> dict[str, str]:
    require_shared(SHARED_DIR / "reference")
    spec = importlib.util.spec_from_file_location("generate_cards", REPO_ROOT / "model_cards" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render_cards(SHARED_DIR)


def test_committed_cards_are_current():
    cards = _rendered_cards()
    assert len(cards) == 19  # 4 pytorch-i3d files + 9 TimeSformer files + 6 Video Swin files
    committed = {path.name for path in (REPO_ROOT / "model_cards").glob("*.md")}
    assert committed == set(cards)
    for name, text in cards.items():
        assert (REPO_ROOT / "model_cards" / name).read_text(encoding="utf-8") == text, (
            f"model_cards/{name} is stale: run `uv run python model_cards/generate.py`"
        )


def test_cards_state_what_the_tests_measured():
    """No parity claim beyond what tests/test_*conversion*.py assert for that checkpoint family."""
    for name, text in _rendered_cards().items():
        families = {"i3d": convert_i3d_pytorch_i3d, "video_swin": convert_video_swin_original}
        family = next((m for prefix, m in families.items() if name.startswith(prefix)), convert_timesformer_original)
        assert family.VERIFIED_BY_TESTS in text, name
        assert "within 1e-4" not in text and "matches the original" not in text, name


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (SizeDict(shortest_edge=256), "short side 256"),
        (SizeDict(height=224, width=224), "224 × 224"),
        ({"shortest_edge": 224}, "short side 224"),
        ({"height": 448, "width": 336}, "448 × 336"),
        ({"shortest_edge": 224, "longest_edge": 1333}, "short side 224, long side at most 1333"),
        ((0.45, 0.45, 0.45), "0.45, 0.45, 0.45"),
        ([0.225, 0.225], "0.225, 0.225"),
        (1 / 255, "1/255"),
        (0.5, "0.5"),
        (1e-5, "1e-05"),
        (64, "64"),
        ("rgb", "rgb"),
    ],
)
def test_setting_values_read_as_text(value, text):
    assert format_setting(value) == text


def test_processor_settings_table_is_readable():
    """What `train` puts in its card (training.processor_summary of a real processor) shows no Python reprs."""
    card = render_model_card(
        model_id="m",
        architecture="I3D",
        base_model=None,
        datasets=[],
        metrics={"top1_accuracy": 0.8125},
        source="s",
        preprocessing=processor_summary(I3DVideoProcessor()),
    )
    assert "| size | short side 256 |" in card and "| crop_size | 224 × 224 |" in card
    assert "| image_mean | 0.5, 0.5, 0.5 |" in card and "| rescale_factor | 1/255 |" in card
    assert "SizeDict" not in card and "(0.5" not in card
    assert "| top1_accuracy | 0.8125 |" in card


def test_base_model_is_only_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "base").mkdir(parents=True)
    for local in (str(tmp_path), "runs/base", "./runs/base", "/data/models/x", "a/b/c", "C:\\models\\x", "../up/x"):
        assert hub_base_model(local) is None, local
    for repo_id in ("facebook/timesformer-base-finetuned-k400", "MCG-NJU/videomae-base", "bert-base-uncased"):
        assert hub_base_model(repo_id) == repo_id

    def card(base_model):
        return render_model_card("m", "I3D", base_model, [], None, "s", {})

    assert "base_model: facebook/timesformer-base-finetuned-k400\n" in card("facebook/timesformer-base-finetuned-k400")
    assert "base_model" not in card("runs/base") and "base_model" not in card(str(tmp_path))
