"""Attention pictures for the video transformers: where the classification (cls) token looks in each frame.

``save_attention_maps`` classifies one video and draws every sampled frame under a heat map of the cls
token's attention over the frame's patches, in the **last block** (the one feeding the classifier), averaged
over heads. It is a picture of one layer's attention probabilities, not an attribution method (no rollout,
no gradients).

How a per-frame map is read from TimeSformer's attention steps (layouts in ``modeling_timesformer``):
in every step the cls token takes part in, its copies' attention rows together cover each patch token of the
clip exactly once (the groups partition the patches), and the cls token receives the *mean* of its copies'
outputs, so its effective weight on a patch is the probability in its group's row divided by the number of
groups. Those weights are put back on the (frame, row, column) grid, the cls token's weight on itself is
left out, and each frame's map is divided by its sum: **every frame's map sums to 1** and shows how the cls
token shares its attention *within* that frame (for ``joint_space_time`` and ``sparse_local_global`` it
also splits its attention across frames; that share is not shown). Per scheme:

* ``space_only``: the cls row of each frame's sequence;
* ``divided_space_time``: the ``space`` step (the ``time`` step leaves the cls token out);
* ``joint_space_time``: the one cls row over all ``N*T`` tokens, cut into frames;
* ``axial``: the mean of the ``width`` and ``height`` steps' maps (each alone only ranks patches within a
  row, resp. a column, of the frame);
* ``sparse_local_global``: the mean of the ``local`` and ``global`` steps' maps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .errors import UserInputError
from .layers.patch_embed import pair
from .models.timesformer import TimeSformerConfig
from .models.timesformer.modeling_timesformer import ATTENTION_STEPS, TokenGrid, from_groups, group_layout

MAX_COLUMNS = 8


def cls_attention_per_frame(
    attentions: Sequence[torch.Tensor], config: TimeSformerConfig, grid: tuple[int, int, int]
) -> torch.Tensor:
    """The last block's cls-token attention of one clip as ``(frames, grid_h, grid_w)`` maps summing to 1.

    ``attentions`` is a TimeSformer's ``outputs.attentions`` for a batch of one clip (one view),
    ``grid`` the clip's ``(frames, grid_h, grid_w)`` patch-token volume. See the module docstring.
    """
    grid = TokenGrid(*grid)
    steps = ATTENTION_STEPS[config.attention_type]
    if not attentions or len(attentions) % len(steps):
        raise ValueError(
            f"expected {len(steps)} attention maps per block for {config.attention_type!r}, got {len(attentions or ())}"
        )
    last_block = attentions[-len(steps) :]
    maps = [
        _step_cls_map(probs, spec.grouping, config, grid)
        for spec, probs in zip(steps.values(), last_block)
        if spec.with_cls
    ]
    return torch.stack(maps).mean(dim=0)


def _step_cls_map(probs: torch.Tensor, grouping: str, config: TimeSformerConfig, grid: TokenGrid) -> torch.Tensor:
    """One step's per-frame cls maps from its ``(groups, heads, 1 + tokens, 1 + tokens)`` probabilities."""
    frames, height, width = grid
    # Query 0 is the cls token (copy) of every group; keys 1: are the group's patch tokens (cls itself left out).
    cls_rows = probs[:, :, 0, 1:].float().mean(dim=1)  # (groups, tokens)
    if cls_rows.numel() != frames * height * width:
        raise ValueError(
            f"attention maps of shape {tuple(probs.shape)} do not cover one clip of {frames} frames of "
            f"{height}x{width} patches: pass the outputs of a single video (batch of 1, one view)"
        )
    if config.attention_type == "space_only":  # one sequence per frame: the frame's patches in (y, x) order
        volume = cls_rows.view(frames, height, width)
    elif grouping == "sequence":  # joint: one sequence, tokens space-major, time-minor (1 + n*T + t)
        volume = cls_rows.view(height, width, frames).permute(2, 0, 1)
    else:
        window = pair(config.local_window_size) if config.local_window_size is not None else None
        layout = group_layout(grouping, 1, grid, 1, window, config.global_stride)
        volume = from_groups(cls_rows.unsqueeze(-1), layout).view(height, width, frames).permute(2, 0, 1)
    return volume / volume.sum(dim=(1, 2), keepdim=True)


def check_attention_maps_supported(model) -> None:
    """Raise ``UserInputError`` unless ``save_attention_maps`` can draw ``model``: a TimeSformer on RGB frames
    (I3D, a CNN, has no attention maps). Cheap: call it before spending time on the video."""
    if not isinstance(model.config, TimeSformerConfig):
        raise UserInputError(
            f"{type(model).__name__} has no attention maps (only the package's TimeSformer models have them)"
        )
    if model.config.num_channels != 3:
        raise UserInputError(
            f"attention pictures need RGB frames; this model takes {model.config.num_channels} channels"
        )


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
    patch_h, patch_w = pair(config.patch_size)
    grid = (pixel_values.shape[1], pixel_values.shape[-2] // patch_h, pixel_values.shape[-1] // patch_w)
    maps = cls_attention_per_frame(outputs.attentions, config, grid).cpu().numpy()

    title = _predictions_line(outputs.logits[0].float().cpu(), config, top_k)
    steps = " + ".join(name for name, spec in ATTENTION_STEPS[config.attention_type].items() if spec.with_cls)
    subtitle = f"{config.attention_type}: cls attention of the last block ({steps}), mean over heads"
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


__all__ = ["check_attention_maps_supported", "cls_attention_per_frame", "save_attention_maps"]
