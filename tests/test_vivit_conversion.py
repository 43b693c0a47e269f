"""ViViT conversion: Scenic's Flax checkpoints (read without JAX) against Scenic's own outputs (models 1 and 2
from ../shared, models 3 and 4 from tests/fixtures/vivit), every released manifest, and transformers' ViViT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conversion.common import ConversionError, meta_state_dict_from_manifest
from conversion.convert_vivit_scenic import (
    VARIANTS,
    convert_scenic_vivit,
    load_scenic_params,
    read_flax_checkpoint,
    variant_settings,
)
from hf_videomodels.models.vivit import ViViTForVideoClassification

from .conftest import REFERENCE_DIR, require_shared
from .test_vit_frames_conversion import transformers4_names

TOLERANCE = 1e-4
PARITY = REFERENCE_DIR / "vivit" / "parity"
LOCAL_FIXTURES = Path(__file__).parent / "fixtures" / "vivit"


def _max_diff(a, b) -> float:
    return (a - b).abs().max().item()


def converted_fixture(name: str, **settings):
    folder = require_shared(PARITY / name)
    params = load_scenic_params(folder / "checkpoint")
    config, state_dict = convert_scenic_vivit(params, image_size=64, **settings)
    model = ViViTForVideoClassification(config).eval()
    model.load_state_dict(state_dict, strict=True)
    pixel_values = load_file(folder / "inputs.safetensors")["pixel_values_nthwc"].permute(0, 1, 4, 2, 3)
    return model, pixel_values, load_file(folder / "outputs.safetensors")


def test_msgpack_reader_matches_the_npz_tree():
    folder = require_shared(PARITY / "vivit_spacetime_small")
    checkpoint = read_flax_checkpoint(folder / "checkpoint")
    assert set(checkpoint) == {"optimizer"} and "target" in checkpoint["optimizer"]
    params = load_scenic_params(folder / "checkpoint")
    reference = np.load(folder / "params.npz")
    assert set(params) == set(reference.files)
    for key in reference.files:
        assert np.array_equal(params[key].numpy(), reference[key]), key


def test_model_1_spacetime_matches_scenic():
    model, pixel_values, expected = converted_fixture("vivit_spacetime_small")
    assert model.config.model_variant == "spatio_temporal" and model.config.num_frames == 8
    with torch.no_grad():
        outputs = model(pixel_values, output_hidden_states=True)
        base = model.vivit(pixel_values)
        embedding, _ = model.vivit.embeddings(pixel_values)
    diffs = {
        "logits": _max_diff(outputs.logits, expected["logits"]),
        "embedding": _max_diff(embedding, expected["intermediates/embedding"].flatten(1, 3)),
        "posembed_input": _max_diff(outputs.hidden_states[0], expected["intermediates/Transformer/posembed_input"]),
        "encoder_norm": _max_diff(base.last_hidden_state, expected["intermediates/Transformer/encoder_norm"]),
        "pre_logits": _max_diff(base.pooler_output, expected["intermediates/pre_logits"]),
    }
    for i in range(2):
        diffs[f"block {i}"] = _max_diff(
            outputs.hidden_states[i + 1], expected[f"intermediates/Transformer/encoderblock_{i}"]
        )
    print({key: f"{value:.1e}" for key, value in diffs.items()})
    assert max(diffs.values()) <= TOLERANCE, diffs


def test_model_2_factorised_encoder_matches_scenic():
    model, pixel_values, expected = converted_fixture("vivit_factorised_encoder_small")
    config = model.config
    assert config.model_variant == "factorised_encoder" and config.temporal_intermediate_size == 96
    with torch.no_grad():
        outputs = model(pixel_values, output_hidden_states=True)
        base = model.vivit(pixel_values)
    temporal = outputs.hidden_states[config.num_hidden_layers + 1 :]
    diffs = {
        "logits": _max_diff(outputs.logits, expected["logits"]),
        "temporal posembed_input": _max_diff(temporal[0], expected["intermediates/TemporalTransformer/posembed_input"]),
        "encoder_norm": _max_diff(base.last_hidden_state, expected["intermediates/TemporalTransformer/encoder_norm"]),
        "pre_logits": _max_diff(base.pooler_output, expected["intermediates/pre_logits"]),
    }
    for i in range(2):
        key = f"intermediates/TemporalTransformer/encoderblock_{i}"
        diffs[f"temporal block {i}"] = _max_diff(temporal[i + 1], expected[key])
    print({key: f"{value:.1e}" for key, value in diffs.items()})
    assert max(diffs.values()) <= TOLERANCE, diffs


def _local_fixture(name: str):
    folder = LOCAL_FIXTURES
    if not (folder / f"{name}.checkpoint").exists():
        pytest.fail(f"missing fixture {folder / name}.checkpoint (committed with the tests)")
    return folder


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("factorised_self_attention_time_space", {"attention_order": "time_space"}),
        ("factorised_self_attention_space_time", {"attention_order": "space_time"}),
        ("factorised_dot_product_attention", {"model_variant": "factorised_dot_product_attention"}),
        ("uniform_frames_spacetime", {}),  # model 1 on uniformly sampled frames (Scenic's temporal_sampling)
    ],
)
def test_models_3_and_4_and_uniform_frames_match_scenic(name, settings):
    """Fixtures made by running Scenic's own model code (see tests/fixtures/vivit/README.md); their checkpoints
    use current Scenic's ``{"params": ...}`` root."""
    folder = _local_fixture(name)
    summary = json.loads((folder / "fixtures.json").read_text())
    height, width = summary["input_shape_NTHWC"][2:4]
    checkpoint = read_flax_checkpoint(folder / f"{name}.checkpoint")
    assert set(checkpoint) == {"params"}
    params = load_scenic_params(folder / f"{name}.checkpoint")
    # A non-square input: the grid of models 3/4 is read from the table given one side of a square image, so
    # build the config for the fixture's clip explicitly.
    config, state_dict = convert_scenic_vivit(params, image_size=[height, width], **settings)
    if name.startswith("uniform_frames"):  # a 2-D kernel: 3 of the clip's 8 frames, each cut into patches
        assert (config.tokenizer, config.num_sampled_frames, config.pooling) == ("uniform_frames", 3, "token")
    model = ViViTForVideoClassification(config).eval()
    model.load_state_dict(state_dict, strict=True)
    frames = load_file(folder / "inputs.safetensors")["frames_uint8_nthwc"]
    pixel_values = (frames.float() * (2 / 255) - 1).permute(0, 1, 4, 2, 3)  # Scenic's zero-centring, exact here
    expected = load_file(folder / f"{name}.outputs.safetensors")["logits"]
    with torch.no_grad():
        logits = model(pixel_values).logits
        eager_maps = model(pixel_values, output_attentions=True).logits
    diff = _max_diff(logits, expected)
    print(name, f"{diff:.1e}")
    assert expected.std() > 1 and diff <= TOLERANCE
    assert _max_diff(eager_maps, expected) <= TOLERANCE


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_manifest_converts(name):
    manifest = require_shared(REFERENCE_DIR / "vivit" / "manifests" / f"{name}.manifest.json")
    params = meta_state_dict_from_manifest(manifest)
    config, state_dict = convert_scenic_vivit(params, **variant_settings(VARIANTS[name]))
    info = json.loads(manifest.read_text())
    assert len(state_dict) > 0 and config.num_labels == info["num_classes"]
    assert sum(t.numel() for t in params.values()) == info["num_parameters"]
    frames, height = info["input_shape_NTHWC"][1:3]
    assert (config.num_frames, config.image_size) == (frames, height)
    expected_variant = "spatio_temporal" if "unfactorized" in name else "factorised_encoder"
    assert config.model_variant == expected_variant
    if "epic" in name:
        assert config.class_splits == [300, 97]


