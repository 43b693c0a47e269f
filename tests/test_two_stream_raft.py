"""Two-stream with RAFT inside: the flow stream's input computed from the frames, save/load keeping RAFT, and a
Trainer step on the shared clip's frames that leaves RAFT fixed (the pipeline on real files with RAFT runs in the
conformance suite, tests/test_two_stream_modeling.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import Trainer, TrainingArguments

from hf_videomodels.models.i3d import I3DConfig
from hf_videomodels.models.raft import RaftConfig, RaftModel
from hf_videomodels.models.tsn import TSNConfig
from hf_videomodels.models.two_stream import TwoStreamConfig, TwoStreamForVideoClassification, TwoStreamVideoProcessor
from hf_videomodels.training import collate

from .conformance import _decode_all_frames
from .conftest import SAMPLE_GIF, require_shared
from .test_raft_modeling import TINY as TINY_RAFT
from .test_two_stream_modeling import TINY_I3D, TINY_TSN

STACK = 2
SIZE = 64


def raft_two_stream_config(**overrides) -> TwoStreamConfig:
    tsn = {**TINY_TSN, "image_size": SIZE}
    if "id2label" not in overrides:
        overrides.setdefault("num_labels", 5)
    overrides.setdefault("flow_model_config", RaftConfig(**TINY_RAFT))
    return TwoStreamConfig(
        rgb_config=TSNConfig(**tsn), flow_config=TSNConfig(**tsn, num_channels=2 * STACK), **overrides
    )


def make_model(config: TwoStreamConfig, seed: int = 0) -> TwoStreamForVideoClassification:
    torch.manual_seed(seed)
    return TwoStreamForVideoClassification(config).eval()


def frames(batch: int, count: int, seed: int = 0) -> torch.Tensor:
    """Smooth random frames in [-1, 1] that move one pixel per frame, so RAFT has something to match."""
    generator = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(
        torch.rand(batch, 3, 16, 16, generator=generator), size=(SIZE + count, SIZE + count), mode="bilinear"
    )
    return torch.stack([base[..., t : t + SIZE, t : t + SIZE] for t in range(count)], dim=1) * 2 - 1


def test_stacked_flow_is_raft_on_each_segment_clipped_and_scaled():
    model = make_model(raft_two_stream_config(flow_bound=0.05))  # a small bound, so clipping happens
    flow_frames = frames(2, 3 * (STACK + 1))
    with torch.no_grad():
        computed = model.two_stream.compute_flow(flow_frames)
        raft = model.two_stream.flow_model
        expected = []
        for segment in flow_frames.split(STACK + 1, dim=1):
            flow = raft.clip_flow(segment)  # (batch, L, 2, H, W)
            expected.append(flow.clamp(-0.05, 0.05).div(0.05).flatten(1, 2))  # x1, y1, x2, y2
        expected = torch.stack(expected, dim=1)
    assert computed.shape == (2, 3, 2 * STACK, SIZE, SIZE)
    torch.testing.assert_close(computed, expected, rtol=0, atol=1e-6)
    assert computed.abs().max() == 1.0 and (computed.abs() < 1).any()
    # The whole model on flow_frames equals the model on the flow it computes.
    pixel_values = frames(2, 3, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(
            model(pixel_values, flow_frames=flow_frames).logits,
            model(pixel_values, flow_values=computed).logits,
            rtol=0,
            atol=1e-6,
        )


def test_clip_flow_layout_for_i3d():
    i3d = {**TINY_I3D, "num_frames": 8, "image_size": SIZE}
    config = TwoStreamConfig(
        rgb_config=I3DConfig(**i3d),
        flow_config=I3DConfig(**i3d, num_channels=2),
        flow_model_config=RaftConfig(**TINY_RAFT),
        flow_mode="clip",
        num_labels=3,
    )
    model = make_model(config)
    flow_frames = frames(1, 9)
    with torch.no_grad():
        computed = model.two_stream.compute_flow(flow_frames)
        expected = model.two_stream.flow_model.clip_flow(flow_frames).clamp(-20, 20) / 20
    assert computed.shape == (1, 8, 2, SIZE, SIZE)
    torch.testing.assert_close(computed, expected, rtol=0, atol=1e-6)


def test_stacked_frames_must_be_whole_segments():
    model = make_model(raft_two_stream_config())
    with pytest.raises(ValueError, match="groups of 3 consecutive frames"):
        model.two_stream.compute_flow(frames(1, 4))


def test_save_load_keeps_raft(tmp_path):
    model = make_model(raft_two_stream_config())
    inputs = {"pixel_values": frames(1, 3, seed=1), "flow_frames": frames(1, 3 * (STACK + 1))}
    with torch.no_grad():
        expected = model(**inputs).logits
    model.save_pretrained(tmp_path)
    reloaded = TwoStreamForVideoClassification.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded.two_stream.flow_model, RaftModel)
    assert reloaded.config.flow_model_config.to_dict() == model.config.flow_model_config.to_dict()
    raft_keys = [name for name in model.state_dict() if name.startswith("two_stream.flow_model.")]
    assert raft_keys
    for name in raft_keys:
        assert torch.equal(reloaded.state_dict()[name], model.state_dict()[name]), name
    with torch.no_grad():
        assert torch.equal(reloaded(**inputs).logits, expected)


class _Clips(torch.utils.data.Dataset):
    def __init__(self, processor, videos, labels):
        self.items = [
            {**{k: v[0] for k, v in processor(video, return_tensors="pt").items()}, "labels": label}
            for video, label in zip(videos, labels)
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def test_trainer_step_trains_the_streams_and_leaves_raft_fixed(tmp_path):
    config = raft_two_stream_config()
    model = make_model(config).train()
    processor = TwoStreamVideoProcessor.for_model_config(config, size={"shortest_edge": SIZE})
    decoded, _ = _decode_all_frames(require_shared(SAMPLE_GIF))
    videos = [decoded, decoded[::-1].copy()]
    dataset = _Clips(processor, videos, [0, 1])
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    arguments = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        max_steps=2,
        learning_rate=1e-2,
        report_to=[],
        remove_unused_columns=False,
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
    )
    # The package's collation (what hf-videomodels train uses) stacks every video input the processor gives.
    result = Trainer(model=model, args=arguments, train_dataset=dataset, data_collator=collate).train()
    assert np.isfinite(result.training_loss)
    after = model.state_dict()
    raft = [name for name in after if name.startswith("two_stream.flow_model.")]
    streams = [name for name in after if name.startswith(("two_stream.rgb_stream.", "two_stream.flow_stream."))]
    assert all(torch.equal(after[name], before[name]) for name in raft)  # weights and BatchNorm statistics
    assert any(not torch.equal(after[name], before[name]) for name in streams)
    assert not model.two_stream.flow_model.training


def test_processor_computes_and_caches_flow_with_a_flow_model(tmp_path):
    """RAFT in the processor instead of the model: flow_values come out (cached on disk), for a model without RAFT."""
    config = raft_two_stream_config()
    processor = TwoStreamVideoProcessor.for_model_config(config, size={"shortest_edge": SIZE})
    torch.manual_seed(0)
    raft = RaftModel(RaftConfig(**TINY_RAFT)).eval()
    cache = tmp_path / "cache"
    outputs = processor(require_shared(SAMPLE_GIF), flow_model=raft, flow_cache_dir=cache, return_tensors="pt")
    assert set(outputs) == {"pixel_values", "flow_values"}
    assert outputs["flow_values"].shape == (1, 3, 2 * STACK, SIZE, SIZE)
    assert outputs["flow_values"].abs().max() <= 1
    assert any(cache.rglob("*"))
    again = processor(require_shared(SAMPLE_GIF), flow_model=raft, flow_cache_dir=cache, return_tensors="pt")
    assert torch.equal(again["flow_values"], outputs["flow_values"])
    without_raft = make_model(raft_two_stream_config(flow_model_config=None))
    with torch.no_grad():
        assert without_raft(**outputs).logits.shape == (1, 5)
