"""How fast does video_io count frames and reach a clip, next to the old way (decode from the first frame)?

Videos: 320x240, 25 fps, a textured background with a square crossing it, 10 s and 5 min long, in MP4 and MKV
(H.264, libx264 ``veryfast``, which keeps B-frames) and WebM (VP9, libvpx ``realtime``), a keyframe every 250
frames (10 s, libx264's default). They are encoded once into ``--cache-dir``.

Per video, median seconds of:

- counting frames: ``probe_video`` (MP4: the container's sample table; MKV/WebM: the packets, demuxed and not
  decoded) against the old way (the stored count for MP4, every frame decoded for the others);
- reading a 16-frame clip at stride 2 from the middle and from the end: ``read_video`` (seek to the keyframe
  before the clip, decode from there) against decoding from the first frame up to the clip's last.

Both ways decode with ``--threads`` threads (1 by default) and must give bit-identical frames (checked).
``--clock cpu`` times the process's CPU time instead of wall time: on a shared machine other processes then do
not count, and with one decoding thread it is what the wall time is on an idle one.

    uv run python benchmarks/bench_decoding.py [--repeats 3] [--threads 1] [--clock wall] [--output table.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from hf_videomodels.video_io import probe_video, read_video, write_video

FPS = 25
HEIGHT, WIDTH = 240, 320
KEYFRAME_INTERVAL = 250
CLIP_FRAMES, CLIP_STRIDE = 16, 2
# container: (extension, encoder, encoder options chosen for speed: the 5 min videos are encoded once, quickly)
FORMATS = {
    "MP4 (H.264)": (".mp4", "libx264", {"preset": "veryfast"}),
    "MKV (H.264)": (".mkv", "libx264", {"preset": "veryfast"}),
    "WebM (VP9)": (".webm", "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8"}),
}
# Containers whose stored frame count the old code trusted; it decoded every frame of the others to count them.
OLD_COUNTED_FORMATS = {"mov", "mp4", "avi"}
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hf_videomodels" / "bench_decoding"


def moving_frames(count: int):
    """Frames one at a time (5 min of them would take 1.7 GB at once): a textured background scrolling sideways
    with a bright square crossing it, content an encoder cannot skip."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, size=(HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    for t in range(count):
        frame = np.roll(background, shift=t, axis=1)
        x, y = (7 * t) % (WIDTH - 48), (3 * t) % (HEIGHT - 48)
        frame[y : y + 48, x : x + 48] = 255
        yield frame


def cached_video(cache_dir: Path, seconds: int, container: str) -> Path:
    extension, codec, options = FORMATS[container]
    path = cache_dir / f"moving_{seconds}s_{WIDTH}x{HEIGHT}_{FPS}fps_{codec}{extension}"
    if not path.exists():
        print(f"encoding {path.name} (once) ...", flush=True)
        partial = path.with_name(f"partial_{path.name}")  # an interrupted encode never passes for a finished one
        write_video(
            moving_frames(seconds * FPS),
            partial,
            fps=FPS,
            codec=codec,
            keyframe_interval=KEYFRAME_INTERVAL,
            options=options,
        )
        partial.rename(path)
    return path


# ------------------------------------------------------------------------------ the old way (before seeking)


def _open_old(path: Path, threads: int):
    import av

    container = av.open(str(path))
    stream = container.streams.video[0]
    stream.thread_count = threads
    if threads != 1:
        stream.thread_type = "AUTO"
    return container, stream


def old_count(path: Path, threads: int) -> int:
    """The stored count for MP4/MOV/AVI, otherwise every frame decoded."""
    container, stream = _open_old(path, threads)
    with container:
        if stream.frames > 0 and set(container.format.name.split(",")) & OLD_COUNTED_FORMATS:
            return stream.frames
        return sum(1 for _ in container.decode(stream))


