"""Video decoding: metadata first, then only the frames asked for, as uint8 RGB arrays.

Two backends:

- **torchcodec**, used when it can be imported *and* its native library loads (it links against the system's
  FFmpeg libraries; without them the import fails). The check runs once per process and is cached.
- **PyAV** otherwise: its wheels ship their own FFmpeg, so it always works.

``HF_VIDEOMODELS_VIDEO_BACKEND`` (``auto`` | ``torchcodec`` | ``pyav``) or the ``backend`` argument forces
one. Sources are local paths, ``http(s)://`` URLs (downloaded once to a temporary file), bytes or binary
file objects.

The frame count a backend reports is the number of frames it can decode: PyAV trusts the count stored by
MP4/MOV and AVI containers and counts by decoding for the rest (GIF, Matroska/WebM, MPEG-TS, ...), and if a
stored count still turns out too high the frames are re-chosen from the count actually decoded.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib
import io
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

import numpy as np
from transformers.video_utils import VideoMetadata

from .errors import UserInputError

logger = logging.getLogger(__name__)

BACKEND_ENV_VAR = "HF_VIDEOMODELS_VIDEO_BACKEND"
BACKENDS = ("torchcodec", "pyav")
# Containers whose stored frame count PyAV can trust (an index of every frame); others are counted by decoding.
_PYAV_COUNTED_FORMATS = {"mov", "mp4", "avi"}

VideoSource = str | os.PathLike | bytes | BinaryIO
IndexChoice = Sequence[int] | np.ndarray | Callable[[VideoMetadata], Sequence[int]] | None


class VideoDecodingError(UserInputError):
    """A video could not be read: a URL that cannot be downloaded, an unreadable or corrupt file, no frames, or
    a frame index out of range."""


class _TooFewFrames(Exception):
    """The container promised more frames than could be decoded; carries the real count."""

    def __init__(self, decoded: int):
        super().__init__(decoded)
        self.decoded = decoded


def is_url(source) -> bool:
    return isinstance(source, str) and urlparse(source).scheme in ("http", "https")


@functools.cache
def torchcodec_unavailable_reason() -> str | None:
    """``None`` when torchcodec decodes here, else why not. Importing loads its native library, which needs
    the system's FFmpeg, so a missing FFmpeg shows up as an import-time error (not only ImportError)."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except Exception as error:  # RuntimeError/OSError when the shared libraries cannot be loaded
        return f"{type(error).__name__}: {error}"
    return None


def select_backend(backend: str | None = None) -> str:
    """The decoding backend to use: ``backend``, else ``$HF_VIDEOMODELS_VIDEO_BACKEND``, else ``auto`` (torchcodec
    when it is usable, PyAV otherwise)."""
    requested = (backend or os.environ.get(BACKEND_ENV_VAR) or "auto").strip().lower()
    if requested not in ("auto", *BACKENDS):
        raise ValueError(f"unknown video backend {requested!r}; expected one of {('auto', *BACKENDS)}")
    reason = torchcodec_unavailable_reason() if requested in ("auto", "torchcodec") else None
    if requested == "torchcodec" and reason is not None:
        raise ImportError(f"the torchcodec video backend was requested but cannot be used ({reason})")
    if requested == "auto":
        if reason is None:
            return "torchcodec"
        _log_fallback_once(reason)
        return "pyav"
    return requested


@functools.cache
def _log_fallback_once(reason: str) -> None:
    logger.info("torchcodec is not usable (%s); decoding videos with PyAV", reason)


