"""Attention pictures: where a video transformer's classification (cls) token looks in each frame.

``save_attention_maps`` classifies one video and draws every sampled frame under a heat map of the model's
attention over the frame. The model class provides the maps, so a new transformer adds its own without touching
this module: it defines

* ``frame_attention_maps(attentions, pixel_values) -> Tensor (frames, grid_h, grid_w)``: per-frame maps from
  its ``outputs.attentions`` for one clip, each frame's map summing to 1;
* ``frame_attention_caption``: one line saying what the maps show (the picture's subtitle).

For TimeSformer (``TimeSformerForVideoClassification.frame_attention_maps``) they are the cls token's
attention over the frame's patches in the **last block** (the one feeding the classifier), averaged over
heads: a picture of one layer's attention probabilities, not an attribution method (no rollout, no gradients).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from .errors import UserInputError

MAX_COLUMNS = 8


def check_attention_maps_supported(model) -> None:
    """Raise ``UserInputError`` unless ``save_attention_maps`` can draw ``model``: its class defines
    ``frame_attention_maps`` (TimeSformer does; I3D, a CNN, has no attention) and it takes RGB frames. Cheap:
    call it before spending time on the video."""
    if not callable(getattr(model, "frame_attention_maps", None)):
        raise UserInputError(
            f"{type(model).__name__} has no attention maps (only models whose class defines frame_attention_maps, "
            "such as the package's TimeSformer, have them)"
        )
    num_channels = getattr(model.config, "num_channels", 3)
    if num_channels != 3:
        raise UserInputError(f"attention pictures need RGB frames; this model takes {num_channels} channels")


def save_attention_maps(model, video_processor, video, path, top_k: int = 3) -> Path:
    """Classify ``video`` with ``model`` and write a PNG of each sampled frame under its cls attention map.

    ``video`` is anything ``video_processor`` takes (a path, URL, array, ...). The processor's evaluation
    settings are used (as the video-classification pipeline uses them) with a
    single view: with several clips / crops, the first clip's centre crop (``num_clips=1, num_crops=1``), so
    the title's top-``top_k`` predictions are those of that one view. Raises ``UserInputError`` (a
    ``ValueError``) for models without attention maps (e.g. I3D), see ``check_attention_maps_supported``.
    """
    check_attention_maps_supported(model)
    config = model.config
    view = {"num_clips": 1, "num_crops": 1, "training": False}
    inputs = video_processor(video, **view, return_metadata=True, return_tensors="pt")
    # The same frames and crop again, as 0-1 RGB pixels to draw.
    shown = video_processor(
        video, **view, do_normalize=False, do_rescale=True, rescale_factor=1 / 255, channel_order="rgb",
        return_tensors="pt",
    )  # fmt: skip
    frames = shown["pixel_values"][0].permute(0, 2, 3, 1).clamp(0, 1).numpy()
    pixel_values = inputs["pixel_values"].to(device=model.device, dtype=model.dtype)

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            outputs = model(pixel_values, output_attentions=True, return_dict=True)
    finally:
        model.train(was_training)
    if not outputs.attentions:
        raise ValueError(f"{type(model).__name__} returned no attention maps")
    maps = model.frame_attention_maps(outputs.attentions, pixel_values).float().cpu().numpy()
    title = _predictions_line(outputs.logits[0].float().cpu(), config, top_k)
    subtitle = model.frame_attention_caption
    frame_indices = inputs["video_metadata"][0].frames_indices
    return _draw(frames, maps, frame_indices, title, subtitle, Path(path))


def _predictions_line(logits: torch.Tensor, config, top_k: int) -> str:
    if config.problem_type == "multi_label_classification":
        scores = logits.sigmoid()
    elif config.problem_type == "regression":
        scores = logits
    else:
        scores = logits.softmax(-1)
    values, ids = scores.topk(min(top_k, scores.numel()))
    return "   ".join(f"{config.id2label[int(i)]} {float(v):.2f}" for v, i in zip(values, ids))


def _draw(frames: np.ndarray, maps: np.ndarray, frame_indices, title: str, subtitle: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(frames)
    columns = min(count, MAX_COLUMNS)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.1 * columns + 0.8, 2.2 * rows + 1.0), dpi=110, squeeze=False)
    height, width = frames.shape[1:3]
    # One colour scale for the whole clip: every frame's map sums to 1, so colours compare across frames.
    vmax = float(maps.max())
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= count:
            continue
        axis.imshow(frames[index])
        heat = axis.imshow(
            maps[index], cmap="jet", alpha=0.45, vmin=0.0, vmax=vmax, interpolation="nearest",
            extent=(0, width, height, 0),  # one cell per patch, stretched over the frame
        )  # fmt: skip
        axis.set_title(f"frame {frame_indices[index]}", fontsize=8)
    colorbar = fig.colorbar(heat, ax=axes.ravel().tolist(), fraction=0.02, pad=0.02)
    colorbar.set_label("share of the frame's attention", fontsize=8)
    fig.suptitle(f"{title}\n{subtitle}", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")  # no empty margins around the grid and colour bar
    plt.close(fig)
    return path


__all__ = ["check_attention_maps_supported", "save_attention_maps"]
