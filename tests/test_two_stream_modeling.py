"""Two-stream networks: each stream is its single-stream model, the fusion does what the config says, the learned
fusion trains, save/load keeps everything, and the processor lays out the flow model's frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

from hf_videomodels.models.i3d import I3DConfig, I3DForVideoClassification
from hf_videomodels.models.tsn import TSNConfig, TSNForVideoClassification
from hf_videomodels.models.two_stream import (
    TwoStreamConfig,
    TwoStreamForVideoClassification,
    TwoStreamModel,
    TwoStreamVideoProcessor,
)

from .test_i3d_modeling import TINY as TINY_I3D
from .test_tsn_modeling import TINY
from .utils import randomize_batch_norm

TINY_TSN = {**TINY, "num_frames": 3}
STACK = 2  # flow fields per segment in the tiny TSN-style model: 4 flow channels


def tsn_two_stream_config(**overrides) -> TwoStreamConfig:
    if "id2label" not in overrides:
        overrides.setdefault("num_labels", 4)
    return TwoStreamConfig(
        rgb_config=TSNConfig(**TINY_TSN), flow_config=TSNConfig(**TINY_TSN, num_channels=2 * STACK), **overrides
    )


def inputs_for(config: TwoStreamConfig, batch_size: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)

    def clip(stream, channels):
        shape = (batch_size, stream.num_frames, channels, stream.image_size, stream.image_size)
        return torch.rand(shape, generator=generator) * 2 - 1

    return {
        "pixel_values": clip(config.rgb_config, 3),
        "flow_values": clip(config.flow_config, config.flow_config.num_channels),
    }


def make_model(config: TwoStreamConfig, seed: int = 0) -> TwoStreamForVideoClassification:
    torch.manual_seed(seed)
    model = TwoStreamForVideoClassification(config).eval()
    randomize_batch_norm(model, seed)
    return model


# ---- configuration -------------------------------------------------------------------------------------------


def test_default_config_is_tsn_two_stream():
    config = TwoStreamConfig()
    assert config.rgb_config.model_type == "hfvm_tsn" and config.rgb_config.num_channels == 3
    assert config.flow_config.model_type == "hfvm_tsn" and config.flow_config.num_channels == 10
    assert config.fusion == "logits" and config.fusion_weights == [1.0, 1.5]
    assert config.flow_stack_length == 5 and config.flow_model_config is None


def test_config_round_trip_through_auto_config(tmp_path):
    config = TwoStreamConfig(
        rgb_config=I3DConfig(**TINY_I3D),
        flow_config=I3DConfig(**TINY_I3D, num_channels=2),
        flow_mode="clip",
        fusion="softmax",
        fusion_weights=(1, 1),
        num_labels=5,
    )
    assert TwoStreamConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is TwoStreamConfig
    assert type(loaded.rgb_config) is I3DConfig and type(loaded.flow_config) is I3DConfig
    assert (
        loaded.flow_config.num_channels == 2 and loaded.flow_config.inception_channels == TINY_I3D["inception_channels"]
    )
    assert loaded.fusion == "softmax" and loaded.fusion_weights == [1.0, 1.0]
    # Streams given as dicts with their model_type, as config.json stores them.
    from_dicts = TwoStreamConfig(
        rgb_config=config.rgb_config.to_dict(), flow_config=config.flow_config.to_dict(), flow_mode="clip"
    )
    assert type(from_dicts.rgb_config) is I3DConfig and from_dicts.flow_config.num_channels == 2


def test_labels_are_shared_by_both_streams():
    config = tsn_two_stream_config(id2label={0: "a", 1: "b", 2: "c"}, label2id={"a": 0, "b": 1, "c": 2})
    assert config.rgb_config.id2label == config.flow_config.id2label == {0: "a", 1: "b", 2: "c"}
    # Without labels of its own, the two-stream config takes the streams'.
    inherited = TwoStreamConfig(
        rgb_config=TSNConfig(**TINY_TSN, num_labels=7), flow_config=TSNConfig(**TINY_TSN, num_channels=4, num_labels=7)
    )
    assert inherited.num_labels == 7


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"fusion": "max"}, "fusion must be one of"),
        ({"fusion_weights": (1.0, -1.0)}, "fusion_weights"),
        ({"fusion_weights": (1.0, 1.0, 1.0)}, "fusion_weights"),
        ({"flow_mode": "clip"}, "num_channels=2"),  # a 4-channel (stacked) flow stream cannot take a flow clip
        ({"flow_bound": 0}, "flow_bound"),
    ],
)
def test_invalid_config_raises(overrides, message):
    with pytest.raises(Exception, match=message):
        tsn_two_stream_config(**overrides)


def test_streams_with_different_label_counts_are_refused():
    with pytest.raises(Exception, match="labels"):
        TwoStreamConfig(
            rgb_config=TSNConfig(**TINY_TSN, num_labels=3),
            flow_config=TSNConfig(**TINY_TSN, num_channels=4, num_labels=5),
        )


# ---- streams -------------------------------------------------------------------------------------------------


def test_each_stream_is_the_single_stream_model():
    config = tsn_two_stream_config()
    model = make_model(config)
    inputs = inputs_for(config)
    rgb_alone = TSNForVideoClassification(config.rgb_config).eval()
    rgb_alone.load_state_dict(model.two_stream.rgb_stream.state_dict())
    flow_alone = TSNForVideoClassification(config.flow_config).eval()
    flow_alone.load_state_dict(model.two_stream.flow_stream.state_dict())
    with torch.no_grad():
        rgb_logits, flow_logits = model.stream_logits(**inputs)
        assert torch.equal(rgb_logits, rgb_alone(inputs["pixel_values"]).logits)
        assert torch.equal(flow_logits, flow_alone(inputs["flow_values"]).logits)
        base = model.two_stream(**inputs)
    assert torch.equal(base.rgb_logits, rgb_logits) and torch.equal(base.flow_logits, flow_logits)
    assert not torch.allclose(rgb_logits, flow_logits)


def test_from_streams_copies_trained_single_stream_models():
    torch.manual_seed(0)
    rgb = I3DForVideoClassification(I3DConfig(**TINY_I3D, num_labels=3)).eval()
    flow = I3DForVideoClassification(I3DConfig(**TINY_I3D, num_channels=2, num_labels=3)).eval()
    randomize_batch_norm(rgb, 1)
    randomize_batch_norm(flow, 2)
    model = TwoStreamForVideoClassification.from_streams(rgb, flow, flow_mode="clip", fusion_weights=(1, 1))
    assert model.config.rgb_config is not rgb.config  # a copy: editing one model's config leaves the other alone
    inputs = inputs_for(model.config, batch_size=1)
    with torch.no_grad():
        expected = rgb(inputs["pixel_values"]).logits + flow(inputs["flow_values"]).logits
        torch.testing.assert_close(model(**inputs).logits, expected, rtol=0, atol=1e-6)
    other_labels = I3DForVideoClassification(I3DConfig(**TINY_I3D, num_channels=2, num_labels=4))
    with pytest.raises(ValueError, match="different labels"):
        TwoStreamForVideoClassification.from_streams(rgb, other_labels, flow_mode="clip")


# ---- fusion --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weights", [(1.0, 1.5), (1.0, 1.0), (0.0, 1.0)])
def test_logit_fusion_is_the_weighted_sum(weights):
    model = make_model(tsn_two_stream_config(fusion="logits", fusion_weights=weights))
    inputs = inputs_for(model.config)
    with torch.no_grad():
        rgb, flow = model.stream_logits(**inputs)
        fused = model(**inputs).logits
    by_hand = torch.tensor(
        [
            [weights[0] * r + weights[1] * f for r, f in zip(rgb_row, flow_row)]
            for rgb_row, flow_row in zip(rgb.tolist(), flow.tolist())
        ]
    )
    torch.testing.assert_close(fused, by_hand, rtol=0, atol=1e-5)


@pytest.mark.parametrize("weights", [(1.0, 1.5), (2.0, 0.0)])
def test_softmax_fusion_averages_probabilities(weights):
    model = make_model(tsn_two_stream_config(fusion="softmax", fusion_weights=weights))
    inputs = inputs_for(model.config)
    with torch.no_grad():
        rgb, flow = model.stream_logits(**inputs)
        probabilities = model(**inputs).logits.softmax(-1)

    def softmax(row):
        exps = [np.exp(value - max(row)) for value in row]
        return [value / sum(exps) for value in exps]

    by_hand = [
        [(weights[0] * p + weights[1] * q) / sum(weights) for p, q in zip(softmax(r), softmax(f))]
        for r, f in zip(rgb.tolist(), flow.tolist())
    ]
    torch.testing.assert_close(probabilities, torch.tensor(by_hand, dtype=torch.float32), rtol=0, atol=1e-6)
    # The fused logits are log-probabilities: softmax gives the average back and they are already normalised.
    torch.testing.assert_close(model(**inputs).logits.exp().sum(-1), torch.ones(2), rtol=0, atol=1e-5)


def test_learned_fusion_starts_at_the_weighted_sum_and_trains():
    model = make_model(tsn_two_stream_config(fusion="learned", fusion_weights=(1.0, 1.5)))
    inputs = inputs_for(model.config, batch_size=4)
    with torch.no_grad():
        rgb, flow = model.stream_logits(**inputs)
        torch.testing.assert_close(model(**inputs).logits, rgb + 1.5 * flow, rtol=0, atol=1e-5)
    labels = torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.SGD(model.fusion.parameters(), lr=0.5)
    start = model.fusion.layer.weight.detach().clone()
    losses = []
    for _ in range(8):
        loss = model(**inputs, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses
    assert not torch.equal(model.fusion.layer.weight, start)
    # Only the fusion layer was optimised: the streams kept their logits.
    with torch.no_grad():
        assert torch.equal(model.stream_logits(**inputs)[0], rgb)


def test_fused_loss_and_whole_model_training():
    model = make_model(tsn_two_stream_config()).train()
    inputs = inputs_for(model.config, batch_size=4)
    labels = torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        outputs = model(**inputs, labels=labels)
        expected = torch.nn.functional.cross_entropy(outputs.logits, labels)
        assert abs(outputs.loss.item() - expected.item()) < 1e-6
        optimizer.zero_grad()
        outputs.loss.backward()
        optimizer.step()
        losses.append(outputs.loss.item())
    assert losses[-1] < losses[0], losses
    for stream in (model.two_stream.rgb_stream, model.two_stream.flow_stream):
        assert stream.classifier.weight.grad is not None


# ---- save / load ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fusion", ["logits", "learned"])
def test_save_load_keeps_both_streams(tmp_path, fusion):
    model = make_model(tsn_two_stream_config(fusion=fusion))
    if fusion == "learned":
        with torch.no_grad():
            model.fusion.layer.weight.add_(0.1)  # a trained fusion layer, not its initial value
    inputs = inputs_for(model.config)
    with torch.no_grad():
        expected = model(**inputs).logits
        expected_streams = model.stream_logits(**inputs)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForVideoClassification.from_pretrained(tmp_path).eval()
    assert type(reloaded) is TwoStreamForVideoClassification
    with torch.no_grad():
        assert torch.equal(reloaded(**inputs).logits, expected)
        for got, want in zip(reloaded.stream_logits(**inputs), expected_streams):
            assert torch.equal(got, want)
    for name, tensor in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[name], tensor), name
    base = AutoModel.from_pretrained(tmp_path)
    assert type(base) is TwoStreamModel
    for name, tensor in base.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[f"two_stream.{name}"]), name


def test_fine_tuning_load_gives_both_streams_the_new_labels(tmp_path):
    make_model(tsn_two_stream_config()).save_pretrained(tmp_path)
    labels = {0: "left", 1: "right"}
    model = TwoStreamForVideoClassification.from_pretrained(
        tmp_path, id2label=labels, label2id={v: k for k, v in labels.items()}, ignore_mismatched_sizes=True
    )
    assert model.two_stream.rgb_stream.classifier.out_features == 2
    assert model.two_stream.flow_stream.classifier.out_features == 2
    assert model(**inputs_for(model.config)).logits.shape == (2, 2)


# ---- inputs --------------------------------------------------------------------------------------------------


def test_missing_flow_or_flow_model_is_explained():
    model = make_model(tsn_two_stream_config())
    inputs = inputs_for(model.config)
    with pytest.raises(ValueError, match="flow_values .* or flow_frames"):
        model(inputs["pixel_values"])
    frames = torch.rand(2, 3 * (STACK + 1), 3, 32, 32)
    with pytest.raises(ValueError, match="no flow model"):
        model(inputs["pixel_values"], flow_frames=frames)
    with pytest.raises(ValueError, match="flow_values"):
        model(inputs["pixel_values"], flow_values=inputs["flow_values"][:, :, :2])  # 2 channels for a 4-channel stream
    with pytest.raises(ValueError, match="pixel_values"):
        model(inputs["pixel_values"][0], flow_values=inputs["flow_values"])


def test_multi_view_input_averages_fused_logits():
    model = make_model(tsn_two_stream_config())
    views = inputs_for(model.config, batch_size=3)
    with torch.no_grad():
        per_view = model(**views).logits
        averaged = model(**{name: value.unsqueeze(0) for name, value in views.items()}).logits
    torch.testing.assert_close(averaged[0], per_view.mean(0), rtol=0, atol=1e-5)


# ---- processor -----------------------------------------------------------------------------------------------


def _numbered_video(num_frames: int, size: int = 32) -> np.ndarray:
    """uint8 frames whose pixels all hold the frame's index, so sampled frames can be read back."""
    return np.broadcast_to(
        np.arange(num_frames, dtype=np.uint8)[:, None, None, None], (num_frames, size, size, 3)
    ).copy()


