"""torchvision / ig65m-pytorch -> hf_videomodels VideoResNet: logits parity with the peers' own networks (random
weights), strict key accounting, class-name order, the processors against the original preprocessing on a real clip,
and the conversion command lines."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torchvision.models import video
from transformers import AutoModelForVideoClassification, AutoVideoProcessor

from conversion import convert_video_resnet_ig65m as ig65m
from conversion import convert_video_resnet_torchvision as tv_conversion
from conversion.common import ConversionError, load_converted, packaged_labels
from hf_videomodels.models.video_resnet import VideoResNetForVideoClassification, VideoResNetVideoProcessor

from .conftest import SAMPLE_GIF, require_shared
from .utils import randomize_batch_norm

BUILDERS = ("r3d_18", "mc3_18", "r2plus1d_18")


def _random_peer(builder: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    network = getattr(video, builder)().eval() if isinstance(builder, str) else builder.eval()
    randomize_batch_norm(network, seed)
    with torch.no_grad():  # torchvision's fc init (std 0.01) gives tiny logits: make them O(1)
        network.fc.weight.normal_(0, 0.1)
        network.fc.bias.normal_(0, 0.1)
    return network


def _converted(state_dict, convert=tv_conversion.convert_torchvision_state_dict, **kwargs):
    config, converted = convert(state_dict, **kwargs)
    return load_converted(VideoResNetForVideoClassification, config, converted)


def _max_diff(ours: torch.nn.Module, peer: torch.nn.Module, clip: torch.Tensor) -> float:
    """Our logits on (B, T, C, H, W) against the peer's on the same clip as (B, C, T, H, W)."""
    with torch.inference_mode():
        return (ours(clip).logits - peer(clip.permute(0, 2, 1, 3, 4))).abs().max().item()


@pytest.fixture(scope="module")
def parity_record():
    """Every measured difference, printed at the end of the module (``pytest -s`` shows it)."""
    record: dict[str, float] = {}
    yield record
    print("\nVideoResNet parity, max abs logit diff:", json.dumps(record, indent=1))


# ---- torchvision ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("builder", BUILDERS)
def test_torchvision_parity_default_and_odd_sizes(builder, parity_record):
    peer = _random_peer(builder)
    ours = _converted(peer.state_dict())
    generator = torch.Generator().manual_seed(1)
    # The default clip once per variant; an odd length and size (7x97x131) for R(2+1)D, smaller odd ones for the
    # others (the forward cost on two CPU cores adds up).
    odd = (7, 97, 131) if builder == "r2plus1d_18" else (5, 45, 61)
    for frames, height, width in ((16, 112, 112), odd):
        clip = torch.randn(1, frames, 3, height, width, generator=generator)
        diff = _max_diff(ours, peer, clip)
        parity_record[f"{builder} {frames}x{height}x{width}"] = diff
        assert diff <= tv_conversion.PARITY_BOUND, (builder, frames, height, width)


@pytest.mark.parametrize("builder", ["mc3_18", "r2plus1d_18"])
def test_torchvision_parity_channels_last_3d(builder, parity_record):
    """Both in channels_last_3d, where our 1x3x3 and 3x1x1 convolutions run as 2D ones (``Conv3dAs2d``)."""
    peer = _random_peer(builder).to(memory_format=torch.channels_last_3d)
    ours = _converted(peer.state_dict()).to(memory_format=torch.channels_last_3d)
    clip = torch.randn(1, 9, 3, 57, 71, generator=torch.Generator().manual_seed(4))
    diff = _max_diff(ours, peer, clip)
    parity_record[f"{builder} 9x57x71 channels_last_3d"] = diff
    assert diff <= tv_conversion.PARITY_BOUND


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        ("r3d_18", {"convolution": "3d", "stem_type": "basic"}),
        ("mc3_18", {"convolution": "mixed", "mixed_3d_stages": 1, "stem_type": "basic"}),
        ("r2plus1d_18", {"convolution": "2plus1d", "stem_type": "2plus1d", "midplanes_from": "block_input"}),
    ],
)
def test_torchvision_config_and_labels(builder, expected):
    with torch.device("meta"):
        state_dict = getattr(video, builder)().state_dict()
    config, converted = tv_conversion.convert_torchvision_state_dict(state_dict)
    for name, value in expected.items():
        assert getattr(config, name) == value, name
    assert config.depths == [2, 2, 2, 2] and config.batch_norm_eps == 1e-5
    weights = getattr(video, tv_conversion.PUBLISHED[builder][0]).KINETICS400_V1
    assert [config.id2label[i] for i in range(400)] == weights.meta["categories"]
    assert len(converted) == len(state_dict)  # one target tensor per source tensor, nothing invented