def old_read(path: Path, indices: np.ndarray, threads: int) -> np.ndarray:
    """Decode from the first frame up to the last one wanted; keep the wanted ones."""
    wanted, last = set(indices.tolist()), int(indices.max())
    kept = {}
    container, stream = _open_old(path, threads)
    with container:
        for position, frame in enumerate(container.decode(stream)):
            if position in wanted:
                kept[position] = frame
            if position >= last:
                break
    return np.stack([kept[i].to_ndarray(format="rgb24") for i in indices.tolist()])


# --------------------------------------------------------------------------------------------- measuring


def clip_at(start: int) -> np.ndarray:
    return start + CLIP_STRIDE * np.arange(CLIP_FRAMES)


def median_seconds(fn, repeats: int, clock) -> tuple[float, object]:
    """Median time of ``repeats`` calls after one warm-up call, and the last result."""
    fn()
    times = []
    for _ in range(repeats):
        start = clock()
        result = fn()
        times.append(clock() - start)
    return statistics.median(times), result


def measure_video(path: Path, threads: int, repeats: int, clock=time.perf_counter) -> dict:
    count, decoded = probe_video(path).total_num_frames, old_count(path, threads)
    if count != decoded:
        raise AssertionError(f"{path.name}: probe_video counts {count} frames, the old way {decoded}")
    span = CLIP_STRIDE * (CLIP_FRAMES - 1) + 1
    clips = {"middle": clip_at((count - span) // 2), "end": clip_at(count - span)}
    row = {"frames": count}

    def timed(fn):
        return median_seconds(fn, repeats, clock)

    row["count"] = (timed(lambda: probe_video(path))[0], timed(lambda: old_count(path, threads))[0])
    for where, indices in clips.items():
        new_seconds, (frames, _) = timed(lambda indices=indices: read_video(path, indices))
        old_seconds, reference = timed(lambda indices=indices: old_read(path, indices, threads))
        if not np.array_equal(frames, reference):
            raise AssertionError(f"{path.name}: the {where} clip differs from a decode from the start")
        row[where] = (new_seconds, old_seconds)
    return row


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}" if seconds < 10 else f"{seconds * 1e3:.0f}"


def markdown_table(rows: dict[str, dict]) -> str:
    columns = {"count": "count frames", "middle": "16-frame clip, middle", "end": "16-frame clip, end"}
    titles = [f"{title}: new / old ms (speed-up)" for title in columns.values()]
    header = "| video | frames | " + " | ".join(titles) + " |"
    lines = [header, "|" + "---|" * (2 + len(columns))]
    for name, row in rows.items():
        cells = [
            f"{milliseconds(new)} / {milliseconds(old)} ({old / new:.1f}x)"
            for new, old in (row[key] for key in columns)
        ]
        lines.append(f"| {name} | {row['frames']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where the test videos are kept")
    parser.add_argument("--seconds", type=int, nargs="+", default=[10, 300], help="video lengths")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="decoding (and torch) threads")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall time or the process's CPU time")
    parser.add_argument("--output", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)  # video_io decodes on as many threads as torch uses
    rows = {}
    for seconds in args.seconds:
        for container in FORMATS:
            path = cached_video(args.cache_dir, seconds, container)
            name = f"{container}, {seconds // 60} min" if seconds >= 60 else f"{container}, {seconds} s"
            rows[name] = measure_video(path, args.threads, args.repeats, CLOCKS[args.clock])
            print(f"measured {name}", flush=True)
    table = markdown_table(rows)
    footer = (
        f"\n\n{WIDTH}x{HEIGHT}, {FPS} fps, a keyframe every {KEYFRAME_INTERVAL} frames; clips of {CLIP_FRAMES} "
        f"frames at stride {CLIP_STRIDE}; median {args.clock} time of {args.repeats}; {args.threads} decoding "
        "thread(s); frames bit-identical."
    )
    print("\n" + table + footer)
    if args.output:
        args.output.write_text(table + footer + "\n", encoding="utf-8")
    return table


if __name__ == "__main__":
    main()
