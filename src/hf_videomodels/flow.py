"""Optical flow of decoded videos: colour pictures, flow of frame pairs from a RAFT model, and an on-disk cache.

- :func:`flow_to_color`: the colour-wheel encoding of Baker et al. ("A Database and Evaluation Methodology for
  Optical Flow", ICCV 2007; the Middlebury benchmark's pictures), as RAFT's ``flow_viz`` and torchvision's
  ``flow_to_image`` draw it: the direction of a vector picks the hue (pointing right is red, down yellow,
  left cyan-blue, up violet), its length the saturation (zero flow is white).
- :func:`frame_pair_flow`: the flow of chosen consecutive frame pairs ``(t, t + 1)`` of a decoded clip, with any
  model that has RAFT's ``clip_flow(pixel_values, num_iterations)`` (the package's ``RaftModel``).
- :func:`video_flow`: the flow of every consecutive pair of a video file, cached on disk by
  :class:`FlowCache`, since computing it is the expensive step of a flow stream.

Flow tensors are ``(..., 2, H, W)`` float32: the x (rightwards) then y (downwards) displacement, in pixels, of
each pixel of the first frame.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .video_io import VideoSource, is_url, read_video

# The Middlebury colour wheel: (hues in the segment, start colour) around the circle; each segment blends
# linearly into the next one's start colour.
_WHEEL_SEGMENTS = (
    (15, (255, 0, 0)),  # red -> yellow
    (6, (255, 255, 0)),  # yellow -> green
    (4, (0, 255, 0)),  # green -> cyan
    (11, (0, 255, 255)),  # cyan -> blue
    (13, (0, 0, 255)),  # blue -> magenta
    (6, (255, 0, 255)),  # magenta -> red
)
# Flow longer than the given max_magnitude is drawn darker (Baker et al.'s code, RAFT's flow_viz).
_OUT_OF_RANGE_SHADE = 0.75
# Bumped when the cached content's meaning changes, so old cache files are not read.
_CACHE_FORMAT = 1
RAFT_PAIR_BATCH = 8


def color_wheel() -> torch.Tensor:
    """The 55 hues of the Middlebury colour wheel, ``(55, 3)`` float32 in 0-255 (red first, then
    counter-clockwise through yellow, green, cyan, blue and magenta)."""
    rows = []
    for index, (count, start) in enumerate(_WHEEL_SEGMENTS):
        end = torch.tensor(_WHEEL_SEGMENTS[(index + 1) % len(_WHEEL_SEGMENTS)][1], dtype=torch.float32)
        start = torch.tensor(start, dtype=torch.float32)
        # Each changing channel moves by floor(255 * i / count): 0, ... up or 255, ... down.
        step = torch.floor(255 * torch.arange(count, dtype=torch.float32) / count)[:, None]
        rows.append(start + torch.sign(end - start) * step)
    return torch.cat(rows)


def flow_to_color(flow: torch.Tensor | np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour pictures of optical flow: ``(2, H, W)`` or ``(..., 2, H, W)`` -> uint8 RGB ``(..., H, W, 3)``.

    Lengths are divided by ``max_magnitude``, or, when it is None, by the longest vector of the whole input (so
    the frames of a clip given together share one scale, as torchvision's ``flow_to_image`` treats a batch;
    call once per frame for per-frame scaling, as RAFT's ``flow_viz`` does). Vectors longer than
    ``max_magnitude`` keep their hue at full saturation, darkened (Baker et al.'s code).
    """
    flow = torch.as_tensor(flow).detach().to("cpu", torch.float32)
    if flow.ndim < 3 or flow.shape[-3] != 2:
        raise ValueError(f"flow must be (2, H, W) or (..., 2, H, W) (x and y displacement), got {tuple(flow.shape)}")
    if max_magnitude is None:
        longest = flow.pow(2).sum(-3).sqrt().max() if flow.numel() else torch.tensor(0.0)
        scale = longest + torch.finfo(torch.float32).eps
    elif not max_magnitude > 0:
        raise ValueError(f"max_magnitude must be positive, got {max_magnitude!r}")
    else:
        scale = torch.tensor(float(max_magnitude))
    flow = flow / scale
    u, v = flow.unbind(-3)
    radius = flow.pow(2).sum(-3).sqrt()
    wheel = color_wheel() / 255.0
    hues = wheel.shape[0]
    # The angle, from -1 (pointing right) through 0 (left) to 1 (right again), picks a place on the wheel.
    position = (torch.atan2(-v, -u) / torch.pi + 1) / 2 * (hues - 1)
    below = torch.floor(position).long()
    above = torch.where(below + 1 == hues, 0, below + 1)
    weight = (position - below)[..., None]
    color = (1 - weight) * wheel[below] + weight * wheel[above]
    inside = (radius <= 1)[..., None]
    color = torch.where(inside, 1 - radius[..., None] * (1 - color), color * _OUT_OF_RANGE_SHADE)
    return torch.floor(255 * color).to(torch.uint8).numpy()