def test_kinetics400_order_is_torchvisions():
    from torchvision.models._meta import _KINETICS400_CATEGORIES

    assert tv_conversion.kinetics400_categories() == list(_KINETICS400_CATEGORIES) == packaged_labels("kinetics400")


def test_strict_key_accounting():
    with torch.device("meta"):
        state_dict = video.r3d_18().state_dict()
    with pytest.raises(ConversionError, match="not consumed: extra.weight"):
        tv_conversion.convert_torchvision_state_dict({**state_dict, "extra.weight": torch.zeros(1)})
    missing = {k: v for k, v in state_dict.items() if k != "layer3.1.conv2.1.running_var"}
    with pytest.raises(ConversionError, match="layer3.1.conv2.1.running_var"):
        tv_conversion.convert_torchvision_state_dict(missing)
    with pytest.raises(ConversionError, match="is this a torchvision VideoResNet"):
        tv_conversion.convert_torchvision_state_dict({"conv1.weight": torch.zeros(1)})
    with pytest.raises(ConversionError, match="3 class names"):
        tv_conversion.convert_torchvision_state_dict(state_dict, labels=["a", "b", "c"])
    # DataParallel checkpoints have a module. prefix
    prefixed = {f"module.{k}": v for k, v in state_dict.items()}
    assert tv_conversion.convert_torchvision_state_dict(prefixed)[0].convolution == "3d"


def test_torchvision_script_writes_a_folder(tmp_path):
    peer = _random_peer("mc3_18")
    checkpoint = tmp_path / "mc3_18.pth"
    torch.save(peer.state_dict(), checkpoint)
    output = tv_conversion.main(["--checkpoint", str(checkpoint), "--output", str(tmp_path / "out")])
    model = AutoModelForVideoClassification.from_pretrained(output).eval()
    processor = AutoVideoProcessor.from_pretrained(output)
    assert type(model) is VideoResNetForVideoClassification and type(processor) is VideoResNetVideoProcessor
    assert model.config.id2label[0] == "abseiling" and "`mc3_18.pth`" in (output / "README.md").read_text()
    clip = torch.randn(1, 6, 3, 40, 56, generator=torch.Generator().manual_seed(0))
    assert _max_diff(model, peer, clip) <= tv_conversion.PARITY_BOUND
    with pytest.raises(ConversionError, match="exactly one of --model"):
        tv_conversion.main(["--output", str(tmp_path / "none")])


# ---- ig65m-pytorch ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ig65m_peer():
    return _random_peer(ig65m.torchvision_reference(487), seed=2)


@pytest.mark.parametrize(("frames", "height", "width"), [(8, 112, 112), (32, 40, 40), (11, 37, 53)])
def test_ig65m_parity(ig65m_peer, frames, height, width, parity_record):
    num_frames = 32 if frames == 32 else 8
    ours = _converted(ig65m_peer.state_dict(), ig65m.convert_ig65m_state_dict, num_frames=num_frames)
    clip = torch.randn(1, frames, 3, height, width, generator=torch.Generator().manual_seed(frames))
    diff = _max_diff(ours, ig65m_peer, clip)
    parity_record[f"ig65m r2plus1d_34 {frames}x{height}x{width}"] = diff
    assert diff <= ig65m.PARITY_BOUND