def describe_source(source: VideoSource) -> str:
    """How a source is named in error messages."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    return f"<{getattr(source, 'name', type(source).__name__)}>"


@contextlib.contextmanager
def local_source(source: VideoSource) -> Iterator[str | BinaryIO]:
    """A path or file object the backends can open: downloads URLs to a temporary file (deleted afterwards),
    wraps bytes, and raises FileNotFoundError for a missing local path."""
    if is_url(source):
        suffix = Path(urlparse(source).path).suffix
        with tempfile.TemporaryDirectory(prefix="hf_videomodels_") as directory:
            path = os.path.join(directory, f"video{suffix}")
            _download(source, path)
            yield path
    elif isinstance(source, (str, os.PathLike)):
        check_video_file(source)
        yield os.fspath(source)
    elif isinstance(source, (bytes, bytearray)):
        yield io.BytesIO(source)
    elif hasattr(source, "read") and hasattr(source, "seek"):
        yield source
    else:
        raise TypeError(f"a video source must be a path, URL, bytes or binary file object, got {type(source).__name__}")


def check_video_file(source: VideoSource) -> None:
    """Raise ``FileNotFoundError`` if ``source`` is a local path that is not a file (URLs and data pass)."""
    if isinstance(source, (str, os.PathLike)) and not is_url(source) and not os.path.isfile(source):
        raise FileNotFoundError(errno.ENOENT, "video file not found", os.fspath(source))


def _download(url: str, path: str) -> None:
    # huggingface_hub's session carries the user's proxy/SSL settings.
    from huggingface_hub.errors import OfflineModeIsEnabled
    from huggingface_hub.utils import get_session

    session = get_session()
    # Its HTTP library: httpx for huggingface_hub 1.x, httpx2 for 2.x; both have these error classes.
    http = importlib.import_module(type(session).__module__.partition(".")[0])
    try:
        with session.stream("GET", url, follow_redirects=True) as response, open(path, "wb") as file:
            response.raise_for_status()
            file.writelines(response.iter_bytes())
    except http.HTTPStatusError as error:
        raise VideoDecodingError(f"cannot download {url}: HTTP {error.response.status_code}") from error
    except OfflineModeIsEnabled as error:  # the session refuses every request under HF_HUB_OFFLINE=1
        raise VideoDecodingError(f"cannot download {url}: {error}") from error
    except http.HTTPError as error:  # connection refused, DNS, timeout, TLS, ...
        raise VideoDecodingError(f"cannot download {url}: {type(error).__name__}: {error}") from error


def probe_video(source: VideoSource, *, backend: str | None = None) -> VideoMetadata:
    """The video's metadata (frame count, fps, duration, size, backend) without converting any frame."""
    return read_video(source, indices=[], backend=backend)[1]


def read_video(
    source: VideoSource, indices: IndexChoice = None, *, backend: str | None = None
) -> tuple[np.ndarray, VideoMetadata]:
    """Decode frames of a video as uint8 RGB ``(len(indices), height, width, 3)``.

    ``indices``: ``None`` for every frame, a sequence of frame indices (any order, repeats allowed), or a
    callable that receives the video's metadata and returns the indices, so a sampler can choose frames from
    the real frame count while the file is opened once. The returned metadata has ``frames_indices`` set.
    """
    name = describe_source(source)
    chosen = select_backend(backend)
    reader = _read_torchcodec if chosen == "torchcodec" else _read_pyav
    with local_source(source) as local:
        return reader(local, name, indices)


def _resolve_indices(indices: IndexChoice, metadata: VideoMetadata, name: str) -> np.ndarray:
    if metadata.total_num_frames <= 0:
        raise VideoDecodingError(f"{name} contains no video frames")
    if indices is None:
        chosen = np.arange(metadata.total_num_frames)
    else:
        chosen = np.asarray(indices(metadata) if callable(indices) else indices)
    if chosen.size and not np.issubdtype(chosen.dtype, np.integer):
        raise TypeError(f"frame indices must be integers, got dtype {chosen.dtype}")
    chosen = chosen.astype(np.int64).reshape(-1)
    bad = chosen[(chosen < 0) | (chosen >= metadata.total_num_frames)]
    if bad.size:
        raise VideoDecodingError(
            f"frame index {int(bad[0])} is out of range for {name}, which has {metadata.total_num_frames} frames"
        )
    metadata.frames_indices = chosen.tolist()
    return chosen


