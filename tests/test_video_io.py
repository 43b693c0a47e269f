"""Decoding: the real GIF and its transcodes (MP4, AVI, MKV), frame counts, indices, sources, backends, errors."""

from __future__ import annotations

import importlib.util
import io
import shutil

import av
import numpy as np
import pytest

from hf_videomodels import video_io
from hf_videomodels.video_io import VideoDecodingError, probe_video, read_video, select_backend, write_video

GIF_FRAMES = 79


def decode_with_plain_pyav(path) -> np.ndarray:
    """Independent reference: every frame, straight from PyAV."""
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


@pytest.fixture(scope="module")
def gif_frames(sample_gif) -> np.ndarray:
    return decode_with_plain_pyav(sample_gif)


@pytest.fixture(scope="module")
def transcodes(gif_frames, tmp_path_factory) -> dict[str, object]:
    """The clip in the containers the package meets: MP4/H.264 and AVI/MJPEG store a frame count, MKV does not."""
    folder = tmp_path_factory.mktemp("transcodes")
    return {
        "mp4": write_video(gif_frames, folder / "clip.mp4", codec="h264"),
        "avi": write_video(gif_frames, folder / "clip.avi", codec="mjpeg"),
        "mkv": write_video(gif_frames, folder / "clip.mkv", codec="mpeg4"),
    }


@pytest.fixture
def sources(sample_gif, transcodes):
    return {"gif": sample_gif, **transcodes}


# -------------------------------------------------------------------------------------------- decoding


def test_gif_metadata_and_frames(sample_gif, gif_frames):
    frames, info = read_video(sample_gif)
    assert frames.dtype == np.uint8 and frames.shape == (GIF_FRAMES, 224, 224, 3)
    np.testing.assert_array_equal(frames, gif_frames)
    assert info.total_num_frames == GIF_FRAMES and info.fps == 25
    assert (info.width, info.height) == (224, 224)
    assert info.duration == pytest.approx(GIF_FRAMES / 25, abs=0.05)
    assert info.video_backend == "pyav"
    assert info.frames_indices == list(range(GIF_FRAMES))


@pytest.mark.parametrize("container", ["mp4", "avi", "mkv"])
def test_transcodes_have_the_same_frames(container, sources, gif_frames):
    info = probe_video(sources[container])
    assert info.total_num_frames == GIF_FRAMES  # from the container's count (mp4, avi) or by decoding (mkv)
    assert info.fps == pytest.approx(25)
    frames, _ = read_video(sources[container])
    assert frames.shape == gif_frames.shape
    # Lossy codecs: the same picture, not the same bytes.
    per_frame_error = np.abs(frames.astype(np.float32) - gif_frames).mean(axis=(1, 2, 3))
    assert per_frame_error.max() < 10


@pytest.mark.parametrize("container", ["gif", "mp4", "avi", "mkv"])
def test_selected_frames_equal_the_full_decode(container, sources):
    everything, _ = read_video(sources[container])
    wanted = [40, 3, 3, 78, 0]  # any order, repeats allowed, up to the last frame
    frames, info = read_video(sources[container], wanted)
    np.testing.assert_array_equal(frames, everything[wanted])
    assert info.frames_indices == wanted


def test_indices_chosen_from_the_metadata(sample_gif):
    seen = []

    def choose(info):
        seen.append(info.total_num_frames)
        return [info.total_num_frames - 1]

    frames, info = read_video(sample_gif, choose)
    assert seen == [GIF_FRAMES] and frames.shape[0] == 1 and info.frames_indices == [GIF_FRAMES - 1]


def test_probe_converts_no_frames(sample_gif):
    info = probe_video(sample_gif)
    assert info.total_num_frames == GIF_FRAMES and info.frames_indices == []
    frames, _ = read_video(sample_gif, [])
    assert frames.shape == (0, 224, 224, 3)


def test_bytes_and_file_objects(sample_gif, gif_frames, transcodes):
    data = sample_gif.read_bytes()
    frames, _ = read_video(data, [0, 10])
    np.testing.assert_array_equal(frames, gif_frames[[0, 10]])
    with open(transcodes["mp4"], "rb") as handle:
        assert probe_video(handle).total_num_frames == GIF_FRAMES
        assert read_video(handle, [78])[0].shape == (1, 224, 224, 3)  # re-reads from the start


def test_urls_are_downloaded_once_to_a_temporary_file(sample_gif, monkeypatch):
    downloads = []

    def fake_download(url, path):  # no network in tests: stand in for the HTTP transfer
        downloads.append((url, path))
        shutil.copyfile(sample_gif, path)

    monkeypatch.setattr(video_io, "_download", fake_download)
    frames, info = read_video("https://example.com/videos/clip.gif?raw=1", [0, 1])
    assert frames.shape == (2, 224, 224, 3) and info.total_num_frames == GIF_FRAMES
    assert len(downloads) == 1 and downloads[0][1].endswith(".gif")
    assert video_io.is_url("http://x/y.mp4") and not video_io.is_url("/tmp/y.mp4")


