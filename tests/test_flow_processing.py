"""FlowVideoProcessor: stacked (x1, y1, x2, y2, ...) and clip layouts, clipping and scaling, flow-aware flips and
resizes, precomputed flow (arrays, .npy, denseflow JPEG folders), RAFT-computed flow (cached), and its errors."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from transformers import AutoVideoProcessor

from hf_videomodels import I3DConfig, TSNConfig
from hf_videomodels.errors import UserInputError
from hf_videomodels.flow import raft_pixels
from hf_videomodels.flow_processing import FlowVideoProcessor, decode_flow_jpeg, stack_flow_pairs
from hf_videomodels.video_io import write_video

from .flow_test_utils import CountingFlow, torchvision_raft_small

SMALL = {"size": {"shortest_edge": 8}, "crop_size": {"height": 8, "width": 8}}


def numbered_flow(count: int, size: int = 8) -> np.ndarray:
    """Flow frame t: x = t + 0.25, y = -t (pixels), so every output value names its frame and component."""
    flow = np.zeros((count, 2, size, size), np.float32)
    flow[:, 0] = np.arange(count)[:, None, None] + 0.25
    flow[:, 1] = -np.arange(count)[:, None, None]
    return flow


def test_stacked_layout_interleaves_x_and_y_of_consecutive_pairs():
    processor = FlowVideoProcessor(mode="stacked", flow_length=3, num_frames=2, bound=20, **SMALL)
    output = processor(numbered_flow(12), return_metadata=True)
    values = output["flow_values"]
    assert values.shape == (1, 2, 6, 8, 8)
    # TSN's test sampling over the 12 - 3 + 1 = 10 stack starts: int(5 / 2 + 5 * i) = 2, 7.
    assert output["video_metadata"][0].frames_indices == [2, 3, 4, 7, 8, 9]
    for segment, start in enumerate([2, 7]):
        for pair in range(3):
            frame = start + pair
            assert torch.all(values[0, segment, 2 * pair] == (frame + 0.25) / 20)  # x of pair `pair`
            assert torch.all(values[0, segment, 2 * pair + 1] == -frame / 20)  # then its y
    # mmaction2's FormatShape("NCHW_Flow") order: (L, 2) flattened to 2L.
    frames = torch.from_numpy(numbered_flow(12)[[2, 3, 4]]) / 20
    torch.testing.assert_close(values[0, 0], frames.reshape(6, 8, 8))
    torch.testing.assert_close(stack_flow_pairs(frames[None], 3)[0, 0], frames.reshape(6, 8, 8))
    # Three crops along the long side give a views axis, as for RGB.
    wide = np.concatenate([numbered_flow(12), numbered_flow(12)[..., :4] + 100], axis=-1)  # 8 x 12, right edge apart
    views = processor(wide, num_crops=3)["flow_values"]
    assert views.shape == (1, 3, 2, 6, 8, 8)
    assert float(views[0, 0].max()) < 1 and torch.all(views[0, 2, ..., -1] == 1)  # left crop, right crop


def test_clip_layout_clipping_and_scaling():
    flow = numbered_flow(6)
    flow[2, 0] = 50.0  # beyond +bound
    flow[3, 1] = -35.0  # beyond -bound
    processor = FlowVideoProcessor(mode="clip", num_frames=6, sampling="clip", bound=20, **SMALL)
    values = processor(flow)["flow_values"]
    assert values.shape == (1, 6, 2, 8, 8)
    assert torch.all(values[0, 2, 0] == 1) and torch.all(values[0, 3, 1] == -1)
    assert torch.all(values[0, 4, 0] == 4.25 / 20) and torch.all(values[0, 4, 1] == -4 / 20)
    assert float(values.abs().max()) <= 1
    # (flow frames, H, W, 2) is the same flow; a batch of two gives two rows.
    last = processor(np.moveaxis(numbered_flow(6), 1, -1))["flow_values"]
    torch.testing.assert_close(last, processor(numbered_flow(6))["flow_values"])
    assert processor([numbered_flow(6), numbered_flow(6)])["flow_values"].shape == (2, 6, 2, 8, 8)


def test_horizontal_flip_mirrors_the_field_and_negates_x():
    generator = np.random.default_rng(0)
    flow = generator.normal(0, 5, (4, 2, 8, 8)).astype(np.float32)
    settings = dict(
        mode="clip", num_frames=4, training=True, random_resized_crop_scale=(1.0, 1.0),
        random_resized_crop_ratio=(1.0, 1.0), **SMALL,
    )  # fmt: skip
    processor = FlowVideoProcessor(**settings)
    flipped_seen = kept_seen = False
    for seed in range(12):
        plain = processor(flow, seed=seed, do_flip=False)["flow_values"][0]
        maybe = processor(flow, seed=seed, do_flip=True)["flow_values"][0]
        if torch.equal(plain, maybe):
            kept_seen = True
            continue
        flipped_seen = True
        torch.testing.assert_close(maybe[:, 0], -plain[:, 0].flip(-1))
        torch.testing.assert_close(maybe[:, 1], plain[:, 1].flip(-1))
    assert flipped_seen and kept_seen


def test_resizing_keeps_vectors_unless_asked_to_rescale_them():
    flow = np.zeros((2, 2, 16, 16), np.float32)
    flow[:, 0], flow[:, 1] = 4.0, -6.0
    settings = dict(mode="clip", num_frames=2, **SMALL)
    kept = FlowVideoProcessor(**settings)(flow)["flow_values"]
    torch.testing.assert_close(kept[0, :, 0], torch.full((2, 8, 8), 4 / 20))  # the originals' behaviour
    scaled = FlowVideoProcessor(**settings, rescale_flow_on_resize=True)(flow)["flow_values"]
    torch.testing.assert_close(scaled[0, :, 0], torch.full((2, 8, 8), 2 / 20))
    torch.testing.assert_close(scaled[0, :, 1], torch.full((2, 8, 8), -3 / 20))
    # A fixed-size resize scales each axis by its own factor.
    fixed = FlowVideoProcessor(
        mode="clip", num_frames=2, size={"height": 8, "width": 16}, crop_size={"height": 8, "width": 16},
        rescale_flow_on_resize=True,
    )(flow)["flow_values"]  # fmt: skip
    torch.testing.assert_close(fixed[0, :, 0], torch.full((2, 8, 16), 4 / 20))
    torch.testing.assert_close(fixed[0, :, 1], torch.full((2, 8, 16), -3 / 20))


# ----------------------------------------------------------------------------------------- precomputed


def write_flow_jpegs(folder, pixels_x: list[int], pixels_y: list[int], size: int = 8) -> None:
    """Flat x/y JPEGs (quality 100: a flat image decodes to its exact value) named as denseflow names them."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, (x, y) in enumerate(zip(pixels_x, pixels_y), start=1):
        for axis, value in (("x", x), ("y", y)):
            image = PIL.Image.fromarray(np.full((size, size), value, np.uint8), mode="L")
            image.save(folder / f"flow_{axis}_{number:05d}.jpg", quality=100)


