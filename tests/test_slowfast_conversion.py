"""SlowFast converters (PySlowFast .pyth, Caffe2 .pkl, pytorchvideo): logits parity with the original code's
fixtures (../shared/reference/slowfast), every manifest consumed, pytorchvideo's builders matched directly, the
Caffe2 and pytorchvideo name rules, the safe unpickler and the command lines."""

from __future__ import annotations

import json
import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForVideoClassification, AutoVideoProcessor

from conversion.common import ConversionError, load_checkpoint, load_numpy_pickle
from conversion.convert_slowfast_caffe2 import caffe2_to_pyslowfast, convert_caffe2_checkpoint
from conversion.convert_slowfast_caffe2 import main as caffe2_main
from conversion.convert_slowfast_caffe2 import pyslowfast_key as caffe2_key
from conversion.convert_slowfast_pyslowfast import (
    PARITY_BOUND,
    convert_pyslowfast_checkpoint,
    convert_pyslowfast_state_dict,
)
from conversion.convert_slowfast_pyslowfast import main as pyslowfast_main
from conversion.convert_slowfast_pytorchvideo import convert_pytorchvideo_checkpoint
from conversion.convert_slowfast_pytorchvideo import main as pytorchvideo_main
from conversion.convert_slowfast_pytorchvideo import pyslowfast_key as pytorchvideo_key
from hf_videomodels.models.slowfast import SlowFastConfig, SlowFastForVideoClassification

from .conftest import REFERENCE_DIR, require_shared
from .utils import randomize_batch_norm

SLOWFAST_DIR = REFERENCE_DIR / "slowfast"
PARITY_DIR = SLOWFAST_DIR / "parity"
MANIFEST_DIR = SLOWFAST_DIR / "manifests"
PARITY_ATOL = PARITY_BOUND  # the project's bar, 1e-4 (fp32 max abs); measured values are ~1e-6
FIXTURES = ("SLOWFAST_8x8_R50_w8", "SLOWFAST_4x16_R50_w16", "SLOWFAST_8x8_R101_w8")


