"""Decoding fast enough for training: frames counted from packets (nothing decoded), clips reached by seeking to
the keyframe before them with the same pixels as a decode from the start, and decoding in DataLoader workers.

Videos: MP4, MKV and MPEG-TS with H.264 B-frames, WebM with VP8 and VP9, AVI with MPEG-4, streams that start late,
a variable frame rate; made here, an MP4 cut by an edit list, hidden VP8 frames and wrong keyframe flags."""

from __future__ import annotations

import logging
import pickle

import av
import numpy as np
import pytest
import torch
from datasets import Dataset

from hf_videomodels import video_io
from hf_videomodels.models.timesformer.video_processing_timesformer import TimeSformerVideoProcessor
from hf_videomodels.training import collate, video_transform
from hf_videomodels.video_io import probe_video, read_video, write_video

from .test_video_io import decode_with_plain_pyav

FRAMES = 60
KEYFRAME_INTERVAL = 12  # short groups of pictures, so a late clip is far from the first keyframe
FPS = 25
LATE_START = 1.5 + np.arange(FRAMES) / FPS  # the first frame is shown at 1.5 s
VARIABLE_RATE = np.concatenate([[0], np.cumsum(np.resize([0.04, 0.02, 0.1, 0.04], FRAMES - 1))])

# name: (file name, encoder, frame timestamps)
VIDEOS = {
    "mp4-h264": ("clip.mp4", "libx264", None),
    "mkv-h264": ("clip.mkv", "libx264", None),
    "webm-vp8": ("clip.webm", "libvpx", None),
    "webm-vp9": ("clip-vp9.webm", "libvpx-vp9", None),
    "mp4-late-start": ("late.mp4", "libx264", LATE_START),
    "mkv-late-start": ("late.mkv", "libx264", LATE_START),
    "mkv-variable-rate": ("vfr.mkv", "libx264", VARIABLE_RATE),
    "avi-mpeg4": ("clip.avi", "mpeg4", None),
    "ts-h264": ("clip.ts", "libx264", None),  # MPEG-TS: no index, seeks search by timestamp and can overshoot
}
H264 = [name for name, (_, codec, _) in VIDEOS.items() if codec == "libx264"]