# ------------------------------------------------------------------------------------------ flow of pairs


def raft_pixels(frames: torch.Tensor) -> torch.Tensor:
    """0-255 RGB frames (uint8 or float) -> RAFT's input range: ``2 * x / 255 - 1``."""
    return frames.float() * (2 / 255) - 1


def consecutive_runs(starts: np.ndarray, longest: int) -> list[tuple[int, int]]:
    """``(first, count)`` of runs of consecutive values in sorted unique ``starts``, each at most ``longest``."""
    runs: list[tuple[int, int]] = []
    for start in starts.tolist():
        if runs and runs[-1][0] + runs[-1][1] == start and runs[-1][1] < longest:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((start, 1))
    return runs


def model_device(model) -> torch.device:
    parameter = next(iter(model.parameters()), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def model_dtype(model) -> torch.dtype:
    parameter = next(iter(model.parameters()), None)
    return parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float32


@torch.no_grad()
def frame_pair_flow(
    frames: torch.Tensor,
    flow_model,
    starts: Sequence[int] | np.ndarray | None = None,
    *,
    num_iterations: int = 12,
    batch_size: int = RAFT_PAIR_BATCH,
    progress: Callable[[int], object] | None = None,
) -> torch.Tensor:
    """The flow from frame ``t`` to frame ``t + 1`` of ``frames`` for each ``t`` in ``starts``.

    Args:
        frames: ``(T, 3, H, W)`` RGB frames in 0-255 (uint8 or float), any size (RAFT pads to a multiple of 8).
        flow_model: a model with ``clip_flow(pixel_values, num_iterations)`` (the package's ``RaftModel``),
            taking ``(batch, frames, 3, H, W)`` in ``[-1, 1]`` and returning ``(batch, frames - 1, 2, H, W)``.
        starts: the first frame of each pair (any order, repeats allowed); None: every consecutive pair.
        num_iterations: RAFT's refinement iterations (12 in the paper's evaluation).
        batch_size: pairs per model call (consecutive pairs share their frames in one call).
        progress: called with the number of pairs done after each model call (e.g. ``tqdm.update``).

    Returns:
        ``(len(starts), 2, H, W)`` float32 flow in pixels, on the model's device.
    """
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames must be (frames, 3, height, width) RGB, got shape {tuple(frames.shape)}")
    count = frames.shape[0]
    starts = np.arange(count - 1) if starts is None else np.asarray(starts, dtype=np.int64).reshape(-1)
    if count < 2:
        raise ValueError(f"optical flow needs at least 2 frames, got {count}")
    if starts.size and (starts.min() < 0 or starts.max() > count - 2):
        raise ValueError(f"pair starts must be in [0, {count - 2}] for {count} frames, got {starts.tolist()}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    device, dtype = model_device(flow_model), model_dtype(flow_model)
    unique = np.unique(starts)
    computed = {}
    for first, length in consecutive_runs(unique, batch_size):
        clip = raft_pixels(frames[first : first + length + 1].to(device))[None].to(dtype)  # e.g. a bf16 model
        flow = flow_model.clip_flow(clip, num_iterations=num_iterations)[0].float()
        for offset in range(length):
            computed[first + offset] = flow[offset]
        if progress is not None:
            progress(length)
    if not starts.size:
        return torch.zeros(0, 2, *frames.shape[-2:], device=device)
    return torch.stack([computed[start] for start in starts.tolist()])


# ------------------------------------------------------------------------------------------------- cache


def file_identity(source: VideoSource) -> dict | None:
    """What identifies a local video file's content for the cache (absolute path, size, modification time in
    nanoseconds), or None for sources that have none (URLs, bytes, file objects)."""
    if not isinstance(source, (str, os.PathLike)) or is_url(source):
        return None
    path = Path(source).expanduser().resolve()
    status = path.stat()
    return {"path": str(path), "bytes": status.st_size, "mtime_ns": status.st_mtime_ns}


def model_fingerprint(model) -> str:
    """A hash of a model's class and every tensor of its state dict (names, shapes, dtypes, values): the same
    weights give the same fingerprint wherever they were loaded from."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class FlowCache:
    """Flow arrays on disk, one ``<key>.npy`` per video and setting, in ``directory``.

    Keys come from :meth:`key`: a hash of everything that changes the flow. Writes go to a temporary file in the
    same folder, then ``os.replace``: a reader sees the whole old file or the whole new one, never a half-written
    one, even when two processes compute the same video at once or a run is interrupted.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory).expanduser()

    @staticmethod
    def key(**parts) -> str:
        """A file name from JSON-serialisable parts (sorted by name, so their order does not matter)."""
        text = json.dumps({"format": _CACHE_FORMAT, **parts}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:40]

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.npy"

    def load(self, key: str) -> np.ndarray | None:
        path = self.path(key)
        return np.load(path) if path.is_file() else None

    def store(self, key: str, flow: np.ndarray) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                np.save(file, np.ascontiguousarray(flow))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path


def video_flow(
    source: VideoSource,
    flow_model,
    *,
    num_iterations: int = 12,
    resize: Callable[[torch.Tensor], torch.Tensor] | None = None,
    resize_key: object = None,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = RAFT_PAIR_BATCH,
    progress: Callable[[int], object] | None = None,
) -> torch.Tensor:
    """The flow of every consecutive frame pair of a video, ``(frames - 1, 2, H, W)`` float32 on the CPU.

    ``resize`` (a function of ``(T, 3, H, W)`` float frames) sizes the frames before RAFT sees them;
    ``resize_key`` must describe it (it is part of the cache key). With ``cache_dir``, the result is stored
    there and read back by the next call with the same file (path, size, modification time), model weights,
    ``num_iterations`` and ``resize_key``; sources without a file identity (URLs, bytes) are not cached.
    """
    identity = file_identity(source) if cache_dir is not None else None
    cache = FlowCache(cache_dir) if identity is not None else None
    if cache is not None:
        key = FlowCache.key(
            video=identity, model=model_fingerprint(flow_model), num_iterations=num_iterations, resize=resize_key
        )
        cached = cache.load(key)
        if cached is not None:
            return torch.from_numpy(cached)
    frames, _ = read_video(source)
    frames = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    if resize is not None:
        frames = resize(frames)
    flow = frame_pair_flow(
        frames, flow_model, num_iterations=num_iterations, batch_size=batch_size, progress=progress
    ).cpu()
    if cache is not None:
        cache.store(key, flow.numpy())
    return flow


# ----------------------------------------------------------------------------------------------- pictures


def color_wheel_key(size: int = 101) -> np.ndarray:
    """A ``(size, size, 3)`` picture of the encoding: each pixel coloured as the flow pointing from the centre to
    it, the rim at full length (the legend of a flow picture)."""
    axis = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    key = flow_to_color(torch.stack([x, y]), max_magnitude=1.0)
    key[(x**2 + y**2 > 1).numpy()] = 255  # white outside the disc
    return key


def flow_method_name(flow_model) -> str:
    """What computes the flow, for titles and progress bars: a model's ``flow_method_name``, else RAFT."""
    return getattr(flow_model, "flow_method_name", "RAFT")


def _pair_starts(frame_count: int, count: int) -> np.ndarray:
    """``count`` pair starts spread evenly over a video of ``frame_count`` frames (all pairs if fewer)."""
    if frame_count < 2:
        raise ValueError(f"optical flow needs a video of at least 2 frames, got {frame_count}")
    return np.unique(np.round(np.linspace(0, frame_count - 2, min(count, frame_count - 1))).astype(np.int64))


def save_flow_strip(
    video: VideoSource, flow_model, path, *, num_pairs: int = 8, num_iterations: int = 12, progress: bool = True
) -> Path:
    """A PNG of ``num_pairs`` frame pairs spread over ``video``: each first frame over its flow to the next
    frame (one colour scale for all, stated in the title), and the colour-wheel key."""
    from tqdm.auto import tqdm

    from .video_io import probe_video

    starts = _pair_starts(probe_video(video).total_num_frames, num_pairs)
    frames, _ = read_video(video, indices=np.union1d(starts, starts + 1))
    decoded = np.union1d(starts, starts + 1)
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2)
    name = flow_method_name(flow_model)
    with tqdm(total=len(starts), unit="pair", desc=f"{name} flow", disable=not progress) as bar:
        flow = frame_pair_flow(
            pixels, flow_model, np.searchsorted(decoded, starts), num_iterations=num_iterations, progress=bar.update
        ).cpu()
    shown = frames[np.searchsorted(decoded, starts)]
    return draw_flow_strip(shown, flow, starts, path, f"{name} optical flow, {num_iterations} iterations")


