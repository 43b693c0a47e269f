"""The committed model cards in model_cards/ are exactly what the conversion scripts write today."""

from __future__ import annotations

import importlib.util

from .conftest import REPO_ROOT, SHARED_DIR, require_shared


def test_committed_cards_are_current():
    require_shared(SHARED_DIR / "reference")
    spec = importlib.util.spec_from_file_location("generate_cards", REPO_ROOT / "model_cards" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cards = module.render_cards(SHARED_DIR)
    assert len(cards) == 13  # 4 pytorch-i3d files + 9 TimeSformer files
    committed = {path.name for path in (REPO_ROOT / "model_cards").glob("*.md")}
    assert committed == set(cards)
    for name, text in cards.items():
        assert (REPO_ROOT / "model_cards" / name).read_text(encoding="utf-8") == text, (
            f"model_cards/{name} is stale: run `uv run python model_cards/generate.py`"
        )