def _max_diff(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return (actual - expected).abs().max().item()


@pytest.fixture(scope="module")
def clip():
    """The fixture clip as our models take it: (1, 32, 3, 224, 224), normalised as PySlowFast does."""
    frames = load_file(require_shared(PARITY_DIR / "inputs.safetensors"))["frames_uint8"]
    return ((frames.float() / 255 - 0.45) / 0.225).permute(0, 3, 1, 2)[None]


@pytest.fixture(scope="module")
def parity_record():
    """Every measured difference, printed at the end of the module (``pytest -s`` shows it)."""
    record: dict[str, float] = {}
    yield record
    print("\nSlowFast parity, max abs diff vs the original code:", json.dumps(record, indent=1))


def _model(config, converted):
    with torch.device("meta"):
        model = SlowFastForVideoClassification(config)
    model.load_state_dict(converted, strict=True, assign=True)
    return model.eval()


# ---- parity with PySlowFast's outputs ----------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES)
def test_pyslowfast_pyth_parity(fixture, clip, parity_record):
    checkpoint = load_checkpoint(require_shared(PARITY_DIR / fixture / f"{fixture}.pyth"))
    expected = load_file(require_shared(PARITY_DIR / fixture / "outputs.safetensors"))
    meta = json.loads((PARITY_DIR / "fixtures.json").read_text())["fixtures"][fixture]
    config, converted = convert_pyslowfast_checkpoint(checkpoint)
    assert (config.alpha, config.fusion_kernel_size) == (meta["alpha"], meta["fusion_kernel"])
    assert config.head_pool_sizes == tuple(tuple(k) for k in meta["head_pool_kernels"])
    model = _model(config, converted)
    assert sum(p.numel() for p in model.parameters()) == meta["num_parameters"]
    with torch.no_grad():  # one full-size forward: logits and every stage behind them
        logits, outputs = model.compute_logits(clip, output_hidden_states=True)
    record = {
        "logits": _max_diff(logits, expected["logits"]),
        "probs": _max_diff(logits.softmax(-1), expected["probs"]),
        "head_features": _max_diff(outputs.pooler_output, expected["head_features"]),
        "s5.pathway0": _max_diff(outputs.last_hidden_state, expected["s5.pathway0"]),
        "s5.pathway1": _max_diff(outputs.fast_last_hidden_state, expected["s5.pathway1"]),
    }
    # Hidden states are the stage outputs s1 (stem) .. s5, Slow then Fast, before fusion.
    for index, hidden in enumerate(outputs.hidden_states):
        stage, pathway = index // 2 + 1, index % 2
        key = f"stage_channel_mean.s{stage}.pathway{pathway}"
        record[key] = _max_diff(hidden.mean(dim=(2, 3, 4)), expected[key])
    parity_record.update({f"{fixture}.pyth.{k}": v for k, v in record.items()})
    assert config.id2label[0] == "abseiling" and config.num_labels == 400
    for key, diff in record.items():
        assert diff <= PARITY_ATOL, (key, diff)


def test_caffe2_pkl_parity(clip, parity_record):
    fixture = "SLOWFAST_8x8_R50_w8"
    checkpoint = load_numpy_pickle(require_shared(PARITY_DIR / fixture / f"{fixture}.pkl"))
    expected = load_file(require_shared(PARITY_DIR / fixture / "outputs.safetensors"))
    config, converted = convert_caffe2_checkpoint(checkpoint, variant="SLOWFAST_8x8_R50.pkl")
    reference_config, reference = convert_pyslowfast_checkpoint(load_checkpoint(PARITY_DIR / fixture / f"{fixture}.pyth"))
    assert config.to_dict() == reference_config.to_dict()
    for key, tensor in reference.items():  # the same weights, with zero counters where Caffe2 has none
        assert torch.equal(converted[key], tensor if not key.endswith("num_batches_tracked") else torch.tensor(0)), key
    with torch.no_grad():
        logits = _model(config, converted)(clip).logits
    parity_record[f"{fixture}.pkl.logits"] = _max_diff(logits, expected["logits"])
    assert parity_record[f"{fixture}.pkl.logits"] <= PARITY_ATOL


def test_pytorchvideo_copy_parity(clip, parity_record):
    fixture = "SLOWFAST_8x8_R50_w8"
    checkpoint = load_checkpoint(require_shared(PARITY_DIR / fixture / f"{fixture}.pytorchvideo.pyth"))
    expected = load_file(require_shared(PARITY_DIR / fixture / "outputs_pytorchvideo.safetensors"))
    config, converted = convert_pytorchvideo_checkpoint(checkpoint, variant="SLOWFAST_8x8_R50")
    with torch.no_grad():
        logits = _model(config, converted)(clip).logits
    parity_record[f"{fixture}.pytorchvideo.logits"] = _max_diff(logits, expected["logits"])
    assert parity_record[f"{fixture}.pytorchvideo.logits"] <= PARITY_ATOL


# ---- pytorchvideo's builders, random weights ---------------------------------------------------------------


def _pytorchvideo_hub():
    pytest.importorskip("pytorchvideo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pytorchvideo.models import hub
    return hub


@pytest.mark.parametrize(
    ("builder", "frames", "side", "train_frames", "train_side"),
    [
        ("slowfast_r50", 32, 224, 32, 224),  # the default
        ("slowfast_r50", 20, 160, 20, 160),  # an odd clip length and size, head built for it
        ("slowfast_r50", 32, 256, 32, 224),  # the test crop 256: 2x2 head positions, their logits averaged
        ("slowfast_r101", 24, 96, 24, 96),
    ],
)
def test_pytorchvideo_builders_random_weights(builder, frames, side, train_frames, train_side, parity_record):
    hub = _pytorchvideo_hub()
    torch.manual_seed(0)
    pool = ((train_frames // 4, train_side // 32, train_side // 32), (train_frames, train_side // 32, train_side // 32))
    # Reduced width (Slow stem 8, Fast 1), the real depth: the whole R50/R101 topology in seconds.
    peer = getattr(hub, builder)(pretrained=False, stem_dim_outs=(8, 1), head_pool_kernel_sizes=pool).eval()
    randomize_batch_norm(peer)
    x = torch.randn(1, frames, 3, side, side)
    slow = x[:, torch.linspace(0, frames - 1, frames // 4).long()]
    with torch.no_grad():  # logits of a realistic size (std of a few units, as in the fixtures), not thousands
        head = peer.blocks[-1].proj
        head.weight.mul_(3 / peer([slow.transpose(1, 2), x.transpose(1, 2)]).sub(head.bias).std())
    config, converted = convert_pytorchvideo_checkpoint(
        peer.state_dict(), alpha=4, labels=[f"c{i}" for i in range(400)]
    )
    config = SlowFastConfig(**{**config.to_dict(), "num_frames": train_frames, "image_size": train_side})
    ours = _model(config, converted)
    with torch.no_grad():
        expected = peer([slow.transpose(1, 2), x.transpose(1, 2)])
        actual = ours(x).logits
    assert expected.shape == actual.shape == (1, 400)
    parity_record[f"pytorchvideo.{builder}.{frames}x{side}"] = _max_diff(actual, expected)
    assert parity_record[f"pytorchvideo.{builder}.{frames}x{side}"] <= PARITY_ATOL


# ---- every manifest consumed ------------------------------------------------------------------------------


def _manifest(name: str) -> dict:
    return json.loads(require_shared(MANIFEST_DIR / f"{name}.manifest.json").read_text())


def _meta_state(manifest: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    return {prefix + key: torch.empty(shape, device="meta") for key, shape, *_ in manifest["tensors"]}


PYSLOWFAST_MANIFESTS = {
    "SLOWFAST_4x16_R50": (8, [3, 4, 6, 3], [3, 4, 6, 3]),
    "SLOWFAST_8x8_R50": (4, [3, 4, 6, 3], [3, 4, 6, 3]),
    "SLOWFAST_8x8_R101": (4, [3, 4, 23, 3], [3, 4, 23, 3]),
    "SLOWFAST_8x8_R101_50_50": (4, [3, 4, 6, 3], [3, 4, 6, 3]),
    "SLOWFAST_8x8_R101_50_101": (4, [3, 4, 6, 3], [3, 4, 23, 3]),
    "SLOWFAST_16x8_R101_50_50": (4, [3, 4, 6, 3], [3, 4, 6, 3]),
}


def _check_full_size(config: SlowFastConfig, converted: dict, manifest: dict) -> None:
    with torch.device("meta"):
        model = SlowFastForVideoClassification(config)
    model.load_state_dict(converted, strict=True, assign=True)
    assert sum(p.numel() for p in model.parameters()) == manifest["num_parameters"]


@pytest.mark.parametrize("name", PYSLOWFAST_MANIFESTS)
def test_pyslowfast_and_caffe2_manifests_convert_completely(name):
    alpha, slow_blocks, fast_blocks = PYSLOWFAST_MANIFESTS[name]
    manifest = _manifest(name)
    config, converted = convert_pyslowfast_state_dict(_meta_state(manifest), variant=name)
    assert config.alpha == alpha and config.num_frames == (64 if name.startswith("SLOWFAST_16x8") else 32)
    assert config.slow_temporal_kernel_blocks[:3] == slow_blocks[:3]
    assert config.fast_temporal_kernel_blocks[2] == fast_blocks[2]
    _check_full_size(config, converted, manifest)
    # The same checkpoint as the model zoo's Caffe2 blobs (names in c2/), plus the solver state the files hold.
    rows = json.loads(require_shared(SLOWFAST_DIR / "c2" / f"{name}.c2_names.json").read_text())["tensors"]
    blobs = {blob: torch.empty(shape, device="meta") for blob, _, shape in rows}
    blobs.update({"res2_0_branch2a_w_momentum": np.zeros(1), "lr": np.zeros(1), "model_iter": np.zeros(1)})
    c2_config, c2_converted = convert_caffe2_checkpoint({"blobs": blobs}, variant=f"{name}.pkl")
    assert c2_config.to_dict() == config.to_dict()
    assert set(c2_converted) == set(converted)


def _with_nonlocal_tensors(state: dict, location) -> dict:
    """``state`` plus PySlowFast-named non-local tensors (meta) after the blocks ``location`` names."""
    state = dict(state)
    for stage, per_pathway in enumerate(location):
        for p, blocks in enumerate(per_pathway):
            channels = state[f"s{stage + 2}.pathway{p}_res0.branch2.c.weight"].shape[0]
            for block in blocks:
                prefix = f"s{stage + 2}.pathway{p}_nonlocal{block}"
                for conv in ("theta", "phi", "g"):
                    state[f"{prefix}.conv_{conv}.weight"] = torch.empty(channels // 2, channels, 1, 1, 1, device="meta")
                    state[f"{prefix}.conv_{conv}.bias"] = torch.empty(channels // 2, device="meta")
                state[f"{prefix}.conv_out.weight"] = torch.empty(channels, channels // 2, 1, 1, 1, device="meta")
                state[f"{prefix}.conv_out.bias"] = torch.empty(channels, device="meta")
                for name in ("weight", "bias", "running_mean", "running_var"):
                    state[f"{prefix}.bn.{name}"] = torch.empty(channels, device="meta")
    return state


def test_nonlocal_checkpoint_follows_its_cfg_location():
    """SLOWFAST_NLN_8x8_R50's layout (the 8x8 R50 tensors plus Slow non-local blocks after res3 blocks 1, 3 and
    res4 blocks 1, 3, 5): every tensor is placed, where the cfg's NONLOCAL.LOCATION says; a cfg that disagrees
    with the tensors, or temporal groups, are refused."""
    location = [[[], []], [[1, 3], []], [[1, 3, 5], []], [[], []]]
    state = _with_nonlocal_tensors(_meta_state(_manifest("SLOWFAST_8x8_R50")), location)
    cfg = {"NONLOCAL": {"LOCATION": location, "GROUP": [[1, 1]] * 4, "INSTANTIATION": "dot_product",
                        "POOL": [[[1, 2, 2], [1, 2, 2]]] * 4}}  # fmt: skip
    config, converted = convert_pyslowfast_state_dict(state, cfg, variant="SLOWFAST_8x8_R50")
    assert config.slow_nonlocal_blocks == [[], [1, 3], [1, 3, 5], []] and config.fast_nonlocal_blocks == [[]] * 4
    assert config.nonlocal_pool_size == [1, 2, 2] and config.nonlocal_instantiation == "dot_product"
    assert "slowfast.slow.stages.2.nonlocal_blocks.5.theta.weight" in converted
    with torch.device("meta"):
        model = SlowFastForVideoClassification(config)
    model.load_state_dict(converted, strict=True, assign=True)
    moved = {**cfg, "NONLOCAL": {**cfg["NONLOCAL"], "LOCATION": [[[], []], [[1, 3], []], [[1, 3, 4], []], [[], []]]}}
    with pytest.raises(ConversionError, match="NONLOCAL.LOCATION"):
        convert_pyslowfast_state_dict(state, moved, variant="SLOWFAST_8x8_R50")
    grouped = {**cfg, "NONLOCAL": {**cfg["NONLOCAL"], "GROUP": [[1, 1], [2, 1], [1, 1], [1, 1]]}}
    with pytest.raises(ConversionError, match="GROUP"):
        convert_pyslowfast_state_dict(state, grouped, variant="SLOWFAST_8x8_R50")


@pytest.mark.parametrize(
    "name",
    [
        "pysf_ptv_SLOWFAST_4x16_R50",
        "pysf_ptv_SLOWFAST_8x8_R50",
        "pysf_ptv_SLOWFAST_8x8_R101",
        "pysf_ptv_SLOWFAST_16x8_R101_50_50",
        "pytorchvideo_slowfast_r50",
        "pytorchvideo_slowfast_r101",
        "pytorchvideo_slowfast_16x8_r101_50_50",
    ],
)
def test_pytorchvideo_manifests_convert_completely(name):
    manifest = _manifest(name)
    state = _meta_state(manifest)
    if name.startswith("pysf_ptv"):
        assert all(key.startswith("model.") for key in state)  # PTVSlowFast's wrapper
        variant = name.removeprefix("pysf_ptv_")
    else:
        variant = {"r50": "SLOWFAST_8x8_R50", "r101": "SLOWFAST_8x8_R101"}.get(
            name.removeprefix("pytorchvideo_slowfast_"), "SLOWFAST_16x8_R101_50_50"
        )
    config, converted = convert_pytorchvideo_checkpoint({"model_state": state, "epoch": 1}, variant=variant)
    _check_full_size(config, converted, manifest)
    # The same network as PySlowFast's naming of that variant (every variant has a PySlowFast manifest).
    reference, _ = convert_pyslowfast_state_dict(_meta_state(_manifest(variant)), variant=variant)
    assert config.to_dict() == reference.to_dict()


# ---- name rules --------------------------------------------------------------------------------------------


def test_caffe2_names_follow_pyslowfast_rules():
    """Our Caffe2 -> PySlowFast names agree with the original loader's rule table on every blob of every
    variant, and on the non-local blobs the table also covers."""
    rules = json.loads(require_shared(SLOWFAST_DIR / "c2" / "c2_name_rules.json").read_text())["rules"]

    def original(name):
        for pattern, replacement in rules:
            name = re.sub(pattern, replacement, name)
        return name

    blobs = ["nonlocal_conv3_1_theta_w", "nonlocal_conv4_5_out_b", "nonlocal_conv3_3_bn_riv", "nonlocal_conv4_1_g_b"]
    for path in sorted((SLOWFAST_DIR / "c2").glob("SLOWFAST_*.c2_names.json")):
        blobs += [blob for blob, _, _ in json.loads(path.read_text())["tensors"]]
    assert len(blobs) > 5000
    for blob in blobs:
        assert caffe2_key(blob) == original(blob), blob


def test_pytorchvideo_names_invert_the_keymap():
    keymap = json.loads(require_shared(MANIFEST_DIR / "keymap_pyslowfast_to_pytorchvideo.json").read_text())

    def to_pytorchvideo(key):
        for pattern, replacement in keymap["rules"]:
            match = re.fullmatch(pattern, key)
            if match:
                replacement = re.sub(r"\{\\(\d)-1\}", lambda m: str(int(match.group(int(m.group(1)))) - 1), replacement)
                return match.expand(replacement)
        raise AssertionError(key)

    for name in ("SLOWFAST_8x8_R50", "SLOWFAST_8x8_R101", "SLOWFAST_16x8_R101_50_50"):
        for key, _, _ in _manifest(name)["tensors"]:
            assert pytorchvideo_key(to_pytorchvideo(key)) == key


# ---- errors and safety -------------------------------------------------------------------------------------


def test_unknown_and_missing_tensors_are_named():
    manifest = _manifest("SLOWFAST_8x8_R50")
    state = _meta_state(manifest)
    with pytest.raises(ConversionError, match="not consumed.*extra.weight"):
        convert_pyslowfast_state_dict({**state, "extra.weight": torch.empty(1, device="meta")}, variant="SLOWFAST_8x8_R50")
    missing = {k: v for k, v in state.items() if k != "s3.pathway1_res2.branch2.b_bn.bias"}
    with pytest.raises(ConversionError, match="s3.pathway1_res2.branch2.b_bn.bias"):
        convert_pyslowfast_state_dict(missing, variant="SLOWFAST_8x8_R50")
    with pytest.raises(ConversionError, match="alpha"):
        convert_pyslowfast_state_dict(state)
    with pytest.raises(ConversionError, match="fusion kernel"):
        convert_pyslowfast_state_dict(state, variant="SLOWFAST_4x16_R50")  # 4x16's lateral kernel is 5, not 7
    with pytest.raises(ConversionError, match="not Caffe2 SlowFast tensors.*conv9_w"):
        caffe2_to_pyslowfast({"conv9_w": np.zeros(1)})
    with pytest.raises(ConversionError, match="pytorchvideo"):
        convert_pyslowfast_checkpoint({"model_state": {"blocks.0.x": torch.zeros(1)}})


def test_caffe2_pickle_with_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"blobs": {"conv1_w": Payload()}}, protocol=2))
    with pytest.raises(ConversionError, match="refusing"):
        load_numpy_pickle(path)


# ---- command lines -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("main", "file_name", "extra"),
    [
        (pyslowfast_main, "SLOWFAST_8x8_R50_w8.pyth", []),
        (caffe2_main, "SLOWFAST_8x8_R50_w8.pkl", ["--variant", "SLOWFAST_8x8_R50"]),
        (pytorchvideo_main, "SLOWFAST_8x8_R50_w8.pytorchvideo.pyth", ["--variant", "slowfast_r50"]),
    ],
)
def test_command_line_writes_a_loadable_folder(main, file_name, extra, tmp_path, clip):
    checkpoint = require_shared(PARITY_DIR / "SLOWFAST_8x8_R50_w8" / file_name)
    expected = load_file(PARITY_DIR / "SLOWFAST_8x8_R50_w8" / "outputs.safetensors")["logits"]
    folder = main(["--checkpoint", str(checkpoint), "--output", str(tmp_path / "out"), *extra])
    model = AutoModelForVideoClassification.from_pretrained(folder).eval()
    processor = AutoVideoProcessor.from_pretrained(folder)
    assert model.config.id2label[399] == "zumba"
    assert (processor.num_frames, processor.frame_sample_rate, processor.target_fps) == (32, 2, 30)
    assert (processor.num_clips, processor.num_crops, processor.size.shortest_edge) == (10, 3, 256)
    assert (processor.crop_size.height, processor.image_mean[0], processor.image_std[0]) == (224, 0.45, 0.225)
    assert "SlowFast" in (folder / "README.md").read_text()
    with torch.no_grad():
        assert _max_diff(model(clip).logits, expected) <= PARITY_ATOL
