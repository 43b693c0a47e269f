"""RAFT: parity with the original code's fixtures and with torchvision's raft_large / raft_small, the processor's
InputPadder padding, the sequence loss, the converters' bookkeeping and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision
from safetensors.torch import load_file
from torch.nn import functional as F
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification, AutoVideoProcessor

from conversion.common import ConversionError, meta_state_dict_from_manifest
from conversion.convert_raft_original import PUBLISHED, convert_original_state_dict
from conversion.convert_raft_torchvision import convert_torchvision_state_dict
from hf_videomodels.models.raft import RaftConfig, RaftModel, RaftVideoProcessor
from hf_videomodels.models.raft.modeling_raft import sequence_loss
from hf_videomodels.registration import find_architecture

from .conformance import ModelConformance
from .conftest import REFERENCE_DIR, require_shared
from .utils import randomize_batch_norm

RAFT_DIR = REFERENCE_DIR / "raft"
TOLERANCE = 1e-4
# A RAFT small enough for the whole file to run in seconds: two correlation levels, so 32-pixel frames suffice.
TINY = {
    "encoder_channels": [8, 8, 12, 16],
    "feature_size": 16,
    "hidden_size": 8,
    "context_size": 8,
    "corr_levels": 2,
    "corr_radius": 2,
    "motion_corr_channels": [16, 12],
    "motion_flow_channels": [8, 8],
    "motion_output_size": 16,
    "flow_head_hidden_size": 16,
    "mask_hidden_size": 16,
    "num_iterations": 2,
}


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


def tiny_model(seed: int = 0, **overrides) -> RaftModel:
    torch.manual_seed(seed)
    model = RaftModel(RaftConfig(**{**TINY, **overrides}))
    randomize_batch_norm(model)
    return model.eval()


def random_pairs(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 2, 3, height, width, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def input_padder(height: int, width: int, mode: str) -> list[int]:
    """The original InputPadder's F.pad argument, written out from its formula."""
    pad_ht = (((height // 8) + 1) * 8 - height) % 8
    pad_wd = (((width // 8) + 1) * 8 - width) % 8
    if mode == "sintel":
        return [pad_wd // 2, pad_wd - pad_wd // 2, pad_ht // 2, pad_ht - pad_ht // 2]
    return [pad_wd // 2, pad_wd - pad_wd // 2, 0, pad_ht]


class TestRaftConformance(ModelConformance):
    """The part of the suite every model runs (RAFT is not a classifier): the tiny large-style model, with
    BatchNorm in the context encoder and convex upsampling."""

    config_class = RaftConfig
    base_model_class = RaftModel
    task_model_class = RaftModel
    video_processor_class = RaftVideoProcessor
    output_name = "flow"

    def make_config(self, **overrides):
        return RaftConfig(**{**TINY, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        return random_pairs(batch_size, 32, 40, seed=batch_size)

    def make_targets(self, config, inputs):
        pairs = inputs["pixel_values"]
        generator = torch.Generator().manual_seed(0)
        return {"flow_labels": torch.randn(pairs.shape[0], 2, *pairs.shape[-2:], generator=generator)}

    def make_video_processor(self, config):
        return RaftVideoProcessor()


# ---- the original code's fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixtures() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    inputs = load_file(require_shared(RAFT_DIR / "inputs.safetensors"))
    # The original normalises inside its forward, with exactly this formula.
    pairs = torch.stack([2 * (inputs["image1"] / 255.0) - 1.0, 2 * (inputs["image2"] / 255.0) - 1.0], dim=1)
    return pairs, load_file(require_shared(RAFT_DIR / "outputs.safetensors"))


@pytest.mark.parametrize(
    ("checkpoint", "prefix"), [("raft_parity.pth", "raft"), ("raft_small_parity.pth", "raft_small")]
)
def test_matches_original_fixtures(fixtures, checkpoint, prefix):
    pairs, expected = fixtures
    state_dict = torch.load(require_shared(RAFT_DIR / checkpoint), map_location="cpu", weights_only=True)
    assert all(key.startswith("module.") for key in state_dict)
    config, converted = convert_original_state_dict(state_dict)
    assert config.upsampling == ("bilinear" if prefix == "raft_small" else "convex")
    model = RaftModel(config).eval()
    model.load_state_dict(converted, strict=True)
    with torch.no_grad():
        features = model.feature_encoder(torch.cat([pairs[:, 0], pairs[:, 1]]))
        assert max_diff(features[:1], expected[f"{prefix}.fmap1"]) < TOLERANCE
        assert max_diff(features[1:], expected[f"{prefix}.fmap2"]) < TOLERANCE
        assert max_diff(model.context_encoder(pairs[:, 0]), expected[f"{prefix}.cnet"]) < TOLERANCE
        output = model(pairs, num_iterations=12, output_all_iterations=True)
        one_iteration = model(pairs, num_iterations=1).flow
    assert max_diff(output.flow, expected[f"{prefix}.flow_up"]) < TOLERANCE
    assert max_diff(output.low_resolution_flow, expected[f"{prefix}.flow_low"]) < TOLERANCE
    assert output.iteration_flows.shape == (1, 12, 2, 128, 160)
    assert torch.equal(output.iteration_flows[:, -1], output.flow)
    assert max_diff(output.iteration_flows[:, 0], expected[f"{prefix}.flow_predictions_iter1"]) < TOLERANCE
    assert max_diff(output.iteration_flows[:, 5], expected[f"{prefix}.flow_predictions_iter6"]) < TOLERANCE
    assert max_diff(one_iteration, expected[f"{prefix}.flow_predictions_iter1"]) < TOLERANCE
    # The fixture's motion is (+5, -3) px; the flow is not trivially zero (the check above would then be weak).
    assert expected[f"{prefix}.flow_up"].abs().max() > 1


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_every_manifest_converts(name):
    state_dict = meta_state_dict_from_manifest(require_shared(RAFT_DIR / f"{name}.manifest.json"))
    config, converted = convert_original_state_dict(state_dict)
    assert (config.upsampling == "bilinear") == (name == "raft-small")
    with torch.device("meta"):
        model = RaftModel(config)
    expected_parameters = 990_162 if name == "raft-small" else 5_257_536  # the reference README's counts
    assert sum(p.numel() for p in model.parameters()) == expected_parameters
    parameters = dict(model.named_parameters())
    assert sum(converted[key].numel() for key in parameters) == expected_parameters
    # The large model's 10 aliased norm3 / downsample.1 tensors are stored once; the GRU's 3 convs per step (weight
    # and bias each) become 4 tensors.
    gru_steps = 1 if name == "raft-small" else 2
    aliases = 0 if name == "raft-small" else 10
    assert len(state_dict) - len(converted) == aliases + 2 * gru_steps


def _parity_state_dict(name: str = "raft_parity.pth") -> dict[str, torch.Tensor]:
    return torch.load(require_shared(RAFT_DIR / name), map_location="cpu", weights_only=True)


def test_original_converter_refuses_unknown_missing_and_inconsistent_keys():
    state_dict = _parity_state_dict()
    with pytest.raises(ConversionError, match="not consumed: module.extra.weight|extra.weight"):
        convert_original_state_dict({**state_dict, "module.extra.weight": torch.zeros(1)})
    missing = dict(state_dict)
    del missing["module.update_block.mask.2.bias"]
    with pytest.raises(ConversionError, match="update_block.mask.2.bias"):
        convert_original_state_dict(missing)
    altered = dict(state_dict)
    altered["module.cnet.layer2.0.norm3.weight"] = altered["module.cnet.layer2.0.norm3.weight"] + 1
    with pytest.raises(ConversionError, match="differ"):
        convert_original_state_dict(altered)
    with pytest.raises(ConversionError, match="not a princeton-vl/RAFT checkpoint"):
        convert_original_state_dict({"module.fc.weight": torch.zeros(1)})
    wrong_shape = {**state_dict, "module.fnet.conv2.weight": torch.zeros(128, 128, 1, 1)}
    with pytest.raises(ConversionError, match="shape"):
        convert_original_state_dict(wrong_shape)


def test_old_files_without_batch_norm_counters_convert():
    state_dict = {k: v for k, v in _parity_state_dict().items() if not k.endswith("num_batches_tracked")}
    _, converted = convert_original_state_dict(state_dict)
    assert converted["context_encoder.stem_norm.num_batches_tracked"] == 0


# ---- torchvision -------------------------------------------------------------------------------------------


def torchvision_pair(name: str, seed: int = 0) -> tuple[torch.nn.Module, RaftModel]:
    """torchvision's model with random weights (non-trivial BatchNorm, a small flow head so that the lookups read
    the correlation inside the frame) and ours converted from it."""
    torch.manual_seed(seed)
    peer = getattr(torchvision.models.optical_flow, name)()
    randomize_batch_norm(peer, seed)
    with torch.no_grad():
        peer.update_block.flow_head.conv2.weight.mul_(0.1)
    config, converted = convert_torchvision_state_dict(peer.state_dict())
    ours = RaftModel(config)
    ours.load_state_dict(converted, strict=True)
    return peer.eval(), ours.eval()


@pytest.mark.parametrize("name", ["raft_large", "raft_small"])
@pytest.mark.parametrize(("height", "width", "mode"), [(131, 157, "sintel"), (134, 163, "kitti")])
def test_matches_torchvision_through_the_padding(name, height, width, mode):
    """Sizes that are not multiples of 8: torchvision's model on frames padded as the original InputPadder pads
    them, against ours padding and cropping itself (``clip_flow``), and every iteration's flow."""
    peer, ours = torchvision_pair(name)
    frames = torch.rand(1, 2, 3, height, width, generator=torch.Generator().manual_seed(1)) * 2 - 1
    padding = input_padder(height, width, mode)
    padded = F.pad(frames.flatten(0, 1), padding, mode="replicate").unflatten(0, frames.shape[:2])
    with torch.no_grad():
        theirs = peer(padded[:, 0], padded[:, 1], num_flow_updates=4)
        flow = ours.clip_flow(frames, num_iterations=4, padding_mode=mode)
        every = ours(padded, num_iterations=4, output_all_iterations=True).iteration_flows
    top, left = padding[2], padding[0]
    assert flow.shape == (1, 1, 2, height, width)
    assert max_diff(flow[:, 0], theirs[-1][..., top : top + height, left : left + width]) < TOLERANCE
    for iteration, prediction in enumerate(theirs):
        assert max_diff(every[:, iteration], prediction) < TOLERANCE
    assert flow.abs().max() > 0.5  # the flows compared are not trivially small


def test_matches_torchvision_at_the_default_size():
    """One forward of each at 368 x 496, the size of the benchmark (12 iterations)."""
    peer, ours = torchvision_pair("raft_large", seed=3)
    pairs = random_pairs(1, 368, 496, seed=3)
    with torch.no_grad():
        expected = peer(pairs[:, 0], pairs[:, 1])[-1]
        actual = ours(pairs).flow
    assert max_diff(actual, expected) < TOLERANCE


def test_torchvision_converter_refuses_other_state_dicts():
    peer, _ = torchvision_pair("raft_small")
    state_dict = peer.state_dict()
    with pytest.raises(ConversionError, match="not consumed"):
        convert_torchvision_state_dict({**state_dict, "extra": torch.zeros(1)})
    with pytest.raises(ConversionError, match="not a torchvision RAFT"):
        convert_torchvision_state_dict(_parity_state_dict())


# ---- processor ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), [(64, 64), (67, 93), (70, 71), (100, 129)])
@pytest.mark.parametrize("mode", ["sintel", "kitti"])
def test_processor_pads_as_input_padder_and_crops_back(height, width, mode):
    video = np.random.default_rng(0).integers(0, 256, size=(3, height, width, 3), dtype=np.uint8)
    processor = RaftVideoProcessor(padding_mode=mode)
    inputs = processor(video, do_sample_frames=False, return_tensors="pt")
    expected_padding = input_padder(height, width, mode)
    assert inputs["padding"].tolist() == expected_padding
    pixel_values = inputs["pixel_values"]
    assert pixel_values.shape == (2, 2, 3, height + sum(expected_padding[2:]), width + sum(expected_padding[:2]))
    frames = torch.from_numpy(video).permute(0, 3, 1, 2).float()
    normalised = 2 * (frames / 255.0) - 1.0
    padded = F.pad(normalised, expected_padding, mode="replicate")
    assert max_diff(pixel_values[:, 0], padded[:2]) < 1e-6  # pair t: frames t and t + 1
    assert max_diff(pixel_values[:, 1], padded[1:]) < 1e-6
    cropped = processor.post_process_flow(pixel_values[:, 0], inputs["padding"])
    assert max_diff(cropped, normalised[:2]) < 1e-6


def test_processor_defaults_and_save_load(tmp_path):
    video = np.random.default_rng(1).integers(0, 256, size=(9, 40, 72, 3), dtype=np.uint8)
    processor = RaftVideoProcessor(padding_mode="kitti")
    inputs = processor(video, return_tensors="pt")
    assert inputs["pixel_values"].shape == (1, 2, 3, 40, 72)  # one pair of the middle frames, no padding
    assert inputs["padding"].tolist() == [0, 0, 0, 0]
    processor.save_pretrained(tmp_path)
    loaded = AutoVideoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is RaftVideoProcessor and loaded.padding_mode == "kitti"
    with pytest.raises(ValueError, match="padding_mode"):
        RaftVideoProcessor(padding_mode="centre")
    with pytest.raises(ValueError, match="at least 2"):
        processor(video, num_frames=1)
    with pytest.raises(ValueError, match="training augmentation"):
        processor(video, training=True)


def test_model_crops_with_the_processors_padding():
    model = tiny_model()
    video = np.random.default_rng(2).integers(0, 256, size=(3, 30, 37, 3), dtype=np.uint8)
    inputs = RaftVideoProcessor()(video, do_sample_frames=False, return_tensors="pt")
    frames = 2 * (torch.from_numpy(video).permute(0, 3, 1, 2).float() / 255.0) - 1.0
    with torch.no_grad():
        cropped = model(**inputs).flow
        full = model(inputs["pixel_values"]).flow
        clip = model.clip_flow(frames[None])
    assert cropped.shape == (2, 2, 30, 37)
    assert torch.equal(cropped, RaftVideoProcessor.post_process_flow(full, inputs["padding"]))
    assert clip.shape == (1, 2, 2, 30, 37)
    assert max_diff(clip[0], cropped) < 1e-5


def test_clip_flow_is_the_flow_of_each_pair():
    model = tiny_model()
    clip = torch.rand(2, 4, 3, 32, 40, generator=torch.Generator().manual_seed(4)) * 2 - 1
    with torch.no_grad():
        flow = model.clip_flow(clip, pairs_per_forward=4)
        for b in range(2):
            for t in range(3):
                single = model(clip[b : b + 1, t : t + 2]).flow
                assert max_diff(flow[b, t], single[0]) < 1e-5
    assert flow.shape == (2, 3, 2, 32, 40)


# ---- loss --------------------------------------------------------------------------------------------------


def test_sequence_loss_equals_the_direct_computation():
    model = tiny_model().train()
    pairs = random_pairs(2, 32, 40)
    generator = torch.Generator().manual_seed(5)
    labels = torch.randn(2, 2, 32, 40, generator=generator) * 3
    labels[0, 0, :4] = 500.0  # longer than max_flow: left out
    valid = (torch.rand(2, 32, 40, generator=generator) > 0.3).float()
    output = model(pairs, num_iterations=4, flow_labels=labels, valid_mask=valid, output_all_iterations=True)
    flows = output.iteration_flows
    # train.py's sequence_loss, written out
    magnitude = torch.sqrt(torch.sum(labels**2, dim=1))
    mask = (valid >= 0.5) & (magnitude < 400)
    expected = 0.0
    for i in range(4):
        expected += 0.8 ** (4 - i - 1) * (mask[:, None] * (flows[:, i] - labels).abs()).mean()
    assert abs(output.loss.item() - expected.item()) < 1e-6
    assert abs(sequence_loss(list(flows.unbind(1)), labels).item() - output.loss.item()) > 1e-4  # the mask matters
    output.loss.backward()
    assert all(p.grad is not None for p in model.update_block.parameters())
    # Without output_all_iterations the loss is the same and only the final flow is returned.
    again = model(pairs, num_iterations=4, flow_labels=labels, valid_mask=valid)
    assert again.iteration_flows is None and abs(again.loss.item() - output.loss.item()) < 1e-6


def test_loss_refuses_misshapen_labels():
    model = tiny_model()
    pairs = random_pairs(1, 32, 32)
    with pytest.raises(ValueError, match="flow_labels"):
        model(pairs, flow_labels=torch.zeros(1, 32, 32, 2))
    with pytest.raises(ValueError, match="valid_mask"):
        model(pairs, flow_labels=torch.zeros(1, 2, 32, 32), valid_mask=torch.ones(1, 1, 32, 32))


# ---- errors and registration -------------------------------------------------------------------------------


def test_clear_errors_for_bad_input():
    model = tiny_model()
    with pytest.raises(ValueError, match="divisible by 8"):
        model(random_pairs(1, 36, 40))
    with pytest.raises(ValueError, match="frame pairs"):
        model(torch.zeros(1, 3, 3, 32, 32))
    with pytest.raises(ValueError, match="pixel_values"):
        model(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="at least 128x128"):
        tiny_model(corr_levels=4)(random_pairs(1, 120, 256))
    with pytest.raises(ValueError, match="num_iterations"):
        model(random_pairs(1, 32, 32), num_iterations=0)
    with pytest.raises(ValueError, match="initial_flow"):
        model(random_pairs(1, 32, 32), initial_flow=torch.zeros(1, 2, 32, 32))
    with pytest.raises(ValueError, match="at least 2 frames"):
        model.clip_flow(torch.zeros(1, 1, 3, 32, 32))
    with pytest.raises(Exception, match="gru_type must be one of"):  # huggingface_hub wraps the ValueError
        RaftConfig(gru_type="lstm")


def test_presets_and_auto_classes(tmp_path):
    large, small = RaftConfig(), RaftConfig.small()
    assert (large.corr_radius, large.corr_channels, large.upsampling) == (4, 324, "convex")
    assert (small.corr_radius, small.corr_channels, small.upsampling) == (3, 196, "bilinear")
    model = tiny_model(gru_type="conv", upsampling="bilinear", encoder_block="bottleneck")
    model.save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)) is RaftConfig
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is RaftModel
    pairs = random_pairs(1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(pairs).flow, model(pairs).flow)


def test_registered_as_a_model_not_a_classifier():
    arch = find_architecture("raft")
    assert arch.model_class is RaftModel and arch.classification_class is None
    assert arch.classes == (RaftConfig, RaftModel, RaftVideoProcessor)
    with pytest.raises(ValueError, match="Unrecognized configuration class"):
        AutoModelForVideoClassification.from_config(RaftConfig(**TINY))


def test_warm_start_adds_the_initial_flow():
    model = tiny_model()
    pairs = random_pairs(1, 32, 32)
    with torch.no_grad():
        first = model(pairs, num_iterations=2)
        warm = model(pairs, num_iterations=2, initial_flow=first.low_resolution_flow)
    assert warm.low_resolution_flow.shape == (1, 2, 4, 4)
    assert max_diff(warm.flow, first.flow) > 0
    assert math.isfinite(warm.flow.abs().max().item())


def test_processor_and_model_on_the_shared_clip(sample_gif):
    """A real decoded video: 3 consecutive frames -> 2 pairs, the model's flow at the frames' own size."""
    inputs = RaftVideoProcessor()(str(sample_gif), num_frames=3, return_tensors="pt")
    pairs, (left, right, top, bottom) = inputs["pixel_values"], inputs["padding"].tolist()
    assert pairs.shape[:3] == (2, 2, 3) and pairs.shape[-2] % 8 == 0 and pairs.shape[-1] % 8 == 0
    assert torch.equal(pairs[0, 1], pairs[1, 0])  # consecutive pairs share a frame
    assert pairs.min() >= -1 and pairs.max() <= 1
    with torch.no_grad():
        flow = tiny_model()(**inputs).flow
    assert flow.shape == (2, 2, pairs.shape[-2] - top - bottom, pairs.shape[-1] - left - right)
    assert torch.isfinite(flow).all()


@pytest.mark.parametrize("preset", ["small", "large"])
def test_bf16_weights_compute_what_autocast_computes(preset):
    """A model cast to bf16 runs (the float32 correlation lookups are cast to the update block's dtype) and gives
    autocast's answer, since autocast casts the same tensors at the same places."""
    torch.manual_seed(0)
    model = RaftModel(getattr(RaftConfig, preset)()).eval()
    pairs = torch.rand(1, 2, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast_flow = model(pairs, num_iterations=2).flow
        bf16_flow = model.to(torch.bfloat16)(pairs.bfloat16(), num_iterations=2).flow
    assert torch.isfinite(bf16_flow).all()
    torch.testing.assert_close(bf16_flow.float(), autocast_flow.float(), rtol=0, atol=1e-3)