def test_jpeg_folder_is_decoded_as_mmaction_or_exactly(tmp_path):
    folder = tmp_path / "v_clip"
    write_flow_jpegs(folder, [200, 128, 0, 255], [50, 64, 255, 10])
    processor = FlowVideoProcessor(mode="clip", num_frames=4, **SMALL)
    values = processor(str(folder))["flow_values"][0]
    # mmaction2: Normalize(mean=128, std=128) on the JPEG pixels; the bound of the JPEGs and the processor agree.
    expected_x = torch.tensor([200, 128, 0, 255]).sub(128).div(128)
    expected_y = torch.tensor([50, 64, 255, 10]).sub(128).div(128)
    torch.testing.assert_close(values[:, 0, 0, 0], expected_x)
    torch.testing.assert_close(values[:, 1, 0, 0], expected_y)
    exact = processor(folder, jpeg_decoding="exact")["flow_values"][0]
    torch.testing.assert_close(exact[:, 0, 0, 0], torch.tensor([200, 128, 0, 255]) / 255 * 2 - 1)
    # denseflow writes round(255 * (v + 20) / 40): the exact decoding gives v back to half a grey level.
    flow = torch.tensor([-20.0, -3.3, 0.0, 7.9, 20.0])
    coded = torch.round(255 * (flow + 20) / 40).to(torch.uint8)
    assert float((decode_flow_jpeg(coded, 20, "exact") - flow).abs().max()) <= 20 / 255 + 1e-5
    # uint8 arrays are JPEG-coded flow too.
    coded_array = np.stack([np.full((4, 8, 8), 200, np.uint8), np.full((4, 8, 8), 50, np.uint8)], axis=1)
    torch.testing.assert_close(processor(coded_array)["flow_values"][0, :, 0, 0, 0], torch.full((4,), 72 / 128))


def test_npy_file_equals_the_array(tmp_path):
    path = tmp_path / "flow.npy"
    np.save(path, numbered_flow(12))
    processor = FlowVideoProcessor(mode="stacked", flow_length=4, num_frames=2, **SMALL)
    torch.testing.assert_close(processor(path)["flow_values"], processor(numbered_flow(12))["flow_values"])