def test_epic_kitchens_card_and_config_say_how_the_heads_split():
    from conversion.convert_vivit_scenic import published_model_cards

    card = published_model_cards(require_shared(REFERENCE_DIR))["vivit_large_16x2_fe_epic_kitchens.md"]
    assert "`logits[..., 0:300]` = noun (300)" in card and "`logits[..., 300:397]` = verb (97)" in card
    params = meta_state_dict_from_manifest(
        REFERENCE_DIR / "vivit/manifests/vivit_large_16x2_fe_epic_kitchens.manifest.json"
    )
    config, _ = convert_scenic_vivit(params, **variant_settings(VARIANTS["vivit_large_16x2_fe_epic_kitchens"]))
    with torch.device("meta"):
        model = ViViTForVideoClassification(config)
    nouns, verbs = model.split_logits(torch.zeros(2, 397))
    assert nouns.shape == (2, 300) and verbs.shape == (2, 97)


def test_unknown_and_missing_tensors_are_named():
    params = load_scenic_params(require_shared(PARITY / "vivit_spacetime_small") / "checkpoint")
    extra = {**params, "Transformer/encoderblock_0/extra/kernel": torch.zeros(2)}
    with pytest.raises(ConversionError, match="extra/kernel"):
        convert_scenic_vivit(extra, image_size=64)
    missing = {k: v for k, v in params.items() if k != "Transformer/encoderblock_1/MlpBlock_0/Dense_1/bias"}
    with pytest.raises(ConversionError, match="Dense_1/bias"):
        convert_scenic_vivit(missing, image_size=64)
    with pytest.raises(ConversionError, match="--image-size"):
        convert_scenic_vivit(params, image_size=48)
    with pytest.raises(ConversionError, match="not a Flax msgpack|optimizer"):
        read_flax_checkpoint(REFERENCE_DIR / "vivit" / "parity" / "fixtures.json")


