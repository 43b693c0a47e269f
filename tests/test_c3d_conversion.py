"""c3d-pytorch -> hf_videomodels C3D: parity with the original code on the full-size fixture
(../shared/reference/c3d), strict key accounting on the official layout, the Sports-1M labels, a random-weight
round trip through the command line at an odd clip size, and the processor against the port's predict.py."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForVideoClassification, AutoVideoProcessor

from conversion.common import ConversionError, load_checkpoint
from conversion.convert_c3d_pickle import (
    PARITY_BOUND,
    build_video_processor,
    convert_c3d_state_dict,
    main,
)
from hf_videomodels.models.c3d import C3DConfig, C3DForVideoClassification, C3DVideoProcessor

from .conftest import DATA_DIR, REFERENCE_DIR, require_shared
from .test_c3d_modeling import TINY, functional_c3d, original_layout_params

C3D_DIR = REFERENCE_DIR / "c3d"
PARITY_ATOL = PARITY_BOUND  # what the converter's card states


def _max_diff(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return (actual - expected).abs().max().item()


@pytest.fixture(scope="module")
def parity_record():
    """Every measured difference, printed at the end of the module (``pytest -s`` shows it)."""
    record: dict[str, float] = {}
    yield record
    print("\nC3D parity, max abs diff vs c3d-pytorch:", json.dumps(record, indent=1))


@pytest.fixture(scope="module")
def original_state_dict():
    """The parity checkpoint in the official format, read by the converters' loader straight from the .xz."""
    return load_checkpoint(require_shared(C3D_DIR / "c3d_parity.pickle.xz"))


def test_fixture_parity(original_state_dict, parity_record):
    config, converted = convert_c3d_state_dict(original_state_dict)
    with torch.device("meta"):
        model = C3DForVideoClassification(config)
    model.load_state_dict(converted, strict=True, assign=True)
    model.eval()
    clip = load_file(require_shared(C3D_DIR / "inputs.safetensors"))["clip"]
    expected = load_file(require_shared(C3D_DIR / "outputs.safetensors"))
    captured = {}
    hooks = [
        module.register_forward_hook(lambda _module, _args, output, name=name: captured.__setitem__(name, output))
        for name, module in (("fc6_pre_relu", model.c3d.fc6), ("fc7_pre_relu", model.c3d.fc7))
    ]
    with torch.no_grad():  # one full-size forward; the fixture is (B, C, T, H, W), we take (B, T, C, H, W)
        logits, outputs = model.compute_logits(clip.permute(0, 2, 1, 3, 4))
    for hook in hooks:
        hook.remove()
    measured = {
        "logits": (logits, expected["logits"]),
        "probs": (logits.softmax(-1), expected["probs"]),  # the original's own output
        "pool5": (outputs.last_hidden_state, expected["pool5"]),
        "fc6_pre_relu": (captured["fc6_pre_relu"], expected["fc6_pre_relu"]),
        "fc7_pre_relu": (captured["fc7_pre_relu"], expected["fc7_pre_relu"]),
    }
    for name, (actual, reference) in measured.items():
        assert actual.shape == reference.shape, name
        parity_record[name] = _max_diff(actual, reference)
        assert parity_record[name] <= PARITY_ATOL, name
    assert torch.equal(outputs.pooler_output, captured["fc7_pre_relu"].relu())  # pooler_output = fc7 features
    assert logits.argmax().item() == expected["probs"].argmax().item() == 427  # the README's top class
    assert (
        model.config.id2label[427] == require_shared(DATA_DIR / "labels" / "sports1m.txt").read_text().split("\n")[427]
    )


# ---- key accounting on the official layout --------------------------------------------------------------


def _manifest_state_dict() -> dict[str, torch.Tensor]:
    """The official key list with meta tensors of the official shapes (no memory)."""
    manifest = json.loads(require_shared(C3D_DIR / "c3d.manifest.json").read_text())
    return {
        key: torch.empty(shape, dtype=getattr(torch, dtype), device="meta") for key, shape, dtype in manifest["tensors"]
    }


