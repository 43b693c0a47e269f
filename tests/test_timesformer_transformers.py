"""Parity with transformers' own TimeSformer port (random weights), for each attention type it supports."""

from __future__ import annotations

import logging
import re

import pytest
import torch
from transformers import TimesformerConfig, TimesformerForVideoClassification

from conversion.common import ConversionError
from conversion.convert_timesformer_transformers import convert_config, convert_transformers_timesformer
from hf_videomodels.models.timesformer import TimeSformerForVideoClassification

TOLERANCE = 1e-4
TINY = {
    "image_size": 32,
    "patch_size": 8,
    "num_frames": 4,
    "hidden_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 96,
    "num_labels": 7,
}


def transformers_pair(attention_type: str, **overrides):
    torch.manual_seed(0)
    theirs = TimesformerForVideoClassification(TimesformerConfig(**TINY, attention_type=attention_type, **overrides))
    with torch.no_grad():  # every tensor random and non-trivial (time table, temporal dense included)
        for parameter in theirs.parameters():
            parameter.normal_(0, 0.3 if parameter.ndim == 3 else 1 / parameter.shape[-1] ** 0.5)
            if parameter.ndim == 1:
                parameter.add_(1.0 if parameter.shape[0] == TINY["hidden_size"] else 0.0)
    theirs.eval()
    config, state_dict = convert_transformers_timesformer(theirs.state_dict(), theirs.config)
    ours = TimeSformerForVideoClassification(config).eval()
    ours.load_state_dict(state_dict, strict=True)
    return theirs, ours


def _max_diff(a, b) -> float:
    return (a - b).abs().max().item()


@pytest.mark.parametrize("attention_type", ["divided_space_time", "joint_space_time"])
def test_same_logits_and_hidden_states(attention_type):
    theirs, ours = transformers_pair(attention_type)
    pixel_values = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(pixel_values, output_hidden_states=True)
        actual = ours(pixel_values, output_hidden_states=True)
        expected_last = theirs.timesformer(pixel_values).last_hidden_state
        actual_last = ours.timesformer(pixel_values).last_hidden_state
    diffs = {
        "logits": _max_diff(actual.logits, expected.logits),
        "last_hidden_state": _max_diff(actual_last, expected_last),
    }
    assert len(actual.hidden_states) == len(expected.hidden_states) == 3
    for i, (a, e) in enumerate(zip(actual.hidden_states, expected.hidden_states)):
        diffs[f"hidden_states[{i}]"] = _max_diff(a, e)
    print(attention_type, {key: f"{value:.2e}" for key, value in diffs.items()})
    assert expected.logits.abs().max() > 0.1  # not a degenerate comparison
    assert max(diffs.values()) <= TOLERANCE, diffs


def test_space_only_hidden_states_and_the_originals_frame_average():
    """transformers' space_only classifies every frame's cls token (logits per frame); the original, and we,
    average the frames before the final LayerNorm. Blocks agree; the head is checked against the original's
    definition applied to transformers' own modules."""
    theirs, ours = transformers_pair("space_only")
    pixel_values = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(pixel_values, output_hidden_states=True)
        actual = ours(pixel_values, output_hidden_states=True)
        frame_average = expected.hidden_states[-1].unflatten(0, (2, 4)).mean(1)
        original_logits = theirs.classifier(theirs.timesformer.layernorm(frame_average)[:, 0])
    assert expected.logits.shape == (2 * 4, 7)  # transformers: one prediction per frame
    for a, e in zip(actual.hidden_states, expected.hidden_states, strict=True):
        assert _max_diff(a, e) <= TOLERANCE
    assert _max_diff(actual.logits, original_logits) <= TOLERANCE


