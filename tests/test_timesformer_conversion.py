"""facebookresearch/TimeSformer -> hf_videomodels: parity with the original on the three reference fixtures,
every released checkpoint's tensor manifest, the converter's errors and the command line."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForVideoClassification, AutoVideoProcessor

from conversion.common import ConversionError
from conversion.convert_timesformer_original import (
    DATASETS,
    PARITY_BOUND,
    PRETRAINED_VARIANTS,
    convert_timesformer_checkpoint,
    extract_state_dict,
    main,
    video_processor_kwargs,
)
from conversion.common import read_labels
from hf_videomodels.models.timesformer import TimeSformerForVideoClassification

from .conftest import REFERENCE_DIR, require_shared

FIXTURE_DIR = REFERENCE_DIR / "timesformer"
FIXTURES = ["tiny_divided_space_time", "tiny_space_only", "tiny_joint_space_time"]
TOLERANCE = PARITY_BOUND  # what the converter's card states; the project's bar is 1e-4 (fp32)


def load_fixture(name: str):
    folder = require_shared(FIXTURE_DIR / name)
    checkpoint = torch.load(folder / "checkpoint.pyth", map_location="cpu", weights_only=True)
    return checkpoint, load_file(folder / "inputs.safetensors"), load_file(folder / "outputs.safetensors")


def to_ours(pixel_values: torch.Tensor) -> torch.Tensor:
    """Fixture layout (B, C, T, H, W) -> ours (B, T, C, H, W)."""
    return pixel_values.permute(0, 2, 1, 3, 4)


def converted_model(checkpoint) -> TimeSformerForVideoClassification:
    config, state_dict = convert_timesformer_checkpoint(checkpoint, num_attention_heads=3)
    model = TimeSformerForVideoClassification(config).eval()
    model.load_state_dict(state_dict, strict=True)
    return model


@pytest.mark.parametrize("name", FIXTURES)
def test_matches_the_original(name):
    checkpoint, inputs, expected = load_fixture(name)
    model = converted_model(checkpoint)
    attention_type = name.removeprefix("tiny_")
    assert model.config.attention_type == attention_type
    assert (model.config.num_frames, model.config.image_size, model.config.num_labels) == (4, 64, 10)
    with torch.no_grad():
        outputs = model(to_ours(inputs["pixel_values"]), output_hidden_states=True)
        base = model.timesformer(to_ours(inputs["pixel_values"]))
        actual = {
            "logits": outputs.logits,
            "features": base.pooler_output,
            # hidden states share the original's token layout: cls, then patch n of frame t at 1 + n*T + t
            # (space_only: one sequence per frame, row b*T + t)
            "embeddings": outputs.hidden_states[0],
            "block_0": outputs.hidden_states[1],
            "block_1": outputs.hidden_states[2],
            "logits_t8": model(to_ours(inputs["pixel_values_t8"])).logits,  # time table resized 4 -> 8
            "logits_96px": model(to_ours(inputs["pixel_values_96px"])).logits,  # position table 4x4 -> 6x6
        }
    diffs = {key: (actual[key] - expected[key]).abs().max().item() for key in expected}
    print(name, {key: f"{diff:.2e}" for key, diff in diffs.items()})  # recorded with pytest -s
    assert set(diffs) == set(actual)
    for key, diff in diffs.items():
        assert actual[key].shape == expected[key].shape, key
        assert diff <= TOLERANCE, f"{name} {key}: max abs diff {diff}"


def test_fixture_conversion_uses_the_container_as_documented():
    checkpoint, _, _ = load_fixture("tiny_divided_space_time")
    assert set(checkpoint) == {"epoch", "model_state", "optimizer_state", "cfg"}
    state, cfg = extract_state_dict(checkpoint)
    assert not any(key.startswith("model.") for key in state)
    assert cfg["TIMESFORMER"]["ATTENTION_TYPE"] == "divided_space_time"
    # The same weights under the fallback container keys, or bare, convert identically.
    _, reference = convert_timesformer_checkpoint(checkpoint, num_attention_heads=3)
    for container in (
        {"model": checkpoint["model_state"]},
        {"module": checkpoint["model_state"], "epoch": 3},
        dict(checkpoint["model_state"]),
        {f"module.{key}": value for key, value in checkpoint["model_state"].items()},
    ):
        _, state_dict = convert_timesformer_checkpoint(container, num_attention_heads=3)
        assert state_dict.keys() == reference.keys()
        assert all(state_dict[key] is reference[key] for key in reference)


def _manifest(file_name: str) -> dict:
    path = require_shared(FIXTURE_DIR / file_name.replace(".pyth", ".manifest.json"))
    return json.loads(path.read_text())


@pytest.mark.parametrize("file_name", sorted(PRETRAINED_VARIANTS))
def test_every_released_checkpoint_converts(file_name):
    """Shape-only tensors from the manifest: all consumed, and a full-size model accepts them (meta device)."""
    manifest = _manifest(file_name)
    assert manifest["variant"] == file_name
    state = {key: torch.empty(shape, device="meta") for key, shape, _ in manifest["tensors"]}
    assert len(state) == manifest["num_tensors"] == 249
    checkpoint = {"epoch": 0, "model_state": state, "optimizer_state": {}}
    config, converted = convert_timesformer_checkpoint(checkpoint, variant=file_name)

    hyper = manifest["hyperparameters"]
    assert config.num_frames == hyper["num_frames"] == PRETRAINED_VARIANTS[file_name].num_frames
    assert config.image_size == hyper["img_size"] == PRETRAINED_VARIANTS[file_name].image_size
    assert config.num_labels == hyper["num_classes"] == DATASETS[PRETRAINED_VARIANTS[file_name].dataset].num_labels
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (768, 12, 12)
    assert config.patch_size == hyper["patch_size"] and config.attention_type == hyper["attention_type"]
    assert config.intermediate_size == hyper["mlp_ratio"] * hyper["embed_dim"]
    assert config.qkv_bias is hyper["qkv_bias"] and config.layer_norm_eps == hyper["layer_norm_eps"]
    assert len(converted) == len(state)
    assert sum(t.numel() for t in converted.values()) == manifest["num_parameters"]
    with torch.device("meta"):
        model = TimeSformerForVideoClassification(config)
    model.load_state_dict(converted, strict=True, assign=True)
    if DATASETS[PRETRAINED_VARIANTS[file_name].dataset].labels_file:
        assert config.id2label[0] == "abseiling" and len(config.id2label) == config.num_labels


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("TimeSformer_divST_8x32_224_K400.pyth", {"sampling": "clip", "frame_sample_rate": 32, "channel_order": "rgb"}),
        ("TimeSformer_divST_96x4_224_K600.pyth", {"num_frames": 96, "frame_sample_rate": 4, "channel_order": "rgb"}),
        (
            "TimeSformer_divST_16x16_448_K400.pyth",
            {"frame_sample_rate": 16, "crop_size": {"height": 448, "width": 448}},
        ),
        ("TimeSformer_divST_8_224_SSv2.pyth", {"sampling": "segments", "channel_order": "bgr", "num_frames": 8}),
        ("TimeSformer_divST_64_224_SSv2.pyth", {"sampling": "segments", "channel_order": "bgr", "num_frames": 64}),
        ("TimeSformer_divST_16_448_SSv2.pyth", {"size": {"shortest_edge": 448}, "channel_order": "bgr"}),
    ],
)
def test_video_processor_settings_per_variant(file_name, expected):
    manifest = _manifest(file_name)
    state = {key: torch.empty(shape, device="meta") for key, shape, _ in manifest["tensors"]}
    config, _ = convert_timesformer_checkpoint({"model_state": state}, variant=file_name, labels=None)
    kwargs = video_processor_kwargs(config, PRETRAINED_VARIANTS[file_name], None)
    assert {key: kwargs[key] for key in expected} == expected
    assert kwargs["image_mean"] == [0.45] * 3 and kwargs["image_std"] == [0.225] * 3
    assert kwargs["rescale_factor"] == 1 / 255 and (kwargs["num_clips"], kwargs["num_crops"]) == (1, 3)
    assert kwargs["size"]["shortest_edge"] == kwargs["crop_size"]["height"] == config.image_size


def _tiny_state():
    checkpoint, _, _ = load_fixture("tiny_divided_space_time")
    return dict(checkpoint["model_state"])


def test_unknown_key_raises_naming_it():
    state = _tiny_state()
    state["model.blocks.0.attn.extra.weight"] = torch.zeros(3)
    with pytest.raises(ConversionError, match=r"blocks\.0\.attn\.extra\.weight"):
        convert_timesformer_checkpoint({"model_state": state}, num_attention_heads=3)


@pytest.mark.parametrize("key", ["blocks.1.temporal_attn.proj.bias", "norm.weight", "blocks.0.mlp.fc2.weight"])
def test_missing_key_raises_naming_it(key):
    state = _tiny_state()
    del state[f"model.{key}"]
    with pytest.raises(ConversionError, match=key.replace(".", r"\.")):
        convert_timesformer_checkpoint({"model_state": state}, num_attention_heads=3)


def test_wrong_shape_raises_naming_the_key():
    state = _tiny_state()
    state["model.blocks.1.temporal_fc.weight"] = torch.zeros(96, 95)
    with pytest.raises(ConversionError, match=r"layers\.1\.attentions\.time\.fc\.weight: \(96, 95\)"):
        convert_timesformer_checkpoint({"model_state": state}, num_attention_heads=3)


def test_metadata_mismatches_raise():
    checkpoint, _, _ = load_fixture("tiny_divided_space_time")
    with pytest.raises(ConversionError, match="attention heads"):
        convert_timesformer_checkpoint(checkpoint)  # 96 wide: heads cannot be inferred
    with pytest.raises(ConversionError, match="frames"):  # file name says 8 frames, tensors 4
        convert_timesformer_checkpoint(checkpoint, num_attention_heads=3, variant="TimeSformer_divST_8x32_224_K400")
    with pytest.raises(ConversionError, match="unknown TimeSformer variant"):
        convert_timesformer_checkpoint(checkpoint, num_attention_heads=3, variant="TimeSformer_divST_4x4_64_K9.pyth")
    with pytest.raises(ConversionError, match="class names"):
        convert_timesformer_checkpoint(checkpoint, num_attention_heads=3, labels=["a", "b"])
    other_type = checkpoint["cfg"].replace("ATTENTION_TYPE: divided_space_time", "ATTENTION_TYPE: space_only")
    wrong_cfg = dict(checkpoint, cfg=other_type)
    with pytest.raises(ConversionError, match="attention type"):
        convert_timesformer_checkpoint(wrong_cfg, num_attention_heads=3)
    with pytest.raises(ConversionError, match="model_state"):
        convert_timesformer_checkpoint({"epoch": 1, "state_dict": {}}, num_attention_heads=3)


def test_read_labels_formats(tmp_path):
    ssv2_style = {"Pushing something": "1", "Holding something": "0", "Tearing": "2"}  # name -> index (a string)
    (tmp_path / "ssv2.json").write_text(json.dumps(ssv2_style))
    assert read_labels(str(tmp_path / "ssv2.json")) == ["Holding something", "Pushing something", "Tearing"]
    (tmp_path / "list.json").write_text(json.dumps(["a", "b"]))
    assert read_labels(str(tmp_path / "list.json")) == ["a", "b"]
    (tmp_path / "names.txt").write_text("first class\n\nsecond class\n")
    assert read_labels(str(tmp_path / "names.txt")) == ["first class", "second class"]
    (tmp_path / "gap.json").write_text(json.dumps({"a": 0, "b": 2}))
    with pytest.raises(ConversionError, match="indices"):
        read_labels(str(tmp_path / "gap.json"))


def test_command_line_writes_a_loadable_folder(tmp_path):
    folder = require_shared(FIXTURE_DIR / "tiny_divided_space_time")
    _, inputs, expected = load_fixture("tiny_divided_space_time")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"action {i}" for i in range(10)))
    output = tmp_path / "converted"
    main(["--checkpoint", str(folder / "checkpoint.pyth"), "--output", str(output), "--num-heads", "3",
          "--labels", str(labels)])  # fmt: skip
    assert (output / "model.safetensors").is_file() and (output / "README.md").is_file()
    model = AutoModelForVideoClassification.from_pretrained(output).eval()
    assert type(model) is TimeSformerForVideoClassification
    assert model.config.id2label[3] == "action 3"
    with torch.no_grad():
        logits = model(to_ours(inputs["pixel_values"])).logits
    assert (logits - expected["logits"]).abs().max() <= TOLERANCE
    processor = AutoVideoProcessor.from_pretrained(output)
    assert (processor.num_frames, processor.frame_sample_rate, processor.num_crops) == (4, 32, 3)
    assert processor.crop_size["height"] == 64 and list(processor.image_mean) == [0.45] * 3
    assert processor.channel_order == "rgb"
