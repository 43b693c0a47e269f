"""Render the model card of every published checkpoint the conversion scripts port, into this folder.

The cards are exactly what ``conversion/convert_*.py --output DIR`` writes as ``DIR/README.md`` (with
``model_id`` set to the checkpoint's name); a test regenerates them to keep the committed copies true. The
checkpoints themselves are not needed: the manifests in ``../shared/reference`` give every tensor's shape,
and the conversion runs on the meta device.

    uv run python model_cards/generate.py [--shared ../shared] [--output model_cards]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from conversion import convert_i3d_pytorch_i3d as i3d  # noqa: E402
from conversion import convert_timesformer_original as timesformer  # noqa: E402

I3D_FILES = ("rgb_imagenet", "flow_imagenet", "rgb_charades", "flow_charades")


def _meta_state_dict(manifest_path: Path) -> dict[str, torch.Tensor]:
    manifest = json.loads(manifest_path.read_text())
    return {key: torch.empty(shape, device="meta") for key, shape, _ in manifest["tensors"]}


def render_cards(shared: Path) -> dict[str, str]:
    """{file name: card text} for every I3D and TimeSformer checkpoint with a manifest."""
    cards = {}
    reference = shared / "reference"
    for name in I3D_FILES:
        config, _ = i3d.convert_pytorch_i3d_state_dict(_meta_state_dict(reference / "i3d" / f"{name}.manifest.json"))
        processor = i3d.build_video_processor(config)
        cards[f"i3d_{name}.md"] = i3d.model_card(f"i3d-{name.replace('_', '-')}", config, processor, f"{name}.pt")
    for file_name, variant in timesformer.PRETRAINED_VARIANTS.items():
        stem = file_name.removesuffix(".pyth")
        checkpoint = {"model_state": _meta_state_dict(reference / "timesformer" / f"{stem}.manifest.json")}
        config, _ = timesformer.convert_timesformer_checkpoint(checkpoint, variant=file_name)
        kwargs = timesformer.video_processor_kwargs(config, variant, None)
        model_id = stem.lower().replace("_", "-")
        cards[f"{stem}.md"] = timesformer.model_card(model_id, config, file_name, kwargs)
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