def moving_texture(count: int = FRAMES, height: int = 48, width: int = 64) -> np.ndarray:
    """Coarse noise sliding sideways: every frame differs, so no encoder can skip one."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, size=(height // 4, width // 4, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    return np.stack([np.roll(texture, 3 * t, axis=1) for t in range(count)])


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("seeking")
    frames = moving_texture()
    return {
        name: write_video(
            frames, folder / file, codec=codec, keyframe_interval=KEYFRAME_INTERVAL, timestamps=timestamps, fps=FPS
        )
        for name, (file, codec, timestamps) in VIDEOS.items()
    }


@pytest.fixture(scope="module")
def reference(videos) -> dict[str, np.ndarray]:
    """Every frame of each video, decoded from the start by plain PyAV."""
    return {name: decode_with_plain_pyav(path) for name, path in videos.items()}


def packets(path) -> list[tuple[int, bool]]:
    """(pts, keyframe flag) of the video packets, in decode order."""
    with av.open(str(path)) as container:
        return [(p.pts, p.is_keyframe) for p in container.demux(video=0) if p.size]


def keyframe_positions(path) -> list[int]:
    """Frame numbers (presentation order) of the packets the container flags as keyframes."""
    listed = packets(path)
    order = sorted(pts for pts, _ in listed)
    return sorted(order.index(pts) for pts, key in listed if key)


@pytest.fixture
def decoded_packets(monkeypatch) -> list:
    """Every packet fed to a decoder by video_io, appended as it is decoded."""
    fed = []
    real_decode = video_io._decode_packet

    def counting(packet):
        fed.append(packet.pts)
        return real_decode(packet)

    monkeypatch.setattr(video_io, "_decode_packet", counting)
    return fed


def test_the_videos_hold_the_edge_cases(videos, reference):
    for name, path in videos.items():
        assert len(reference[name]) == FRAMES
        assert len(keyframe_positions(path)) >= FRAMES // KEYFRAME_INTERVAL, name  # seeking has somewhere to go
    for name in H264:  # B-frames: presentation timestamps out of order in decode order
        pts = [pts for pts, _ in packets(videos[name])]
        assert pts != sorted(pts), name
    for name in ("mp4-late-start", "mkv-late-start"):
        with av.open(str(videos[name])) as container:
            stream = container.streams.video[0]
            assert float(stream.start_time * stream.time_base) == pytest.approx(1.5)
    pts = sorted(pts for pts, _ in packets(videos["mkv-variable-rate"]))
    assert len(set(np.diff(pts).tolist())) == 3  # 20, 40 and 100 ms between frames


@pytest.mark.parametrize("name", VIDEOS)
def test_counting_frames_decodes_nothing(name, videos, reference, decoded_packets):
    info = probe_video(videos[name])
    assert info.total_num_frames == len(reference[name]) and decoded_packets == []
    seen = []  # the count a sampler sees when frames are read: from the packet index (MP4 too)
    read_video(videos[name], lambda info: seen.append(info.total_num_frames) or [0])
    assert seen == [len(reference[name])]


def test_a_variable_rate_is_counted_not_estimated(videos):
    info = probe_video(videos["mkv-variable-rate"])
    assert info.total_num_frames == FRAMES
    assert round(info.duration * info.fps) != FRAMES  # what duration x rate would have said


@pytest.mark.parametrize("name", VIDEOS)
def test_seeking_gives_the_frames_of_a_decode_from_the_start(name, videos, reference):
    keyframe = keyframe_positions(videos[name])[2]
    last = FRAMES - 1
    # First, a keyframe, the frame before it, the last, the middle; unsorted and repeated, as samplers give them.
    wanted = [last, keyframe, keyframe - 1, 0, keyframe, FRAMES // 2, 3, last]
    frames, info = read_video(videos[name], wanted)
    np.testing.assert_array_equal(frames, reference[name][wanted])
    assert info.frames_indices == wanted
    for position in (0, keyframe, keyframe - 1, last):  # each alone: one seek from a fresh decoder
        np.testing.assert_array_equal(read_video(videos[name], [position])[0][0], reference[name][position])


@pytest.mark.parametrize("name", ["mkv-h264", "webm-vp9"])
def test_seeking_with_frame_threads(name, videos, reference):
    """Two decoding threads (frame threading holds frames in flight across a seek): still the same frames."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        wanted = [5, 13, 40, 59, 2]
        np.testing.assert_array_equal(read_video(videos[name], wanted)[0], reference[name][wanted])
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", ["mp4-h264", "mkv-h264", "webm-vp8", "webm-vp9", "ts-h264"])
def test_a_late_clip_decodes_far_fewer_frames(name, videos, reference, decoded_packets, monkeypatch):
    # One decoding thread: frame threading takes in a packet per extra thread before the first frame comes out.
    monkeypatch.setattr(video_io, "_decoding_threads", lambda: 1)
    wanted = np.arange(FRAMES - 15, FRAMES, 2)  # the last 8-frame clip at stride 2
    frames, _ = read_video(videos[name], wanted)
    np.testing.assert_array_equal(frames, reference[name][wanted])
    first_keyframe = max(k for k in keyframe_positions(videos[name]) if k <= wanted[0])
    # Packets from the keyframe before the clip to the end, at most (those before it are read, not decoded).
    assert len(decoded_packets) <= FRAMES - first_keyframe + 3 < FRAMES // 2


@pytest.mark.parametrize("name", ["mkv-h264", "webm-vp8", "avi-mpeg4"])
def test_a_wrong_keyframe_flag_still_gives_the_right_frames(name, videos, reference, monkeypatch, caplog):
    """A container that flags every frame as a keyframe: the decoder says otherwise (H.264 drops the frame, VP8
    refuses it, MPEG-4 marks it as no keyframe), and the frames come from a decode from the start instead."""
    real_index = video_io._demux_frame_index

    def every_frame_a_keyframe(container, stream, name):
        index = real_index(container, stream, name)
        return video_io._FrameIndex(index.count, index.pts, keyframe_pts=index.pts)

    monkeypatch.setattr(video_io, "_demux_frame_index", every_frame_a_keyframe)
    with caplog.at_level(logging.INFO, logger=video_io.__name__):
        frames, _ = read_video(videos[name], [31, 30])
        from_bytes, _ = read_video(videos[name].read_bytes(), [31, 30])  # a file object reopened for the restart
    np.testing.assert_array_equal(frames, reference[name][[31, 30]])
    np.testing.assert_array_equal(from_bytes, reference[name][[31, 30]])
    assert "decoding from the first frame instead" in caplog.text