def test_ig65m_config_reproduces_the_projects_settings(ig65m_peer):
    config, _ = ig65m.convert_ig65m_state_dict(ig65m_peer.state_dict(), num_frames=8)
    assert (config.batch_norm_eps, config.batch_norm_momentum, config.midplanes_from) == (1e-3, 0.9, "conv_input")
    assert config.depths == [3, 4, 6, 3] and config.num_frames == 8 and config.num_labels == 487
    assert config.id2label[486] == "ig65m_class_486"
    ours = _converted(ig65m_peer.state_dict(), ig65m.convert_ig65m_state_dict, num_frames=8)
    modules = [m for m in ours.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert len(modules) == sum(isinstance(m, torch.nn.BatchNorm3d) for m in ig65m_peer.modules())
    assert all((m.eps, m.momentum) == (1e-3, 0.9) for m in modules)


def test_ig65m_eps_matters(ig65m_peer):
    """The parity test can fail: torchvision's default BatchNorm eps moves the logits well past the bound."""
    plain = _converted(ig65m_peer.state_dict())  # the torchvision converter keeps eps 1e-5
    clip = torch.randn(1, 8, 3, 48, 48, generator=torch.Generator().manual_seed(3))
    assert _max_diff(plain, ig65m_peer, clip) > 100 * ig65m.PARITY_BOUND


def test_ig65m_kinetics_labels_and_wrong_layouts():
    with torch.device("meta"):
        kinetics = ig65m.torchvision_reference(400).state_dict()
        r2plus1d_18 = video.r2plus1d_18().state_dict()
    config, converted = ig65m.convert_ig65m_state_dict(kinetics, num_frames=32)
    assert [config.id2label[i] for i in range(400)] == packaged_labels("kinetics400")
    assert len(converted) == len(kinetics)
    with pytest.raises(ConversionError, match="not an ig65m-pytorch R\\(2\\+1\\)D-34"):
        ig65m.convert_ig65m_state_dict(r2plus1d_18, num_frames=8)
    with pytest.raises(ConversionError, match="8- and 32-frame"):
        ig65m.convert_ig65m_state_dict(kinetics, num_frames=16)
    assert ig65m.clip_length_from_name("r2plus1d_34_clip32_ig65m_from_scratch-449a7af9.pth") == 32
    with pytest.raises(ConversionError, match="--num-frames"):
        ig65m.main(["--checkpoint", "weights.pth", "--output", "unused"])


def test_published_model_cards():
    cards = {**tv_conversion.published_model_cards(None), **ig65m.published_model_cards(None)}
    assert len(cards) == 7
    assert all(tv_conversion.VERIFIED_BY_TESTS in text for name, text in cards.items() if "r2plus1d_34" not in name)
    assert sum(ig65m.VERIFIED_BY_TESTS in text for text in cards.values()) == 4


# ---- preprocessing on a real clip -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gif_frames() -> np.ndarray:
    with av.open(str(require_shared(SAMPLE_GIF))) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def test_processor_matches_torchvision_preset(gif_frames):
    """torchvision's own transforms for these weights, on the frames our processor sampled."""
    processor = VideoResNetVideoProcessor()
    out = processor(gif_frames, video_metadata={"fps": 25}, return_metadata=True, return_tensors="pt")
    indices = out["video_metadata"][0].frames_indices
    assert len(indices) == 16 and indices == sorted(indices)
    preset = video.R2Plus1D_18_Weights.KINETICS400_V1.transforms()
    expected = preset(torch.from_numpy(gif_frames[indices]).permute(0, 3, 1, 2))  # (C, T, H, W)
    ours = out["pixel_values"][0].permute(1, 0, 2, 3)
    assert ours.shape == expected.shape == (3, 16, 112, 112)
    # torchvision rounds the resized uint8 frames: at most half a grey level, divided by the smallest std.
    assert (ours - expected).abs().max().item() <= 0.5 / 255 / min(preset.std) + 1e-5
    assert (ours - expected).abs().mean().item() < 0.25 / 255 / min(preset.std)  # rounding errors average 1/4


def _ig65m_transform(frames: np.ndarray) -> torch.Tensor:
    """ig65m-pytorch's extract transform (ToTensor, t h w c -> c t h w, Resize(128) by scale factor, Normalize),
    written from its source: (C, T, H, W)."""
    video_tensor = torch.from_numpy(frames).float().div(255).permute(3, 0, 1, 2)
    scale = 128 / min(video_tensor.shape[-2:])
    resized = F.interpolate(video_tensor, scale_factor=scale, mode="bilinear", align_corners=False)
    mean = torch.tensor([0.43216, 0.394666, 0.37645]).view(-1, 1, 1, 1)
    std = torch.tensor([0.22803, 0.22145, 0.216989]).view(-1, 1, 1, 1)
    return (resized - mean) / std


def test_ig65m_processor_matches_the_projects_extract(gif_frames):
    config, _ = ig65m.convert_ig65m_state_dict(ig65m.torchvision_reference(400).state_dict(), num_frames=8)
    processor = ig65m.build_video_processor(config)
    assert processor.target_fps is None and processor.frame_sample_rate == 1  # consecutive frames, the video's rate
    assert processor.num_frames == 8 and not processor.do_center_crop
    clip = gif_frames[:8]
    ours = processor(clip, do_sample_frames=False, return_tensors="pt")["pixel_values"][0].permute(1, 0, 2, 3)
    expected = _ig65m_transform(clip)
    assert ours.shape == expected.shape == (3, 8, 128, 128)  # the whole frame, no crop
    assert (ours - expected).abs().max().item() < 1e-5
    # Non-square frames: one scale factor for both axes, as the project's F.interpolate(scale_factor=...).
    wide = clip[:, 16:184]  # 168 x 224, 4:3
    ours_wide = processor(wide, do_sample_frames=False, return_tensors="pt")["pixel_values"][0].permute(1, 0, 2, 3)
    expected_wide = _ig65m_transform(wide)
    assert ours_wide.shape == expected_wide.shape == (3, 8, 128, 170)
    assert (ours_wide - expected_wide).abs().max().item() < 1e-5
    by_size = processor(wide, do_sample_frames=False, short_side_resize="size", return_tensors="pt")["pixel_values"]
    assert (by_size[0].permute(1, 0, 2, 3) - expected_wide).abs().max().item() > 0.1  # the setting matters