def test_an_overstated_frame_count_is_corrected(sample_gif, monkeypatch):
    """Some containers hold more packets than decode to frames: samplers must see the real count."""
    real_index = video_io._demux_frame_index

    def overstated(container, stream, name):  # five packets that decode to nothing, after the last frame
        index = real_index(container, stream, name)
        extra = index.pts[-1] + np.arange(1, 6)
        return video_io._FrameIndex(index.count + 5, np.concatenate([index.pts, extra]), index.keyframe_pts)

    monkeypatch.setattr(video_io, "_demux_frame_index", overstated)
    counts = []

    def last_frame(info):
        counts.append(info.total_num_frames)
        return [info.total_num_frames - 1]

    frames, info = read_video(sample_gif, last_frame)
    assert counts == [GIF_FRAMES + 5, GIF_FRAMES] and info.total_num_frames == GIF_FRAMES
    assert frames.shape[0] == 1
    with pytest.raises(VideoDecodingError, match=f"holds {GIF_FRAMES + 5} frames but only {GIF_FRAMES} can be decoded"):
        read_video(sample_gif, [GIF_FRAMES + 2])


# ----------------------------------------------------------------------------------------------- errors


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "clip.mp4"
    with pytest.raises(FileNotFoundError, match="clip.mp4"):
        read_video(missing)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        probe_video(str(missing))


def test_corrupt_file_names_the_file_and_the_reason(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(VideoDecodingError, match=r"corrupt\.mp4.*PyAV: .*Invalid data"):
        read_video(corrupt)


def test_file_without_video_stream(tmp_path):
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as container:
        container.add_stream("pcm_s16le", rate=8000)
        container.start_encoding()
    with pytest.raises(VideoDecodingError, match="no video stream"):
        read_video(path)


def test_zero_frames(sample_gif, monkeypatch):
    empty = video_io._FrameIndex(count=0, pts=np.zeros(0, dtype=np.int64), keyframe_pts=np.zeros(0, dtype=np.int64))
    monkeypatch.setattr(video_io, "_demux_frame_index", lambda container, stream, name: empty)
    with pytest.raises(VideoDecodingError, match="no video frames"):
        read_video(sample_gif)


@pytest.mark.parametrize("index", [GIF_FRAMES, -1, 1000])
def test_index_out_of_range(sample_gif, index):
    with pytest.raises(VideoDecodingError, match=f"frame index {index} is out of range.*{GIF_FRAMES} frames"):
        read_video(sample_gif, [0, index])


def test_non_integer_indices(sample_gif):
    with pytest.raises(TypeError, match="integers"):
        read_video(sample_gif, [0.5, 2.0])


def test_unsupported_source_type():
    with pytest.raises(TypeError, match="path, URL, bytes or binary file"):
        read_video(12345)


# --------------------------------------------------------------------------------------------- backends


def test_torchcodec_state_is_reported():
    reason = video_io.torchcodec_unavailable_reason()
    if importlib.util.find_spec("torchcodec") is None:
        assert reason is not None and "torchcodec" in reason
    assert select_backend("auto") == ("torchcodec" if reason is None else "pyav")


def test_falls_back_to_pyav_when_torchcodec_cannot_load(sample_gif, monkeypatch):
    monkeypatch.delenv(video_io.BACKEND_ENV_VAR, raising=False)
    monkeypatch.setattr(video_io, "torchcodec_unavailable_reason", lambda: "OSError: libavutil.so.59 missing")
    assert select_backend() == "pyav"
    assert probe_video(sample_gif).video_backend == "pyav"
    with pytest.raises(ImportError, match="libavutil"):
        select_backend("torchcodec")


def test_prefers_torchcodec_when_it_loads(monkeypatch):
    monkeypatch.delenv(video_io.BACKEND_ENV_VAR, raising=False)
    monkeypatch.setattr(video_io, "torchcodec_unavailable_reason", lambda: None)
    assert select_backend() == "torchcodec"
    assert select_backend("pyav") == "pyav"


def test_environment_variable_forces_a_backend(sample_gif, monkeypatch):
    monkeypatch.setattr(video_io, "torchcodec_unavailable_reason", lambda: None)
    monkeypatch.setenv(video_io.BACKEND_ENV_VAR, "PyAV")
    assert select_backend() == "pyav"
    assert probe_video(sample_gif).video_backend == "pyav"
    monkeypatch.setenv(video_io.BACKEND_ENV_VAR, "ffmpeg")
    with pytest.raises(ValueError, match="unknown video backend 'ffmpeg'"):
        select_backend()


@pytest.mark.skipif(video_io.torchcodec_unavailable_reason() is not None, reason="torchcodec is not usable here")
def test_torchcodec_matches_pyav(sample_gif, transcodes):
    for source in (sample_gif, transcodes["mp4"]):
        reference, _ = read_video(source, [0, 40, 78], backend="pyav")
        frames, info = read_video(source, [0, 40, 78], backend="torchcodec")
        assert info.video_backend == "torchcodec" and info.total_num_frames == GIF_FRAMES
        assert np.abs(frames.astype(np.float32) - reference).mean() < 2


def test_write_video_roundtrip(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, size=(6, 34, 46, 3), dtype=np.uint8)
    path = write_video(frames, tmp_path / "sub" / "noise.mp4", fps=10, codec="mpeg4")
    decoded, info = read_video(path)
    assert decoded.shape == frames.shape and info.fps == pytest.approx(10)


def test_describe_source():
    assert video_io.describe_source(b"abc") == "<3 bytes>"
    assert video_io.describe_source(io.BytesIO(b"")) == "<BytesIO>"
