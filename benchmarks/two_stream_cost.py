"""What a two-stream prediction costs from a raw video file, stage by stage.

One MP4 (the shared 79-frame 224x224 GIF transcoded to H.264, or a generated moving clip when ../shared is absent)
goes through a two-stream model with RAFT inside, full size with random weights:

- **decode**: the two-stream video processor (decode, sample, resize, crop, normalise): ``pixel_values`` for the
  RGB stream and ``flow_frames`` for RAFT;
- **flow**: RAFT on every frame pair the flow stream needs (``model.two_stream.compute_flow``);
- **RGB stream** and **flow stream**: each stream's forward.

Set-ups: ``tsn`` (TSN ResNet-50 per frame, 8 segments; flow stream on 5 stacked flow fields per segment: 48 RAFT
pairs) and ``i3d`` (DeepMind's two-stream I3D on a 64-frame clip: 64 RAFT pairs). Writes a markdown table (median
seconds per stage and its share of the total) to stdout and, with ``--output``, as JSON.

    uv run python benchmarks/two_stream_cost.py [--setups tsn i3d] [--repeats 3] [--device cuda] [--output cost.json]
    uv run python benchmarks/two_stream_cost.py --smoke      # tiny models, one repeat: checks the script runs
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import time_call  # noqa: E402

from hf_videomodels.models.i3d import I3DConfig  # noqa: E402
from hf_videomodels.models.tsn import TSNConfig  # noqa: E402
from hf_videomodels.models.two_stream import (  # noqa: E402
    TwoStreamConfig,
    TwoStreamForVideoClassification,
    TwoStreamVideoProcessor,
)
from hf_videomodels.video_io import read_video, write_video  # noqa: E402

SAMPLE_GIF = Path(__file__).resolve().parents[2] / "shared" / "data" / "v_CricketShot_g04_c01_rgb.gif"
STAGES = ("decode", "flow", "rgb_stream", "flow_stream")


def raft_config(small: bool):
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    raft = CONFIG_MAPPING["hfvm_raft"]
    return raft.small() if small else raft.large()


def setup_config(name: str, smoke: bool) -> TwoStreamConfig:
    """The full-size set-up (or, for ``smoke``, the same layout with tiny streams and the small RAFT)."""
    if name == "tsn":
        tiny = {
            "depth": 10,
            "block_type": "basic",
            "stage_blocks": [1] * 4,
            "stem_channels": 8,
            "stage_channels": [8] * 4,
        }
        stream = {**(tiny if smoke else {}), "num_frames": 2 if smoke else 8}
        rgb, flow, layout = TSNConfig(**stream), TSNConfig(**stream, num_channels=10), {"flow_mode": "stacked"}
    elif name == "i3d":
        narrow = {"stem_channels": [8, 8, 8], "inception_channels": [[4] * 6] * 9, "pooler_kernel_size": [1, 2, 2]}
        stream = {**(narrow if smoke else {}), "num_frames": 16 if smoke else 64}
        rgb, flow, layout = I3DConfig(**stream), I3DConfig(**stream, num_channels=2), {"flow_mode": "clip"}
    else:
        raise ValueError(f"unknown set-up {name!r}; expected tsn or i3d")
    return TwoStreamConfig(
        rgb_config=rgb, flow_config=flow, flow_model_config=raft_config(small=smoke), num_labels=400, **layout
    )


def sample_video(folder: Path) -> Path:
    if SAMPLE_GIF.exists():
        frames, _ = read_video(SAMPLE_GIF)
    else:  # a bright square crossing a textured background, 79 frames
        rng = np.random.default_rng(0)
        background = rng.integers(0, 256, size=(28, 28, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        frames = np.stack([np.roll(background, 3 * t, axis=1) for t in range(79)])
    return write_video(frames, folder / "clip.mp4", fps=25, codec="h264")


def measure_setup(name: str, video: Path, device: torch.device, repeats: int, smoke: bool) -> dict[str, float]:
    config = setup_config(name, smoke)
    model = TwoStreamForVideoClassification(config).eval().to(device)
    processor = TwoStreamVideoProcessor.for_model_config(config)
    if smoke:  # small frames (the smallest RAFT takes), so the smoke run stays quick on two cores
        processor = processor.matched_to_config(
            config, size={"shortest_edge": 128}, crop_size={"height": 128, "width": 128}
        )
    timings = {}
    timings["decode"], inputs = time_call(lambda: processor(str(video), return_tensors="pt"), repeats=repeats, warmup=0)
    pixel_values = inputs["pixel_values"].to(device)
    flow_frames = inputs["flow_frames"].to(device)
    two_stream = model.two_stream
    timings["flow"], flow_values = time_call(lambda: two_stream.compute_flow(flow_frames), device, repeats=repeats)
    timings["rgb_stream"], rgb = time_call(lambda: two_stream.rgb_stream(pixel_values).logits, device, repeats=repeats)
    timings["flow_stream"], flow = time_call(
        lambda: two_stream.flow_stream(flow_values).logits, device, repeats=repeats
    )
    with torch.inference_mode():  # the stages together are the model's prediction
        end_to_end = model(pixel_values=pixel_values, flow_frames=flow_frames).logits
    torch.testing.assert_close(end_to_end, model.fusion(rgb, flow), rtol=1e-4, atol=1e-4)
    timings["flow_pairs"] = flow_values.shape[1] * (config.flow_stack_length if config.flow_mode == "stacked" else 1)
    return timings


def markdown(results: dict[str, dict[str, float]]) -> str:
    lines = ["| set-up | RAFT pairs | " + " | ".join(STAGES) + " | total |", "|---" * (len(STAGES) + 3) + "|"]
    for name, timings in results.items():
        total = sum(timings[stage] for stage in STAGES)
        cells = [f"{timings[stage]:.3f} s ({100 * timings[stage] / total:.0f}%)" for stage in STAGES]
        lines.append(f"| {name} | {timings['flow_pairs']} | " + " | ".join(cells) + f" | {total:.3f} s |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setups", nargs="+", default=["tsn", "i3d"], choices=["tsn", "i3d"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--smoke", action="store_true", help="tiny models and one repeat: only checks the script")
    parser.add_argument("--output", type=Path, default=None, help="also write the timings as JSON here")
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    with tempfile.TemporaryDirectory() as folder:
        video = sample_video(Path(folder))
        results = {
            name: measure_setup(name, video, torch.device(args.device), repeats, args.smoke) for name in args.setups
        }
    print(markdown(results))
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
