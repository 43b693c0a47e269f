"""Flow pictures of the shared real clip: the PNG strip and the side-by-side flow video, and the
``hf-videomodels flow`` command around them (RAFT with random weights: no trained weights are reachable here)."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest

from hf_videomodels.cli import build_parser
from hf_videomodels.flow import save_flow_strip, save_flow_video
from hf_videomodels.video_io import read_video, write_video

from .flow_test_utils import CountingFlow, torchvision_raft_small


@pytest.fixture(scope="module")
def raft():
    return torchvision_raft_small()


def test_png_strip_of_the_shared_clip(raft, sample_gif, tmp_path):
    counting = CountingFlow(raft)
    path = save_flow_strip(sample_gif, counting, tmp_path / "flow.png", num_pairs=4, num_iterations=2, progress=False)
    assert counting.pairs == 4  # only the pairs shown
    picture = np.asarray(PIL.Image.open(path).convert("RGB"))
    assert picture.shape[0] > 200 and picture.shape[1] > 400
    # The flow row is colour-coded: strongly saturated pixels are present (not a blank or grey picture).
    saturation = picture.max(-1).astype(int) - picture.min(-1)
    assert (saturation > 100).mean() > 0.01


def test_flow_video_puts_each_frame_beside_its_flow(raft, sample_gif, tmp_path):
    frames, _ = read_video(sample_gif, indices=range(30, 35))
    clip = write_video(frames, tmp_path / "cricket.mp4")
    path = save_flow_video(clip, raft, tmp_path / "flow.mp4", num_iterations=2, progress=False)
    written, metadata = read_video(path)
    assert written.shape == (4, 224, 448, 3)  # 5 frames give 4 pairs, frame | flow
    left = written[:, :, :224].astype(int)
    assert np.abs(left - frames[:4].astype(int)).mean() < 10  # the frames, through H.264


def test_output_must_be_a_picture_or_a_video(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["flow", "clip.mp4", "--model", "raft", "--output", "flow.txt"])
    assert "must end in one of .mp4, .avi, .mkv, .png" in capsys.readouterr().err
    args = build_parser().parse_args(["flow", "clip.mp4", "--model", "raft", "--output", "flow.png"])
    assert (args.iterations, args.frames) == (12, 8)