def _frame_numbers(frames: torch.Tensor) -> list[int]:
    """Frame indices back from RAFT-scaled frames (2 * x / 255 - 1)."""
    return [round(value) for value in ((frames[..., 0, 0, 0] + 1) * 255 / 2).reshape(-1).tolist()]


def test_processor_stacked_flow_frames_follow_tsn_segments():
    processor = TwoStreamVideoProcessor.for_model_config(tsn_two_stream_config())
    assert (processor.flow_mode, processor.flow_num_frames, processor.flow_stack_length) == ("stacked", 3, STACK)
    outputs = processor(_numbered_video(31), return_tensors="pt")
    assert outputs["pixel_values"].shape == (1, 3, 3, 32, 32)
    assert outputs["flow_frames"].shape == (1, 3 * (STACK + 1), 3, 32, 32)
    # TSN's test offsets over the 31 - L positions where a stack fits: int(tick / 2 + tick * i), tick = 29 / 3.
    starts = [int(29 / 3 / 2 + 29 / 3 * i) for i in range(3)]
    assert _frame_numbers(outputs["flow_frames"]) == [start + k for start in starts for k in range(STACK + 1)]


def test_processor_flow_clip_is_one_more_consecutive_frame_with_views():
    config = TwoStreamConfig(
        rgb_config=I3DConfig(**TINY_I3D), flow_config=I3DConfig(**TINY_I3D, num_channels=2), flow_mode="clip"
    )
    processor = TwoStreamVideoProcessor.for_model_config(config)
    assert processor.num_frames == 16 and processor.short_video == "loop"  # I3D's own recipe
    video = _numbered_video(40, size=80)
    outputs = processor(video, return_tensors="pt", num_clips=2, num_crops=3)
    assert outputs["pixel_values"].shape == (1, 6, 16, 3, 64, 64)
    assert outputs["flow_frames"].shape == (1, 6, 17, 3, 64, 64)
    first_clip = _frame_numbers(outputs["flow_frames"][0, 0])
    assert first_clip == list(range(first_clip[0], first_clip[0] + 17))


