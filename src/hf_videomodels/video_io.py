"""Video decoding: metadata first, then only the frames asked for, as uint8 RGB arrays.

Two backends:

- **torchcodec**, used when it can be imported *and* its native library loads (it links against the system's
  FFmpeg libraries; without them the import fails). The check runs once per process and is cached.
- **PyAV** otherwise: its wheels ship their own FFmpeg, so it always works.

``HF_VIDEOMODELS_VIDEO_BACKEND`` (``auto`` | ``torchcodec`` | ``pyav``) or the ``backend`` argument forces
one. Sources are local paths, ``http(s)://`` URLs (downloaded once to a temporary file), bytes or binary
file objects.

Frame ``i`` is the ``i``-th frame a decode from the start gives. With PyAV, frames are found without decoding
from the start:

- **Counting** reads no frame: MP4/MOV and AVI list every packet in the index the demuxer builds on opening;
  other containers (Matroska/WebM, GIF, MPEG-TS, ...) are demuxed, every packet read once and none decoded. The
  count is the number of packets that hold a shown frame (packets an MP4 edit list cuts and hidden VP8 frames
  are left out), never an estimate from duration x frame rate. If fewer frames than that decode, reading the
  last ones finds out and the frames are re-chosen from the count actually decoded.
- **Reading** sorts the packets' presentation timestamps (frame ``i`` has the ``i``-th smallest: B-frames are
  stored out of order), seeks to the last keyframe at or before each wanted frame and decodes on from there,
  taking frames by timestamp. The result is bit-identical to decoding from the start, which is what happens
  instead when packets lack distinct timestamps, when a seek lands past its keyframe, or when the decoder does
  not confirm the keyframe (a container's wrong flag).

Decoding uses as many threads as torch (``torch.get_num_threads()``, at most 16): all cores by default, one in a
``DataLoader`` worker, where torch runs on one thread, so the workers do not oversubscribe the cores.
Nothing stays open between calls, so a dataset that decodes with this module pickles into workers.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib
import io
import itertools
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

import numpy as np
from transformers.video_utils import VideoMetadata

from .errors import UserInputError

logger = logging.getLogger(__name__)

BACKEND_ENV_VAR = "HF_VIDEOMODELS_VIDEO_BACKEND"
BACKENDS = ("torchcodec", "pyav")
# Containers whose demuxer indexes every packet on opening (MP4/MOV sample tables, AVI's idx1): probing counts
# their frames without reading the file. Others are counted by reading their packets (demuxing, no decoding).
_INDEXED_FORMATS = {"mov", "mp4", "avi"}

# FFmpeg's cap on the threads it starts by itself; it warns about more and they do not help.
_MAX_DECODER_THREADS = 16
_MILLISECOND = Fraction(1, 1000)

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


@dataclass(frozen=True)
class _FrameIndex:
    """Where the frames of a video stream are, read from its packets (demuxed, not decoded).

    Frame ``i`` (the ``i``-th frame a decode from the start gives) is the packet with the ``i``-th smallest
    presentation timestamp: a decoder turns each packet into one frame and outputs them in presentation order.
    """

    count: int
    # Presentation timestamps, ascending; None when some packet has none or two share one, so frames can only
    # be found by counting them from the start.
    pts: np.ndarray | None
    # Timestamps of the keyframes, where decoding can start, ascending. They include keyframes an MP4 edit list
    # cuts: not frames of the video, but the frames after them are decoded from them.
    keyframe_pts: np.ndarray


class _SeekMissed(Exception):
    """Seeking did not give the frames the index promised (a demuxer that cannot seek there, a decoder that
    drops a frame, timestamps that do not match): the caller decodes from the start instead."""


def _decoding_threads() -> int:
    """Decoder threads: as many as torch uses, up to FFmpeg's own limit. A ``DataLoader`` worker sets torch to one
    thread, so ``num_workers`` processes decode on ``num_workers`` cores instead of each starting one per core."""
    import torch

    return min(torch.get_num_threads(), _MAX_DECODER_THREADS)


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
    stream.thread_count = _decoding_threads()
    if stream.thread_count != 1:
        stream.thread_type = "AUTO"  # frame + slice threading
    return container, stream


def _decode_packet(packet) -> list:
    """The frames one packet completes (all decoding goes through here)."""
    return packet.decode()


def _decode_pyav(container, stream, name: str) -> Iterator:
    import av

    try:
        for packet in container.demux(stream):
            yield from _decode_packet(packet)
    except av.FFmpegError as error:
        raise VideoDecodingError(f"cannot decode {name} (PyAV: {error})") from error


def _stored_frame_count(container, stream) -> int | None:
    """The frame count from the index MP4/MOV and AVI demuxers build on opening (one entry per packet; entries an
    edit list cuts are not frames), or None for containers without one (Matroska/WebM, GIF, MPEG-TS, ...)."""
    if not set(container.format.name.split(",")) & _INDEXED_FORMATS:
        return None
    count = sum(1 for entry in stream.index_entries if entry.size > 0 and not entry.is_discard)
    return count or None


def _vp8_shows_frame(packet) -> bool:
    # VP8 frame tag (RFC 6386, 9.1): bit 4 of the first byte is show_frame. Hidden frames (alt-refs) update
    # the decoder's references but output no picture, so they are not frames of the video.
    return bool(memoryview(packet)[0] & 0x10)


def _demux_frame_index(container, stream, name: str) -> _FrameIndex:
    """Read every packet of the video stream once (no decoding) and index the frames they hold."""
    import av

    is_vp8 = stream.codec_context.name == "vp8"
    timestamps, keyframe_timestamps = [], []
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the end-of-stream marker
                continue
            if packet.is_keyframe and packet.pts is not None:
                keyframe_timestamps.append(packet.pts)
            # Not frames: packets an edit list cuts (the decoder drops them) and hidden VP8 frames.
            if not packet.is_discard and not (is_vp8 and not _vp8_shows_frame(packet)):
                timestamps.append(packet.pts)
    except av.FFmpegError as error:
        raise VideoDecodingError(f"cannot read {name} (PyAV: {error})") from error
    keyframe_pts = np.unique(np.asarray(keyframe_timestamps, dtype=np.int64))
    if None in timestamps or len(set(timestamps)) < len(timestamps):
        return _FrameIndex(count=len(timestamps), pts=None, keyframe_pts=keyframe_pts)
    # Sorting turns decode order into presentation order (B-frames are stored before the frames shown first).
    pts = np.sort(np.asarray(timestamps, dtype=np.int64))
    return _FrameIndex(count=len(timestamps), pts=pts, keyframe_pts=keyframe_pts)


def _pyav_metadata(container, stream, count: int) -> VideoMetadata:
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
    container, stream = _open_pyav(source, name)
    with container:
        wants_frames = indices is None or callable(indices) or len(indices) > 0
        # A probe of an MP4 counts from the container's index; finding frames needs the packets' timestamps.
        stored_count = None if wants_frames else _stored_frame_count(container, stream)
        index = _demux_frame_index(container, stream, name) if stored_count is None else None
        metadata = _pyav_metadata(container, stream, stored_count or index.count)
        try:
            chosen = _resolve_indices(indices, metadata, name)
            if chosen.size == 0:
                return _empty_frames(metadata), metadata
            return _pyav_frames(source, container, stream, index, chosen, name), metadata
        except _TooFewFrames as shortfall:
            stored = metadata.total_num_frames
            metadata.total_num_frames = shortfall.decoded
            if shortfall.decoded == 0:
                raise VideoDecodingError(f"{name} contains no decodable video frames") from None
            if not callable(indices) and indices is not None:
                raise VideoDecodingError(
                    f"{name} holds {stored} frames but only {shortfall.decoded} can be decoded; "
                    f"frame {int(np.max(indices))} does not exist"
                ) from None
            # Frames were chosen from a wrong count: choose again from the frames that really exist, counted from
            # the start (the index, which promised more, is not trusted again).
            chosen = _resolve_indices(indices, metadata, name)
            return _pyav_frames(source, container, stream, None, chosen, name), metadata


def _pyav_frames(source, container, stream, index: _FrameIndex | None, chosen: np.ndarray, name: str) -> np.ndarray:
    """The frames at positions ``chosen``: by seeking with ``index`` when it has timestamps, else (or when a seek
    misses) decoded from the start in a fresh container, after which ``container`` is not used again (a file
    object's position now belongs to the new one)."""
    wanted = np.unique(chosen)
    kept = None
    if index is not None and index.pts is not None:
        try:
            kept = _decode_by_seeking(container, stream, index, wanted, name)
        except _SeekMissed as missed:  # the same frames, found the slow way
            logger.info("%s: %s; decoding from the first frame instead", name, missed)
    if kept is None:
        kept = _decode_from_start(source, name, wanted)
    # Colour conversion only for the frames we keep, once decoding threads are done (2-3x faster than
    # converting while the frame-threaded decoder is still running).
    return _stack({position: frame.to_ndarray(format="rgb24") for position, frame in kept.items()}, chosen, name)


def _decode_by_seeking(container, stream, index: _FrameIndex, wanted: np.ndarray, name: str) -> dict:
    """The frames at positions ``wanted`` (ascending), each reached by seeking to the last keyframe at or before
    it, unless the decoder is already between that keyframe and the frame (then it decodes on)."""
    if wanted[-1] >= index.count:
        raise _SeekMissed(f"frame {wanted[-1]} is past the {index.count} indexed frames")
    targets = index.pts[wanted]
    starts = np.searchsorted(index.keyframe_pts, targets, side="right") - 1
    if starts[0] < 0:
        raise _SeekMissed(f"no keyframe at or before frame {wanted[0]}")
    # Where to seek when a seek lands past its keyframe: well before the first one, since a demuxer that searches
    # by timestamp (MPEG-TS) reaches the start only for a target clearly before it.
    rewind_pts = int(index.keyframe_pts[0]) - round(60 / stream.time_base)
    kept, frames, last_pts = {}, None, None
    for position, target, keyframe_pts in zip(wanted.tolist(), targets.tolist(), index.keyframe_pts[starts].tolist()):
        if frames is None or keyframe_pts > last_pts:
            if frames is not None:
                frames.close()
            frames = _decode_from_keyframe(container, stream, keyframe_pts, rewind_pts)
        for last_pts, frame in frames:
            if last_pts >= target:
                break
        else:
            raise _SeekMissed(f"frame {position} (pts {target}) did not come out of the decoder")
        if last_pts != target:
            raise _SeekMissed(f"frame {position} (pts {target}) did not come out of the decoder (got pts {last_pts})")
        kept[position] = frame
    frames.close()
    return kept


def _decode_from_keyframe(container, stream, keyframe_pts: int, rewind_pts: int) -> Iterator[tuple[int, object]]:
    """Seek to the keyframe whose pts is ``keyframe_pts`` and decode on: ``(pts, frame)`` in presentation order.

    The demuxer may land on an earlier keyframe (Matroska seeks to the start of a cluster): packets before ours
    are read but not decoded. One that lands past it (MPEG-TS guesses positions from timestamps) seeks again to
    ``rewind_pts``, before the first keyframe, and reads on from there. Frames shown before the keyframe (an open
    GOP's leading frames, which need the previous group) are dropped.
    """
    import av

    try:
        for seek_pts in (keyframe_pts, rewind_pts):
            container.seek(seek_pts, backward=True, any_frame=False, stream=stream)
            packets = container.demux(stream)
            packet = _skip_to_keyframe(packets, keyframe_pts)
            if packet is not None:
                break
        else:
            raise _SeekMissed(f"seeking to pts {keyframe_pts} landed past it")
        for packet in itertools.chain([packet], packets):
            for frame in _decode_packet(packet):
                if frame.pts is None:
                    raise _SeekMissed("a decoded frame has no timestamp")
                if frame.pts == keyframe_pts and not frame.key_frame:  # the decoder's word over the container's
                    raise _SeekMissed(f"pts {keyframe_pts} is marked as a keyframe but does not decode as one")
                if frame.pts >= keyframe_pts:
                    yield frame.pts, frame
    except av.FFmpegError as error:  # a damaged file fails again, with this error, when decoded from the start
        raise _SeekMissed(f"decoding after seeking to pts {keyframe_pts} failed (PyAV: {error})") from error


def _skip_to_keyframe(packets: Iterator, keyframe_pts: int):
    """Read packets up to the keyframe with pts ``keyframe_pts`` and return it; None when a later keyframe or the
    end comes first (the seek landed past it)."""
    for packet in packets:
        if packet.pts == keyframe_pts:
            return packet
        if packet.size == 0 or (packet.is_keyframe and packet.pts is not None and packet.pts > keyframe_pts):
            return None
    return None


def _decode_from_start(source: str | BinaryIO, name: str, wanted: np.ndarray) -> dict:
    """The frames at positions ``wanted`` (ascending), counted as a decode from the first frame gives them."""
    wanted_set, last = set(wanted.tolist()), int(wanted[-1])
    kept = {}
    container, stream = _open_pyav(source, name)
    with container:
        decoded = 0
        for position, frame in enumerate(_decode_pyav(container, stream, name)):
            decoded = position + 1
            if position in wanted_set:
                kept[position] = frame
            if position >= last:  # stop at the last frame needed
                break
    if last not in kept:
        raise _TooFewFrames(decoded)
    return kept


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
        decoder = VideoDecoder(
            source, seek_mode="exact", dimension_order="NHWC", num_ffmpeg_threads=_decoding_threads()
        )
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
    frames: Iterable[np.ndarray],
    path: str | os.PathLike,
    *,
    fps: int = 25,
    codec: str = "h264",
    bit_rate: int | None = None,
    keyframe_interval: int | None = None,
    options: dict[str, str] | None = None,
    timestamps: Sequence[float] | None = None,
) -> Path:
    """Encode uint8 RGB frames ``(H, W, 3)`` (an array ``(T, H, W, 3)`` or any iterable of frames, so long videos
    need not sit in memory) to a video file with PyAV (for tests, benchmarks, demos).

    The container follows the file extension (``.mp4``, ``.avi``, ``.mkv``, ``.webm``, ...); MJPEG uses full-range
    YUV. ``keyframe_interval``: at most this many frames from one keyframe to the next (the encoder's default
    otherwise); ``options``: the encoder's own options (``{"preset": "ultrafast"}`` for libx264, ...);
    ``timestamps``: each frame's presentation time in seconds, to the millisecond (a stream that starts late, a
    variable frame rate), instead of ``i / fps``.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"no frames to write to {path}")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.height, stream.width = first.shape[:2]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        if keyframe_interval is not None:
            stream.codec_context.gop_size = keyframe_interval
        if timestamps is not None:
            stream.codec_context.time_base = _MILLISECOND
        for position, frame in enumerate(itertools.chain([first], frames)):
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            if timestamps is not None:
                picture.pts, picture.time_base = round(timestamps[position] / _MILLISECOND), _MILLISECOND
            container.mux(stream.encode(picture))
        container.mux(stream.encode())  # flush the encoder's delayed frames
    return path