def test_manifest_converts_completely():
    source = _manifest_state_dict()
    assert len(source) == 22
    config, converted = convert_c3d_state_dict(source)
    assert config.num_labels == 487 and config.conv_channels == [64, 128, 256, 256, 512, 512, 512, 512]
    assert config.fc_size == 4096 and config.fc6_in_features == 8192
    with torch.device("meta"):
        model = C3DForVideoClassification(config)
    model.load_state_dict(converted, strict=True, assign=True)
    # Every source tensor lands in exactly one place, and as itself.
    assert len(converted) == len(source)
    assert sorted(map(id, converted.values())) == sorted(map(id, source.values()))
    assert converted["c3d.conv4b.conv.bias"] is source["conv4b.bias"]
    assert converted["c3d.fc6.weight"] is source["fc6.weight"]
    assert converted["classifier.weight"] is source["fc8.weight"]


def test_unknown_or_missing_key_is_named():
    source = _manifest_state_dict()
    with pytest.raises(ConversionError, match=r"fc9\.weight"):
        convert_c3d_state_dict({**source, "fc9.weight": torch.zeros(1)})
    missing = dict(source)
    del missing["conv3b.bias"]
    with pytest.raises(ConversionError, match=r"conv3b\.bias"):
        convert_c3d_state_dict(missing)
    missing = dict(source)
    del missing["conv5a.weight"]
    with pytest.raises(ConversionError, match=r"conv5a\.weight"):
        convert_c3d_state_dict(missing)
    with pytest.raises(ConversionError, match="2 class names"):
        convert_c3d_state_dict(source, labels=["a", "b"])
    with pytest.raises(ConversionError, match=r"fc6\.weight takes 8192 values.*--num-frames"):
        convert_c3d_state_dict(source, num_frames=32)


def test_data_parallel_prefix_is_accepted():
    source = _manifest_state_dict()
    _, converted = convert_c3d_state_dict({f"module.{k}": v for k, v in source.items()})
    assert converted["classifier.bias"] is source["fc8.bias"]


def test_sports1m_labels_in_logit_order(caplog):
    config, _ = convert_c3d_state_dict(_manifest_state_dict())
    sports1m = require_shared(DATA_DIR / "labels" / "sports1m.txt").read_text().splitlines()
    assert len(sports1m) == 487
    assert [config.id2label[i] for i in range(487)] == sports1m  # the packaged copy matches the reference list
    assert config.label2id["model aircraft"] == 486
    narrow = {
        **_manifest_state_dict(),
        "fc8.weight": torch.empty(10, 4096, device="meta"),
        "fc8.bias": torch.empty(10, device="meta"),
    }
    with caplog.at_level(logging.WARNING):
        config, _ = convert_c3d_state_dict(narrow)
    assert "--labels" in caplog.text and config.id2label[9] == "class_9"


# ---- random-weight round trip through the command line, at an odd clip size -----------------------------


def test_command_line_round_trip_odd_size(tmp_path):
    """Random weights in the official layout and legacy file format, for a C3D built for 40 frames of 80 x 144
    pixels: the command line converts them, and the loaded folder computes what the functional original does."""
    config = C3DConfig(**{**TINY, "num_frames": 40, "image_size": [80, 144]}, num_labels=7)
    params = original_layout_params(config, seed=3)
    checkpoint = tmp_path / "c3d.pickle"
    torch.save(params, checkpoint, _use_new_zipfile_serialization=False)  # the 2017 on-disk format
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"sport {i}\n" for i in range(7)))
    output = tmp_path / "c3d-odd"
    main(["--checkpoint", str(checkpoint), "--output", str(output), "--labels", str(labels),
          "--num-frames", "40", "--image-size", "80", "144"])  # fmt: skip

    saved = json.loads((output / "config.json").read_text())
    assert saved["model_type"] == "hfvm_c3d" and saved["id2label"]["3"] == "sport 3"
    assert "Logits, not probabilities" in (output / "README.md").read_text()
    model = AutoModelForVideoClassification.from_pretrained(output).eval()
    assert type(model) is C3DForVideoClassification
    assert model.config.pool5_size == (2, 3, 5)
    clip = torch.randint(0, 256, (2, 3, 40, 80, 144), generator=torch.Generator().manual_seed(2)).float()
    with torch.no_grad():
        _, expected = functional_c3d(params, clip)
        logits = model(clip.permute(0, 2, 1, 3, 4)).logits
    assert _max_diff(logits, expected) <= PARITY_ATOL
    assert _max_diff(logits.softmax(-1), expected.softmax(-1)) <= PARITY_ATOL
    processor = AutoVideoProcessor.from_pretrained(output)
    assert processor.num_frames == 40
    assert (processor.crop_size["height"], processor.crop_size["width"]) == (80, 144)
    # The port's 112 x 200 resize for a 112 crop, scaled with the crop's long side.
    assert (processor.size["height"], processor.size["width"]) == (round(144 * 112 / 112), round(144 * 200 / 112))