def test_clear_errors(tmp_path):
    processor = FlowVideoProcessor(**SMALL)  # stacked, L = 10
    with pytest.raises(UserInputError, match=r"at least 11 frames \(10 flow frames\); this one has 6 frames"):
        processor(numbered_flow(5))
    with pytest.raises(UserInputError, match="no such flow folder"):
        processor(str(tmp_path / "missing_flow"))
    folder = tmp_path / "uneven"
    write_flow_jpegs(folder, [1, 2, 3], [1, 2, 3])
    (folder / "flow_y_00003.jpg").unlink()
    with pytest.raises(UserInputError, match="3 flow_x JPEGs but 2 flow_y"):
        processor(folder)
    (folder / "flow_x_00002.jpg").unlink()
    with pytest.raises(UserInputError, match="missing flow_x_00002.jpg"):
        processor(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserInputError, match="no flow JPEGs"):
        processor(empty)
    with pytest.raises(UserInputError, match="needs flow_model="):
        processor(np.zeros((12, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="mode must be one of"):
        FlowVideoProcessor(mode="stack")
    with pytest.raises(ValueError, match="num_channels=20"):
        FlowVideoProcessor(num_channels=20)
    with pytest.raises(ValueError, match="target_fps"):
        FlowVideoProcessor(target_fps=25)


# -------------------------------------------------------------------------------------------- computed


@pytest.fixture(scope="module")
def raft():
    return torchvision_raft_small()


def test_rgb_frames_give_the_raft_flow_of_the_resized_frames(raft):
    generator = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (6, 140, 160, 3), generator=generator, dtype=torch.uint8)
    processor = FlowVideoProcessor(
        mode="clip", num_frames=3, sampling="clip", size={"shortest_edge": 128},
        crop_size={"height": 128, "width": 128}, flow_model=raft, num_iterations=2,
    )  # fmt: skip
    output = processor(frames.numpy(), return_metadata=True)
    sampled = output["video_metadata"][0].frames_indices
    assert sampled == [1, 2, 3]  # the centred 3-frame clip of the 5 flow frames
    # By hand: short side to 128 (160 -> 146), RAFT on every consecutive pair, the sampled pairs, centre crop.
    resized = torch.nn.functional.interpolate(frames.permute(0, 3, 1, 2).float(), size=(128, 146), mode="bilinear")
    with torch.no_grad():
        flow = raft.clip_flow(raft_pixels(resized)[None], num_iterations=2)[0]
    expected = (flow[sampled][..., :, 9:137] / 20).clamp(-1, 1)
    torch.testing.assert_close(output["flow_values"][0], expected, atol=1e-4, rtol=1e-4)


def test_video_file_flow_is_cached_by_the_processor(raft, tmp_path):
    frames = np.zeros((7, 128, 160, 3), np.uint8)
    for index in range(7):
        frames[index, 40:72, 10 + 6 * index : 42 + 6 * index] = 255
    video = write_video(frames, tmp_path / "moving.avi", codec="mjpeg")
    counting = CountingFlow(raft)
    settings = dict(
        mode="stacked", flow_length=2, num_frames=2, size={"shortest_edge": 128},
        crop_size={"height": 128, "width": 128}, flow_model=counting, num_iterations=1,
    )  # fmt: skip
    uncached = FlowVideoProcessor(**settings)(str(video))["flow_values"]
    assert uncached.shape == (1, 2, 4, 128, 128) and counting.pairs == 4  # only the sampled pairs
    processor = FlowVideoProcessor(**settings, flow_cache_dir=str(tmp_path / "cache"))
    first = processor(str(video))["flow_values"]
    assert counting.pairs == 4 + 6  # the cache holds every pair of the video
    second = processor(str(video))["flow_values"]
    assert counting.pairs == 10  # read back
    torch.testing.assert_close(second, first, rtol=0, atol=0)
    torch.testing.assert_close(first, uncached, atol=1e-4, rtol=1e-4)
    processor(str(video), num_iterations=2)
    assert counting.pairs == 16  # another iteration count is another cache entry
    processor(str(video), size={"shortest_edge": 136})
    assert counting.pairs == 22  # so is another resize


# ---------------------------------------------------------------------------------------- save and load


def test_save_load_and_auto_class(tmp_path, raft):
    processor = FlowVideoProcessor(mode="clip", num_frames=4, bound=15, flow_model=raft, flow_cache_dir=str(tmp_path))
    processor.save_pretrained(tmp_path / "saved")
    loaded = FlowVideoProcessor.from_pretrained(tmp_path / "saved")
    assert (loaded.mode, loaded.num_frames, loaded.bound) == ("clip", 4, 15)
    assert loaded.flow_model is None and loaded.flow_cache_dir is None  # a model instance and a cache are not saved
    assert processor.flow_model is raft  # saving did not touch the instance
    # A flow stream's folder: the RGB architecture's config, the flow processor.
    TSNConfig(num_channels=20).save_pretrained(tmp_path / "saved")
    assert type(AutoVideoProcessor.from_pretrained(tmp_path / "saved")) is FlowVideoProcessor


def test_matched_to_config_reads_the_layout_from_the_channels():
    stacked = FlowVideoProcessor.for_model_config(TSNConfig(num_channels=20, num_frames=3, image_size=112))
    assert (stacked.mode, stacked.flow_length, stacked.num_frames, stacked.crop_size.height) == ("stacked", 10, 3, 112)
    clip = FlowVideoProcessor(mode="clip").matched_to_config(I3DConfig(num_channels=2, num_frames=16))
    assert (clip.mode, clip.num_frames, clip.num_channels) == ("clip", 16, 2)
    with pytest.raises(UserInputError, match="takes 3"):
        FlowVideoProcessor(mode="clip").matched_to_config(I3DConfig())
