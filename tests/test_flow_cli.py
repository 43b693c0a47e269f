"""Flow pictures of the shared real clip: the PNG strip and the side-by-side flow video, and the
``hf-videomodels flow`` command around them, with the package's RAFT converted from torchvision's ``raft_small``
(random weights: no trained weights are reachable here)."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from conversion.convert_raft_torchvision import convert_torchvision_state_dict
from hf_videomodels.cli import build_parser, main
from hf_videomodels.flow import frame_pair_flow, save_flow_strip, save_flow_video
from hf_videomodels.models.raft import RaftModel
from hf_videomodels.video_io import read_video, write_video

from .flow_test_utils import CountingFlow, torchvision_raft_small


@pytest.fixture(scope="module")
def raft():
    return torchvision_raft_small()


@pytest.fixture(scope="module")
def raft_folder(raft, tmp_path_factory):
    """The package's RAFT with torchvision's (random) raft_small weights, as save_pretrained writes it."""
    config, state_dict = convert_torchvision_state_dict(raft.raft.state_dict())
    model = RaftModel(config).eval()
    model.load_state_dict(state_dict)
    folder = tmp_path_factory.mktemp("raft-small")
    model.save_pretrained(folder)
    return folder


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


def test_package_raft_gives_torchvision_flow(raft, raft_folder):
    frames = torch.randint(0, 256, (3, 3, 132, 140), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    ours = frame_pair_flow(frames, RaftModel.from_pretrained(raft_folder).eval(), num_iterations=3)
    peer = frame_pair_flow(frames, raft, num_iterations=3)
    torch.testing.assert_close(ours, peer, atol=1e-4, rtol=1e-4)


def test_flow_command_writes_a_strip_and_a_video(raft_folder, sample_gif, tmp_path, capsys):
    picture = tmp_path / "flow.png"
    code = main(["flow", str(sample_gif), "--model", str(raft_folder), "--output", str(picture), "--iterations", "2",
                 "--frames", "3"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and f"flow: {picture}" in captured.out
    assert "RAFT flow" in captured.err  # the progress bar over frame pairs
    assert PIL.Image.open(picture).size[0] > 300
    frames, _ = read_video(sample_gif, indices=range(40, 44))
    clip = write_video(frames, tmp_path / "cricket.mp4")
    video = tmp_path / "flow.mp4"
    assert main(["flow", str(clip), "--model", str(raft_folder), "--output", str(video), "--iterations", "1"]) == 0
    assert read_video(video)[0].shape == (3, 224, 448, 3)


def test_flow_command_refuses_a_classifier(sample_gif, tmp_path, capsys):
    from hf_videomodels import I3DConfig, I3DForVideoClassification

    from .test_i3d_modeling import TINY

    I3DForVideoClassification(I3DConfig(**TINY)).save_pretrained(tmp_path / "i3d")
    code = main(["flow", str(sample_gif), "--model", str(tmp_path / "i3d"), "--output", str(tmp_path / "f.png")])
    assert code == 2 and "not an optical-flow model" in capsys.readouterr().err


def test_flow_processor_takes_the_raft_folder(raft, raft_folder, tmp_path):
    from hf_videomodels import FlowVideoProcessor

    frames = np.random.default_rng(0).integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    settings = dict(mode="clip", num_frames=2, size={"shortest_edge": 128}, crop_size={"height": 128, "width": 128})
    by_folder = FlowVideoProcessor(**settings, flow_model=str(raft_folder), num_iterations=2)
    expected = FlowVideoProcessor(**settings, flow_model=raft, num_iterations=2)(frames)["flow_values"]
    torch.testing.assert_close(by_folder(frames)["flow_values"], expected, atol=1e-4, rtol=1e-4)
    by_folder.save_pretrained(tmp_path)
    assert FlowVideoProcessor.from_pretrained(tmp_path).flow_model == str(raft_folder)  # a folder is saved


def test_flow_command_with_opencv_farneback_needs_no_weights(sample_gif, tmp_path, capsys):
    picture = tmp_path / "flow.png"
    assert main(["flow", str(sample_gif), "--model", "farneback", "--output", str(picture), "--frames", "3"]) == 0
    assert "Farneback (OpenCV) flow" in capsys.readouterr().err  # the progress bar names the estimator
    strip = np.asarray(PIL.Image.open(picture).convert("RGB"))
    saturation = strip.max(-1).astype(int) - strip.min(-1)
    assert (saturation > 100).mean() > 0.01  # the players' motion is drawn in colour