# ---- transformers' ViViT (model 1) --------------------------------------------------------------------------


def transformers_vivit_pair(num_frames: int = 4):
    from transformers import VivitConfig, VivitForVideoClassification

    from conversion.convert_vivit_transformers import convert_transformers_vivit

    torch.manual_seed(0)
    config = VivitConfig(image_size=32, num_frames=num_frames, tubelet_size=[2, 8, 8], hidden_size=48,
                         num_hidden_layers=2, num_attention_heads=3, intermediate_size=96, num_labels=7)  # fmt: skip
    theirs = VivitForVideoClassification(config).eval()
    with torch.no_grad():
        for parameter in theirs.parameters():
            parameter.normal_(0, 0.3 if parameter.ndim == 3 else 1 / parameter.shape[-1] ** 0.5)
            if parameter.ndim == 1 and parameter.shape[0] == 48:
                parameter.add_(1.0)
    ours_config, state_dict = convert_transformers_vivit(theirs.state_dict(), theirs.config)
    ours = ViViTForVideoClassification(ours_config).eval()
    ours.load_state_dict(state_dict, strict=True)
    return theirs, ours


@pytest.mark.parametrize("num_frames", [4, 6])
def test_transformers_vivit_matches(num_frames):
    theirs, ours = transformers_vivit_pair(num_frames)
    clip = torch.randn(2, num_frames, 3, 32, 32, generator=torch.Generator().manual_seed(num_frames))
    with torch.no_grad():
        expected = theirs(clip, output_hidden_states=True)
        actual = ours(clip, output_hidden_states=True)
    diffs = [_max_diff(actual.logits, expected.logits)]
    diffs += [_max_diff(a, e) for a, e in zip(actual.hidden_states, expected.hidden_states, strict=True)]
    print(num_frames, f"{max(diffs):.1e}")
    assert expected.logits.abs().max() > 0.1 and max(diffs) <= TOLERANCE