# ---- the processor against predict.py's recipe -----------------------------------------------------------


def skimage_bilinear_resize(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """scikit-image's ``resize(order=1, preserve_range=True)`` without antialiasing, written out: output pixel
    centres mapped to input coordinates ``(i + 0.5) * scale - 0.5``, then bilinear interpolation (float64)."""

    def taps(out_size: int, in_size: int):
        coords = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
        low = np.clip(np.floor(coords).astype(int), 0, in_size - 1)
        high = np.clip(low + 1, 0, in_size - 1)
        return low, high, coords - np.floor(coords)

    rows_low, rows_high, row_weight = taps(height, frame.shape[0])
    cols_low, cols_high, col_weight = taps(width, frame.shape[1])
    frame = frame.astype(np.float64)
    top = frame[rows_low] * (1 - row_weight)[:, None, None] + frame[rows_high] * row_weight[:, None, None]
    return top[:, cols_low] * (1 - col_weight)[None, :, None] + top[:, cols_high] * col_weight[None, :, None]


def predict_py_clip(frames: np.ndarray) -> torch.Tensor:
    """``get_sport_clip`` of the port's predict.py on 16 RGB frames: fixed 112 x 200 resize, columns 44:156,
    (channels, frames, height, width) float32 with a batch axis; here permuted to our (batch, T, C, H, W)."""
    clip = np.array([skimage_bilinear_resize(frame, 112, 200) for frame in frames])
    clip = clip[:, :, 44 : 44 + 112, :]
    clip = np.float32(clip.transpose(3, 0, 1, 2)[None])
    return torch.from_numpy(clip).permute(0, 2, 1, 3, 4)


def test_processor_reproduces_predict_py():
    processor = build_video_processor(convert_c3d_state_dict(_manifest_state_dict())[0])
    assert processor.to_dict() == C3DVideoProcessor().to_dict()  # the class's recipe, unchanged
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, size=(16, 240, 320, 3), dtype=np.uint8)  # UCF101's frame size
    pixel_values = processor(video, return_tensors="pt")["pixel_values"]
    expected = predict_py_clip(video)
    assert pixel_values.shape == expected.shape == (1, 16, 3, 112, 112)
    assert pixel_values.max() > 200  # raw 0-255, no scaling
    # PyTorch computes the interpolation in float32, scikit-image in float64: a few thousandths of a grey level.
    assert _max_diff(pixel_values, expected) < 1e-2
    # Float frames in [0, 1] give the same raw values; channel order is RGB (no swap).
    from_float = processor(video.astype(np.float32) / 255, return_tensors="pt")["pixel_values"]
    assert _max_diff(from_float, expected) < 1e-2
    red_only = np.zeros_like(video)
    red_only[..., 0] = 255
    red_channel = processor(red_only, return_tensors="pt")["pixel_values"][0, :, 0]
    torch.testing.assert_close(red_channel, torch.full_like(red_channel, 255.0))  # first channel is red: no swap


def test_processor_takes_the_centre_16_frames():
    processor = C3DVideoProcessor()
    video = np.broadcast_to(np.arange(40, dtype=np.uint8)[:, None, None, None], (40, 120, 160, 3))
    pixel_values = processor(np.ascontiguousarray(video), return_tensors="pt")["pixel_values"]
    # (bilinear resizing of a constant frame is exact up to float32 rounding)
    torch.testing.assert_close(pixel_values[0, :, 0, 0, 0], torch.arange(12, 28, dtype=torch.float32))