def _empty_frames(metadata: VideoMetadata) -> np.ndarray:
    return np.zeros((0, metadata.height or 0, metadata.width or 0, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------------------------------- PyAV


def _open_pyav(source: str | BinaryIO, name: str):
    import av

    if not isinstance(source, str):
        source.seek(0)
    try:
        container = av.open(source, mode="r")
    except av.FFmpegError as error:
        raise VideoDecodingError(f"cannot open {name} as a video (PyAV: {error})") from error
    if not container.streams.video:
        container.close()
        raise VideoDecodingError(f"{name} has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # frame + slice threading: decoding uses the idle cores
    return container, stream


def _decode_pyav(container, stream, name: str) -> Iterator:
    import av

    try:
        yield from container.decode(stream)
    except av.FFmpegError as error:
        raise VideoDecodingError(f"cannot decode {name} (PyAV: {error})") from error


def _pyav_metadata(source: str | BinaryIO, name: str) -> VideoMetadata:
    container, stream = _open_pyav(source, name)
    with container:
        formats = set(container.format.name.split(","))
        count = stream.frames if stream.frames > 0 and formats & _PYAV_COUNTED_FORMATS else None
        if count is None:  # no stored count (GIF, Matroska, ...): the decodable frames are the truth
            count = sum(1 for _ in _decode_pyav(container, stream, name))
        fps = float(stream.average_rate or stream.guessed_rate or 0) or None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = count / fps if fps else None
        return VideoMetadata(
            total_num_frames=count,
            fps=fps,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            duration=duration,
            video_backend="pyav",
        )


def _read_pyav(source: str | BinaryIO, name: str, indices: IndexChoice) -> tuple[np.ndarray, VideoMetadata]:
    metadata = _pyav_metadata(source, name)
    try:
        chosen = _resolve_indices(indices, metadata, name)
        if chosen.size == 0:
            return _empty_frames(metadata), metadata
        return _pyav_frames(source, name, chosen), metadata
    except _TooFewFrames as shortfall:
        stored = metadata.total_num_frames
        metadata.total_num_frames = shortfall.decoded
        if shortfall.decoded == 0:
            raise VideoDecodingError(f"{name} contains no decodable video frames") from None
        if not callable(indices) and indices is not None:
            raise VideoDecodingError(
                f"{name} stores a count of {stored} frames but only {shortfall.decoded} can be decoded; "
                f"frame {int(np.max(indices))} does not exist"
            ) from None
        # Frames were chosen from a wrong count: choose again from the frames that really exist.
        chosen = _resolve_indices(indices, metadata, name)
        return _pyav_frames(source, name, chosen), metadata


def _pyav_frames(source: str | BinaryIO, name: str, chosen: np.ndarray) -> np.ndarray:
    wanted = set(chosen.tolist())
    last = int(chosen.max())
    kept = {}
    container, stream = _open_pyav(source, name)
    with container:
        decoded = 0
        for index, frame in enumerate(_decode_pyav(container, stream, name)):
            decoded = index + 1
            if index in wanted:
                kept[index] = frame
            if index >= last:  # stop at the last frame needed
                break
    if last not in kept:
        raise _TooFewFrames(decoded)
    # Colour conversion only for the frames we keep, once decoding threads are done (2-3x faster than
    # converting while the frame-threaded decoder is still running).
    return _stack({index: frame.to_ndarray(format="rgb24") for index, frame in kept.items()}, chosen, name)


def _stack(frames: dict[int, np.ndarray], chosen: np.ndarray, name: str) -> np.ndarray:
    shapes = {frame.shape for frame in frames.values()}
    if len(shapes) > 1:
        raise VideoDecodingError(f"{name} changes frame size mid-stream ({sorted(shapes)}); cannot stack frames")
    return np.stack([frames[index] for index in chosen.tolist()])


# ----------------------------------------------------------------------------------------------- torchcodec


def _read_torchcodec(source: str | BinaryIO, name: str, indices: IndexChoice) -> tuple[np.ndarray, VideoMetadata]:
    from torchcodec.decoders import VideoDecoder

    try:
        # "exact" scans the file once, so len(decoder) is the number of decodable frames.
        decoder = VideoDecoder(source, seek_mode="exact", dimension_order="NHWC", num_ffmpeg_threads=0)
    except Exception as error:  # torchcodec raises RuntimeError/ValueError with FFmpeg's message
        raise VideoDecodingError(f"cannot open {name} as a video (torchcodec: {error})") from error
    stream = decoder.metadata
    metadata = VideoMetadata(
        total_num_frames=len(decoder),
        fps=stream.average_fps,
        width=stream.width,
        height=stream.height,
        duration=stream.duration_seconds,
        video_backend="torchcodec",
    )
    chosen = _resolve_indices(indices, metadata, name)
    if chosen.size == 0:
        return _empty_frames(metadata), metadata
    unique = np.unique(chosen)
    try:
        batch = decoder.get_frames_at(indices=unique.tolist()).data.numpy()
    except Exception as error:
        raise VideoDecodingError(f"cannot decode {name} (torchcodec: {error})") from error
    return _stack(dict(zip(unique.tolist(), batch)), chosen, name), metadata


# ------------------------------------------------------------------------------------------------ encoding


def write_video(
    frames: np.ndarray, path: str | os.PathLike, *, fps: int = 25, codec: str = "h264", bit_rate: int | None = None
) -> Path:
    """Encode uint8 RGB frames ``(T, H, W, 3)`` to a video file with PyAV (for tests, benchmarks, demos).

    The container follows the file extension (``.mp4``, ``.avi``, ``.mkv``, ...); MJPEG uses full-range YUV.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())  # flush the encoder's delayed frames
    return path