def test_transformers_hub_layout_and_cli(tmp_path):
    from transformers import AutoVideoProcessor

    from conversion.convert_vivit_transformers import convert_transformers_vivit, main

    theirs, ours = transformers_vivit_pair()
    hub_state = transformers4_names(theirs.state_dict(), "vivit")
    assert "vivit.encoder.layer.1.output.dense.bias" in hub_state
    _, converted = convert_transformers_vivit(hub_state, theirs.config)
    assert all(torch.equal(converted[key], value) for key, value in ours.state_dict().items())
    theirs.save_pretrained(tmp_path / "theirs")
    output = main(["--checkpoint", str(tmp_path / "theirs"), "--output", str(tmp_path / "ours")])
    reloaded = ViViTForVideoClassification.from_pretrained(output).eval()
    clip = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        assert _max_diff(reloaded(clip).logits, theirs(clip).logits) <= TOLERANCE
    processor = AutoVideoProcessor.from_pretrained(output)
    assert (processor.num_frames, processor.crop_size["height"], processor.num_clips, processor.num_crops) == (
        4,
        32,
        4,
        3,
    )


def test_msgpack_reader_handles_chunks_scalars_and_bfloat16(tmp_path):
    """The container's other encodings (flax.serialization): arrays over 1 GiB split into chunks, numpy
    scalars (extension 3) and bfloat16 arrays, built here by hand with msgpack."""
    import msgpack

    def packed(array: np.ndarray, dtype_name: str | None = None) -> msgpack.ExtType:
        payload = msgpack.packb((array.shape, dtype_name or array.dtype.name, array.tobytes()), use_bin_type=True)
        return msgpack.ExtType(1, payload)

    full = np.arange(12, dtype=np.float32).reshape(3, 4)
    chunks = {"0": packed(full.reshape(-1)[:7]), "1": packed(full.reshape(-1)[7:])}
    bf16_bits = (np.array([1.5, -2.0], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    scalar = np.array(7, dtype=np.int32)
    tree = {
        "params": {
            "big": {"__msgpack_chunked_array__": True, "shape": {"0": 3, "1": 4}, "chunks": chunks},
            "half": packed(bf16_bits, "bfloat16"),
        },
        "step": msgpack.ExtType(3, msgpack.packb(((), "int32", scalar.tobytes()), use_bin_type=True)),
    }
    (tmp_path / "checkpoint").write_bytes(msgpack.packb(tree, use_bin_type=True))
    restored = read_flax_checkpoint(tmp_path / "checkpoint")
    assert np.array_equal(restored["params"]["big"], full)
    assert restored["params"]["half"].tolist() == [1.5, -2.0] and restored["step"] == 7
    assert set(load_scenic_params(tmp_path / "checkpoint")) == {"big", "half"}


def test_cli_converts_a_scenic_checkpoint(tmp_path):
    from transformers import AutoModelForVideoClassification, AutoVideoProcessor

    from conversion.common import packaged_labels
    from conversion.convert_vivit_scenic import main

    folder = require_shared(PARITY / "vivit_spacetime_small")
    output = main(["--checkpoint", str(folder / "checkpoint"), "--output", str(tmp_path / "ours"), "--image-size", "64",
                   "--variant", "vivit_base_16x2_unfactorized_k400"])  # fmt: skip
    model = AutoModelForVideoClassification.from_pretrained(output).eval()
    pixel_values = load_file(folder / "inputs.safetensors")["pixel_values_nthwc"].permute(0, 1, 4, 2, 3)
    with torch.no_grad():
        assert _max_diff(model(pixel_values).logits, load_file(folder / "outputs.safetensors")["logits"]) <= TOLERANCE
    assert model.config.id2label[0] == packaged_labels("kinetics400")[0]
    processor = AutoVideoProcessor.from_pretrained(output)
    assert (processor.num_clips, processor.num_crops, processor.frame_sample_rate) == (4, 3, 2)
    assert list(processor.image_mean) == [0.5] * 3 and processor.size["shortest_edge"] == 256
    card = (output / "README.md").read_text()
    assert "configs/kinetics400/vivit_base_k400.py" in card
