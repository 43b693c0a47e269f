"""How much of an inference call is preprocessing? Decode + sample + resize/crop/normalise one clip, next to
the model's own CPU forward on it.

Inputs: the real 79-frame 224x224 GIF from ../shared/data (if present) and a generated 10 s, 25 fps, 320x240
H.264 MP4 with moving content. For each of the I3D (64 frames, short side 256, 224 crop) and TimeSformer
(8 frames x 32 at 30 fps, short side 224, 224 crop) processors: median time to ``pixel_values`` with
1 and 2 torch threads, the full-size model's forward (fp32, default config, random weights), and the ratio.

    uv run python benchmarks/bench_preprocessing.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import time_call  # noqa: E402

from hf_videomodels.models.i3d.video_processing_i3d import I3DVideoProcessor  # noqa: E402
from hf_videomodels.models.timesformer.video_processing_timesformer import TimeSformerVideoProcessor  # noqa: E402
from hf_videomodels.video_io import probe_video, select_backend, write_video  # noqa: E402

SAMPLE_GIF = Path(__file__).resolve().parents[2] / "shared" / "data" / "v_CricketShot_g04_c01_rgb.gif"


def moving_video(seconds: int = 10, fps: int = 25, height: int = 240, width: int = 320) -> np.ndarray:
    """A textured background with a bright square crossing it: content an encoder cannot skip."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, size=(height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    frames = np.empty((seconds * fps, height, width, 3), dtype=np.uint8)
    for t in range(len(frames)):
        frame = np.roll(background, shift=t, axis=1)
        x, y = (7 * t) % (width - 48), (3 * t) % (height - 48)
        frame[y : y + 48, x : x + 48] = 255
        frames[t] = frame
    return frames


def model_forward(architecture: str):
    """Full-size default model and a forward on one clip of its input size, or None when not importable."""
    try:
        import hf_videomodels as package
    except ImportError as error:
        print(f"(models not importable yet: {error}; preprocessing figures only)")
        return None
    config_class, model_class = {
        "i3d": (package.I3DConfig, package.I3DForVideoClassification),
        "timesformer": (package.TimeSformerConfig, package.TimeSformerForVideoClassification),
    }[architecture]
    config = config_class()
    model = model_class(config).eval()
    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    pixel_values = torch.randn(1, config.num_frames, config.num_channels, size, size)
    return lambda: model(pixel_values=pixel_values).logits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        videos = {}
        if SAMPLE_GIF.exists():
            videos["GIF 79 frames 224x224"] = SAMPLE_GIF
        else:
            print(f"({SAMPLE_GIF} missing: skipping the GIF)")
        videos["MP4 10 s 25 fps 320x240 H.264"] = write_video(moving_video(), Path(folder) / "moving.mp4", fps=25)
        for name, path in videos.items():
            info = probe_video(path)
            print(f"{name}: {info.total_num_frames} frames, {info.width}x{info.height}, {info.fps:g} fps")
        print(f"decoding backend: {select_backend()}; torch {torch.__version__}, {torch.get_num_threads()} threads\n")

        processors = {"i3d": I3DVideoProcessor(), "timesformer": TimeSformerVideoProcessor()}
        default_threads = torch.get_num_threads()
        for architecture, processor in processors.items():
            forward = model_forward(architecture)
            forward_seconds = None
            if forward is not None:
                torch.set_num_threads(2)
                forward_seconds = time_call(forward, "cpu", repeats=args.repeats)[0]
                print(f"{architecture}: model forward (fp32, full size, 2 threads) {forward_seconds * 1e3:8.1f} ms")
            for name, path in videos.items():
                for threads in (1, 2):
                    torch.set_num_threads(threads)

                    def preprocess(processor=processor, path=path):
                        return processor(path)["pixel_values"]

                    seconds, out = time_call(preprocess, "cpu", repeats=args.repeats)
                    row = f"  preprocess {name:<30} {threads} thread(s): {seconds * 1e3:7.1f} ms -> {tuple(out.shape)}"
                    if forward_seconds is not None and threads == 2:
                        row += f"  preprocessing / forward = {seconds / forward_seconds:.2f}"
                    print(row)
            print()
        torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
