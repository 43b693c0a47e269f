"""benchmarks/bench_decoding.py on small videos: encodes each once into the cache, checks that both ways give the
same count and frames, and writes the markdown table."""

from __future__ import annotations

from .utils import load_benchmark_script


def test_the_table_and_the_cache(tmp_path, monkeypatch):
    bench = load_benchmark_script("bench_decoding")
    monkeypatch.setattr(bench, "HEIGHT", 64)
    monkeypatch.setattr(bench, "WIDTH", 96)
    monkeypatch.setattr(bench, "KEYFRAME_INTERVAL", 12)
    cache, output = tmp_path / "cache", tmp_path / "table.md"
    arguments = ["--cache-dir", str(cache), "--seconds", "2", "--repeats", "1", "--clock", "cpu"]
    arguments += ["--output", str(output)]
    table = bench.main(arguments)
    lines = table.splitlines()
    assert lines[0].startswith("| video | frames | count frames: new / old ms (speed-up) |")
    assert [line.split(" | ")[:2] for line in lines[2:]] == [
        ["| MP4 (H.264), 2 s", "50"],
        ["| MKV (H.264), 2 s", "50"],
        ["| WebM (VP9), 2 s", "50"],
    ]
    assert output.read_text().startswith(table) and "median cpu time of 1" in output.read_text()
    videos = sorted(cache.iterdir())
    assert sorted(path.suffix for path in videos) == [".mkv", ".mp4", ".webm"]
    encoded = [path.stat().st_mtime_ns for path in videos]
    bench.main(arguments)  # the second run measures the cached videos, encoding nothing
    assert [path.stat().st_mtime_ns for path in sorted(cache.iterdir())] == encoded
