"""The main job on an embedded default: learn motion that no single frame shows.

1. Writes a synthetic data set of real encoded video files (H.264 in .mp4). A bright square slides across a
   noisy background in one of four directions, wrapping around the edges, from a random starting point. Any
   single frame is a square at a uniformly random place, so only the order of frames tells the classes apart.
2. Trains a small I3D (a narrow Inflated Inception-V1) from scratch on the CPU with the same code path as
   ``hf-videomodels train`` (datasets + Trainer + the model's video processor).
3. Reports accuracy on held-out files the training never saw, classifies one of them through
   ``pipeline("video-classification")`` and writes a picture: frames with predicted labels and the training curve.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .models.i3d import ARCHITECTURE as I3D_ARCHITECTURE
from .registration import Architecture
from .video_io import read_video, write_video

DIRECTIONS = {
    "left_to_right": (0, 1),
    "right_to_left": (0, -1),
    "top_to_bottom": (1, 0),
    "bottom_to_top": (-1, 0),
}

DEMO_FPS = 12
# Every clip whole: 16 frames in a row at the file's own rate (no target_fps resampling: TimeSformer's recipe
# would otherwise sample 30 fps and repeat frames), one view, no flipping (it would swap the left/right classes).
DEMO_PROCESSOR_CONFIG = {
    "num_frames": 16,
    "sampling": "clip",
    "frame_sample_rate": 1,
    "target_fps": None,
    "num_clips": 1,
    "num_crops": 1,
    "do_flip": False,
    "size": {"shortest_edge": 64},
    "crop_size": {"height": 64, "width": 64},
}


def small_training_overrides(arch: Architecture) -> tuple[dict, dict]:
    """Config and processor overrides that train ``arch``'s registered ``small_config`` on the demo's 16-frame
    64x64 clips: the clip size (for configs that have ``num_frames`` / ``image_size``) and the small config;
    ``DEMO_PROCESSOR_CONFIG`` and the architecture's own ``small_processor_config`` on top."""
    defaults = arch.config_class()
    clip = {key: value for key, value in (("num_frames", 16), ("image_size", 64)) if hasattr(defaults, key)}
    return {**clip, **arch.small_config}, {**DEMO_PROCESSOR_CONFIG, **arch.small_processor_config}


@dataclass
class DemoResult:
    output_dir: Path
    heldout_accuracy: float
    validation_accuracy: float
    example_video: Path
    example_predictions: list[dict]
    picture: Path
    seconds: float


def motion_clip(direction: str, rng: np.random.Generator, num_frames: int = 16, size: int = 64) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of a square moving with wrap-around in ``direction``."""
    dy, dx = DIRECTIONS[direction]
    side = int(rng.integers(12, 20))
    speed = int(rng.integers(3, 6))  # pixels per frame
    background = rng.integers(10, 60, size=3)
    color = rng.integers(170, 256, size=3)
    canvas = np.zeros((size, size, 3), dtype=np.int16)
    canvas[:] = background
    canvas[:side, :side] = color
    start = rng.integers(0, size, size=2)
    frames = []
    for t in range(num_frames):
        shift = (int(start[0] + dy * speed * t), int(start[1] + dx * speed * t))
        frame = np.roll(canvas, shift, axis=(0, 1)) + rng.normal(0, 12, size=canvas.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(frames)


def make_motion_dataset(root, videos_per_class: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    root = Path(root)
    for direction in DIRECTIONS:
        for i in range(videos_per_class):
            write_video(motion_clip(direction, rng), root / direction / f"{direction}_{i:03d}.mp4", fps=DEMO_FPS)
    return root


def draw_summary(examples: list[tuple[Path, str, str]], log_history: list[dict], path) -> Path:
    """Top: four frames of each example video with its true and predicted label. Bottom: training curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .training import draw_training_curve

    frames_shown = 4
    fig = plt.figure(figsize=(2.0 * frames_shown, 1.9 * len(examples) + 3.0), dpi=110)
    grid = fig.add_gridspec(len(examples) + 2, frames_shown)
    for row, (video, truth, predicted) in enumerate(examples):
        frames, _ = read_video(video)
        picks = np.linspace(0, len(frames) - 1, frames_shown).round().astype(int)
        for col, index in enumerate(picks):
            axis = fig.add_subplot(grid[row, col])
            axis.imshow(frames[index])
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_xlabel(f"frame {index}", fontsize=7)
            if col == 0:
                ok = truth == predicted
                axis.set_title(
                    f"true: {truth}\npredicted: {predicted}",
                    fontsize=7,
                    loc="left",
                    color="darkgreen" if ok else "darkred",
                )
    draw_training_curve(fig.add_subplot(grid[len(examples) :, :]), log_history)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def run_demo(
    output_dir="demo_output",
    videos_per_class: int = 60,
    heldout_per_class: int = 15,
    epochs: float = 8,
    seed: int = 0,
    show_progress: bool = True,
) -> DemoResult:
    from transformers import pipeline

    from .training import TrainConfig, train

    start = time.perf_counter()
    output_dir = Path(output_dir)
    data_dir = make_motion_dataset(output_dir / "data" / "train", videos_per_class, seed)
    heldout_dir = make_motion_dataset(output_dir / "data" / "heldout", heldout_per_class, seed + 1)
    total, heldout = videos_per_class * len(DIRECTIONS), heldout_per_class * len(DIRECTIONS)
    print(f"wrote {total} training and {heldout} held-out videos")

    # The registered small I3D (a narrow Inflated Inception-V1): a 3D CNN picks up motion direction in a few
    # epochs on two CPU cores.
    config_overrides, processor_overrides = small_training_overrides(I3D_ARCHITECTURE)

    result = train(
        TrainConfig(
            data_dir=data_dir,
            output_dir=output_dir / "model",
            architecture="i3d",
            config_overrides=config_overrides,
            processor_overrides=processor_overrides,
            epochs=epochs,
            learning_rate=1e-3,
            batch_size=16,
            val_fraction=0.2,
            seed=seed,
            show_progress=show_progress,
        )
    )

    classifier = pipeline("video-classification", model=str(result.output_dir))
    heldout = sorted(heldout_dir.glob("*/*.mp4"))
    correct = 0
    examples = []
    for video in heldout:
        predicted = classifier(str(video), top_k=1)[0]["label"]
        correct += predicted == video.parent.name
        if len(examples) < len(DIRECTIONS) and video.parent.name not in {e[1] for e in examples}:
            examples.append((video, video.parent.name, predicted))
    accuracy = correct / len(heldout)
    example_video = examples[0][0]
    example_predictions = classifier(str(example_video), top_k=len(DIRECTIONS))
    picture = draw_summary(examples, result.log_history, output_dir / "demo_summary.png")
    return DemoResult(
        output_dir=output_dir,
        heldout_accuracy=accuracy,
        validation_accuracy=float(result.metrics["eval_top1_accuracy"]),
        example_video=example_video,
        example_predictions=example_predictions,
        picture=picture,
        seconds=time.perf_counter() - start,
    )