def draw_flow_strip(frames: np.ndarray, flow: torch.Tensor, starts: Sequence[int], path, what: str) -> Path:
    """A PNG: each frame ``(N, H, W, 3)`` uint8 over its flow ``(N, 2, H, W)`` to the next frame, with the
    colour-wheel key; ``what`` names the flow in the title. One colour scale for all: full colour at the 99th
    percentile of the lengths, so a few outliers do not wash the picture out (longer vectors are drawn darker)."""
    flow = torch.as_tensor(flow).float()
    full = float(np.percentile(flow.pow(2).sum(1).sqrt().numpy(), 99))
    colors = flow_to_color(flow, max_magnitude=max(full, 1e-6))
    title = (
        f"{what}: hue = direction (see key), saturation = speed (white = still, full colour = {full:.1f} px/frame, "
        "longer: darker)"
    )
    return _draw_strip(frames, colors, list(starts), title, Path(path))


def _draw_strip(frames: np.ndarray, colors: np.ndarray, starts: list[int], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = len(frames) + 1  # the last column holds the key
    fig, axes = plt.subplots(2, columns, figsize=(1.9 * columns, 4.2), dpi=110, squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for index, (frame, color, start) in enumerate(zip(frames, colors, starts)):
        axes[0, index].imshow(frame)
        axes[0, index].set_title(f"frame {start}", fontsize=8)
        axes[1, index].imshow(color)
        axes[1, index].set_title(f"flow {start}\u2192{start + 1}", fontsize=8)
    axes[1, -1].imshow(color_wheel_key())
    axes[1, -1].set_title("key: \u2192 right, \u2193 down", fontsize=7)
    fig.suptitle(title, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def save_flow_video(
    video: VideoSource, flow_model, path, *, num_iterations: int = 12, progress: bool = True
) -> Path:
    """A video of every frame beside its colour-coded flow to the next frame (one colour scale for the whole
    video), at the source's frame rate."""
    from tqdm.auto import tqdm

    from .video_io import write_video

    frames, metadata = read_video(video)
    if len(frames) < 2:
        raise ValueError(f"optical flow needs a video of at least 2 frames, got {len(frames)}")
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2)
    with tqdm(total=len(frames) - 1, unit="pair", desc=f"{flow_method_name(flow_model)} flow", disable=not progress) as bar:
        flow = frame_pair_flow(pixels, flow_model, num_iterations=num_iterations, progress=bar.update).cpu()
    colors = flow_to_color(flow)
    side_by_side = np.concatenate([frames[:-1], colors], axis=2)
    # H.264 with 4:2:0 chroma needs even sides.
    height, width = side_by_side.shape[1:3]
    side_by_side = side_by_side[:, : height - height % 2, : width - width % 2]
    fps = round(metadata.fps) if metadata.fps else 25
    return write_video(side_by_side, path, fps=max(fps, 1))


__all__ = [
    "FlowCache",
    "color_wheel",
    "color_wheel_key",
    "draw_flow_strip",
    "file_identity",
    "flow_to_color",
    "frame_pair_flow",
    "model_fingerprint",
    "raft_pixels",
    "save_flow_strip",
    "save_flow_video",
    "video_flow",
]
