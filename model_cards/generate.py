"""Render the model card of every published checkpoint the conversion scripts port, into this folder.

The cards are exactly what ``conversion/convert_*.py --output DIR`` writes as ``DIR/README.md`` (with
``model_id`` set to the checkpoint's name); a test regenerates them to keep the committed copies true. The
checkpoints themselves are not needed: the manifests in ``../shared/reference`` give every tensor's shape,
and the conversion runs on the meta device. Every converter module that defines
``published_model_cards(reference_dir)`` contributes its cards, so a new architecture needs no line here.

    uv run python model_cards/generate.py [--shared ../shared] [--output model_cards]
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def card_sources() -> list:
    """The conversion modules that publish model cards, in file-name order."""
    paths = sorted(REPO.glob("conversion/convert_*.py"))
    modules = (importlib.import_module(f"conversion.{path.stem}") for path in paths)
    return [module for module in modules if hasattr(module, "published_model_cards")]


def render_cards(shared: Path) -> dict[str, str]:
    """{file name: card text} for every published checkpoint with a manifest in ``shared/reference``."""
    cards = {}
    for module in card_sources():
        for name, text in module.published_model_cards(shared / "reference").items():
            if name in cards:
                raise RuntimeError(f"two converters write the model card {name}")
            cards[name] = text
    return cards


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    for name, text in render_cards(args.shared).items():
        (args.output / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.output / name}")


if __name__ == "__main__":
    main()