def test_hidden_vp8_frames_are_not_counted(videos, reference, tmp_path):
    """VP8 alt-ref frames update the decoder's references without being shown: a packet, not a frame. Copied
    here: the keyframe at frame 24, hidden, placed just before it (the real keyframe then resets the decoder)."""
    keyframe = keyframe_positions(videos["webm-vp8"])[2]
    path = tmp_path / "hidden.webm"
    with av.open(str(videos["webm-vp8"])) as source, av.open(str(path), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for position, packet in enumerate(p for p in source.demux(video=0) if p.size):
            if position == keyframe:
                tag = bytearray(bytes(packet))
                tag[0] &= ~0x10  # clear show_frame
                hidden = av.Packet(bytes(tag))
                hidden.pts, hidden.dts, hidden.time_base = packet.pts, packet.dts, packet.time_base
                hidden.stream = stream
                target.mux(hidden)
            packet.stream = stream
            target.mux(packet)
    assert len(packets(path)) == FRAMES + 1
    np.testing.assert_array_equal(decode_with_plain_pyav(path), reference["webm-vp8"])  # the hidden frame shows nothing
    assert probe_video(path).total_num_frames == FRAMES
    wanted = [keyframe - 1, keyframe, FRAMES - 1]
    np.testing.assert_array_equal(read_video(path, wanted)[0], reference["webm-vp8"][wanted])


def test_frames_an_edit_list_cuts_are_not_counted(videos, reference, tmp_path):
    """An MP4 cut without re-encoding starts with an edit list: the packets before the cut are kept (the frames
    after them need them) but the decoder drops their frames. Made here by shifting every timestamp two frames
    back, which the muxer stores as an edit list that starts at the third frame."""
    path = tmp_path / "cut.mp4"
    with av.open(str(videos["mp4-h264"])) as source, av.open(str(path), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        shift = 2 * round(1 / FPS / source.streams.video[0].time_base)
        for packet in source.demux(video=0):
            if packet.size:
                packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, stream
                target.mux(packet)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.frames == FRAMES and sum(entry.is_discard for entry in stream.index_entries) == 2
    expected = decode_with_plain_pyav(path)
    np.testing.assert_array_equal(expected, reference["mp4-h264"][2:])
    assert probe_video(path).total_num_frames == FRAMES - 2  # not the stored 60
    wanted = [0, 1, 30, FRAMES - 3]  # frame 0 decodes from the keyframe the edit list cuts
    np.testing.assert_array_equal(read_video(path, wanted)[0], expected[wanted])


# ------------------------------------------------------------------------------------------- DataLoader


class DecoderThreads(torch.utils.data.Dataset):
    """How many threads the decoder of each item gets."""

    def __init__(self, path):
        self.path = str(path)

    def __len__(self) -> int:
        return 2

    def __getitem__(self, item: int) -> int:
        container, stream = video_io._open_pyav(self.path, self.path)
        with container:
            return stream.thread_count


@pytest.fixture
def evaluation_dataset(videos) -> Dataset:
    processor = TimeSformerVideoProcessor(
        num_frames=4, size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32}
    )
    names = ["mp4-h264", "mkv-h264", "webm-vp8", "webm-vp9"]
    dataset = Dataset.from_dict({"video": [str(videos[name]) for name in names], "label": [0, 1, 0, 1]})
    dataset.set_transform(video_transform(processor))
    return dataset


def test_dataloader_workers_give_the_same_batches(evaluation_dataset):
    def batches(num_workers: int) -> list[dict]:
        loader = torch.utils.data.DataLoader(
            evaluation_dataset, batch_size=2, num_workers=num_workers, collate_fn=collate
        )
        return list(loader)

    in_process, in_workers = batches(0), batches(2)
    assert len(in_workers) == 2
    for ours, theirs in zip(in_workers, in_process):
        assert ours["pixel_values"].shape == (2, 4, 3, 32, 32)
        torch.testing.assert_close(ours["pixel_values"], theirs["pixel_values"], atol=0, rtol=0)
        assert torch.equal(ours["labels"], theirs["labels"])


def test_the_dataset_pickles_for_spawned_workers(evaluation_dataset):
    """spawn and forkserver (macOS, Windows, Linux from Python 3.14) send the dataset to workers pickled."""
    copy = pickle.loads(pickle.dumps(evaluation_dataset))
    torch.testing.assert_close(copy[1]["pixel_values"], evaluation_dataset[1]["pixel_values"], atol=0, rtol=0)


def test_each_worker_decodes_on_one_thread(videos):
    """torch's thread count sets the decoder's: all of them in the main process, one in a DataLoader worker
    (which sets torch to one thread), so num_workers processes do not each start a thread per core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        dataset = DecoderThreads(videos["mp4-h264"])
        assert list(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=0)) == [2, 2]
        assert list(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)) == [1, 1]
    finally:
        torch.set_num_threads(threads)