def test_processor_save_load_keeps_the_flow_layout(tmp_path):
    from transformers import AutoVideoProcessor

    processor = TwoStreamVideoProcessor(flow_mode="clip", flow_num_frames=12, flow_stack_length=1, num_frames=12)
    processor.save_pretrained(tmp_path)
    tsn_two_stream_config().save_pretrained(tmp_path)
    loaded = AutoVideoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is TwoStreamVideoProcessor
    assert (loaded.flow_mode, loaded.flow_num_frames, loaded.num_frames) == ("clip", 12, 12)
    assert loaded.model_input_names == ["pixel_values", "flow_frames"]
    with pytest.raises(ValueError, match="flow_mode"):
        TwoStreamVideoProcessor(flow_mode="pairs")


@pytest.mark.parametrize("bound", [20.0, 10.0])
def test_processor_gives_flow_values_from_precomputed_flow(bound):
    # The processor scales by the model's flow_bound, as RAFT inside the model does (not a fixed 20).
    processor = TwoStreamVideoProcessor.for_model_config(tsn_two_stream_config(flow_bound=bound))
    assert processor.flow_bound == bound
    video = _numbered_video(31)
    # Flow frame t of the video holds the constant (t, -t) pixels: readable back after clipping to +-20 and scaling.
    steps = np.arange(30, dtype=np.float32)[:, None, None, None]
    flow = np.concatenate([np.broadcast_to(steps, (30, 1, 32, 32)), -np.broadcast_to(steps, (30, 1, 32, 32))], axis=1)
    outputs = processor(video, flow=flow, return_tensors="pt")
    assert set(outputs) == {"pixel_values", "flow_values"}
    assert outputs["flow_values"].shape == (1, 3, 2 * STACK, 32, 32)
    # The stacks start at TSN's test offsets over the 30 - L + 1 flow positions: x1, y1, x2, y2 of each stack.
    starts = [int(29 / 3 / 2 + 29 / 3 * i) for i in range(3)]
    expected = [[min(t, bound) / bound * sign for t in (start, start + 1) for sign in (1, -1)] for start in starts]
    torch.testing.assert_close(outputs["flow_values"][0, :, :, 0, 0], torch.tensor(expected), rtol=0, atol=1e-6)
    model = make_model(tsn_two_stream_config(flow_bound=bound))
    with torch.no_grad():
        assert model(**outputs).logits.shape == (1, 4)