def test_attention_maps_match_transformers_spatial_maps():
    theirs, ours = transformers_pair("divided_space_time")
    pixel_values = torch.randn(1, 4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = theirs(pixel_values, output_attentions=True).attentions  # spatial maps only
        actual = ours(pixel_values, output_attentions=True).attentions  # time, space per block
    assert len(actual) == 2 * len(expected)
    for block, spatial in enumerate(expected):
        assert _max_diff(actual[2 * block + 1], spatial) <= TOLERANCE


def test_config_conversion():
    settings = {key: value for key, value in TINY.items() if key != "num_labels"}
    theirs = TimesformerConfig(**settings, qkv_bias=False, hidden_dropout_prob=0.1, id2label={0: "a", 1: "b"})
    config = convert_config(theirs)
    shared = ("image_size", "patch_size", "num_frames", "hidden_size", "num_hidden_layers", "num_attention_heads",
              "intermediate_size", "qkv_bias", "layer_norm_eps", "hidden_dropout_prob")  # fmt: skip
    for name in shared:
        assert getattr(config, name) == getattr(theirs, name), name
    assert config.id2label == {0: "a", 1: "b"} and config.model_type == "hfvm_timesformer"
    assert convert_config(theirs.to_dict()).to_dict() == config.to_dict()


def test_no_qkv_bias_and_strictness():
    theirs, ours = transformers_pair("divided_space_time", qkv_bias=False)
    assert ours.timesformer.layers[0].attentions["time"].attention.qkv.bias is None
    pixel_values = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        assert _max_diff(ours(pixel_values).logits, theirs(pixel_values).logits) <= TOLERANCE
    state_dict = dict(theirs.state_dict())
    state_dict["timesformer.encoder.layer.0.attention.attention.qkv.bias"] = torch.zeros(3 * 48)
    with pytest.raises(ConversionError, match=r"layer\.0\.attention\.attention\.qkv\.bias"):
        convert_transformers_timesformer(state_dict, theirs.config)
    del state_dict["timesformer.encoder.layer.0.attention.attention.qkv.bias"]
    del state_dict["timesformer.encoder.layer.1.temporal_dense.bias"]
    with pytest.raises(ConversionError, match=r"layer\.1\.temporal_dense\.bias"):
        convert_transformers_timesformer(state_dict, theirs.config)


def test_cli_converts_a_transformers_folder(tmp_path):
    """--checkpoint takes a folder written by transformers (a Hub id works the same way through the cache)."""
    from transformers import AutoVideoProcessor, VideoMAEImageProcessor

    from conversion.convert_timesformer_transformers import main

    theirs, ours = transformers_pair("divided_space_time")
    source = tmp_path / "theirs"
    theirs.save_pretrained(source)
    VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(source)
    output = main(["--checkpoint", str(source), "--output", str(tmp_path / "ours")])
    converted = TimeSformerForVideoClassification.from_pretrained(output).eval()
    pixel_values = torch.randn(1, TINY["num_frames"], 3, 32, 32)
    with torch.no_grad():
        assert (converted(pixel_values).logits - theirs(pixel_values.float()).logits).abs().max() < TOLERANCE
    processor = AutoVideoProcessor.from_pretrained(output)
    assert list(processor.image_mean) == [0.5, 0.5, 0.5] and processor.crop_size["height"] == 32  # the folder's own
    assert processor.num_frames == TINY["num_frames"]
    card = (output / "README.md").read_text()
    assert "transformers" in card
    assert "base_model:" not in card  # a local folder is no Hub id
    assert "| resize | short side 32 |" in card and "(x / 255 - 0.5) / 0.5" in card and "SizeDict" not in card
    # The parity statement is the one measured during this conversion.
    measured = re.search(r"the logits differ from the source model's by at most (\S+) \(max abs, fp32\)", card)
    assert measured and float(measured.group(1)) <= TOLERANCE


def test_cli_converts_a_plain_save_pretrained_folder(tmp_path, caplog):
    """No image or video processor in the folder: the original recipe is assumed, and the warning says which
    frames, sampling, sizes and mean/std were assumed."""
    from transformers import AutoVideoProcessor

    from conversion.convert_timesformer_transformers import main

    theirs, _ = transformers_pair("divided_space_time")
    source = tmp_path / "theirs"
    theirs.save_pretrained(source)
    with caplog.at_level(logging.WARNING):
        output = main(["--checkpoint", str(source), "--output", str(tmp_path / "ours")])
    warning = caplog.text
    assert "has no image or video processor" in warning and "no published checkpoint has 4 frames at 32 px" in warning
    for assumed in ("4 frames, one every 32", "short side 32", "3 crops of 32 × 32", "(x / 255 - 0.45) / 0.225"):
        assert assumed in warning, assumed
    processor = AutoVideoProcessor.from_pretrained(output)
    assert (processor.num_frames, processor.frame_sample_rate, processor.size["shortest_edge"]) == (4, 32, 32)
    assert list(processor.image_mean) == [0.45] * 3 and list(processor.image_std) == [0.225] * 3


def test_missing_processor_of_a_published_port_assumes_that_checkpoints_recipe(caplog):
    from conversion.convert_timesformer_transformers import transformers_processor_kwargs

    ssv2 = convert_config(TimesformerConfig(num_labels=174, num_frames=8, image_size=224))
    with caplog.at_level(logging.WARNING):
        kwargs = transformers_processor_kwargs(ssv2, None, "my-ssv2-folder")
    assert "my-ssv2-folder has no image or video processor" in caplog.text
    assert "published checkpoint TimeSformer_divST_8_224_SSv2.pyth" in caplog.text
    assert "channel order BGR" in caplog.text and "8 frames, the middle of 8 equal segments" in caplog.text
    assert (kwargs["sampling"], kwargs["channel_order"], kwargs["image_mean"]) == ("segments", "bgr", [0.45] * 3)


@pytest.mark.parametrize("attention_type", ["divided_space_time", "space_only"])
def test_measured_parity_sees_a_wrong_conversion(attention_type):
    from conversion.convert_timesformer_transformers import measure_parity

    theirs, ours = transformers_pair(attention_type)
    compared, difference = measure_parity(theirs, ours)
    assert compared == ("hidden states of every block" if attention_type == "space_only" else "logits")
    assert difference <= TOLERANCE
    with torch.no_grad():
        ours.timesformer.layers[1].mlp.fc2.weight[0] += 0.5  # one feature: LayerNorm removes a uniform shift
    assert measure_parity(theirs, ours)[1] >= 0.1


def test_published_hub_ports_get_their_original_frame_recipe():
    from conversion.convert_timesformer_transformers import matching_variant

    base_k400 = convert_config(TimesformerConfig(num_labels=400))  # facebook/timesformer-base-finetuned-k400
    assert matching_variant(base_k400).frame_sample_rate == 32
    hr_ssv2 = convert_config(TimesformerConfig(num_labels=174, num_frames=16, image_size=448))
    assert matching_variant(hr_ssv2).dataset == "SSv2"
    assert matching_variant(convert_config(TimesformerConfig(**TINY))) is None
