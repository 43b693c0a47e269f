"""TSN through the shared conformance suite (a narrow ResNet-10), plus what is particular to TSN: the depth
table, the consensus modes, partial BatchNorm, channels_last, bad input and TSN's segment sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_videomodels.models.tsn import TSNConfig, TSNForVideoClassification, TSNModel, TSNVideoProcessor
from hf_videomodels.models.tsn.modeling_tsn import TSNResidualBlock
from hf_videomodels.sampling import segment_indices, tsn_segment_indices

from .conformance import VideoModelConformance
from .utils import randomize_batch_norm

# ResNet topology with one basic block per stage and narrow channels: the suite runs in seconds on a CPU.
TINY = {
    "depth": 10,
    "block_type": "basic",
    "stage_blocks": [1, 1, 1, 1],
    "stem_channels": 8,
    "stage_channels": [8, 8, 16, 16],
    "num_frames": 4,
    "image_size": 32,
    "dropout_prob": 0.0,
}
TINY_BOTTLENECK = {**TINY, "depth": 14, "block_type": "bottleneck", "stage_channels": [4, 4, 8, 8]}


def _ceil_half(n: int) -> int:
    return -(-n // 2)


class TestTSNConformance(VideoModelConformance):
    config_class = TSNConfig
    base_model_class = TSNModel
    classification_model_class = TSNForVideoClassification
    video_processor_class = TSNVideoProcessor
    has_attentions = False

    def make_config(self, **overrides):
        return TSNConfig(**{**TINY, "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        shape = (batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)
        return torch.randn(shape, generator=generator)

    def expected_hidden_state_shapes(self, config, pixel_values):
        """Stem (conv and max-pool, both stride 2), then the stages (stride 1, 2, 2, 2); each halving rounds up."""
        batch, frames, _, height, width = pixel_values.shape
        height, width = _ceil_half(_ceil_half(height)), _ceil_half(_ceil_half(width))
        shapes = [(batch, frames, config.stem_channels, height, width)]
        for index, channels in enumerate(config.stage_output_channels):
            if index > 0:
                height, width = _ceil_half(height), _ceil_half(width)
            shapes.append((batch, frames, channels, height, width))
        return shapes


# ---- TSN specifics -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "block_type", "stage_blocks", "hidden_size"),
    [
        (18, "basic", [2, 2, 2, 2], 512),
        (34, "basic", [3, 4, 6, 3], 512),
        (50, "bottleneck", [3, 4, 6, 3], 2048),
        (101, "bottleneck", [3, 4, 23, 3], 2048),
        (152, "bottleneck", [3, 8, 36, 3], 2048),
    ],
)
def test_depth_table(depth, block_type, stage_blocks, hidden_size):
    config = TSNConfig(depth=depth)
    assert (config.block_type, config.stage_blocks, config.hidden_size) == (block_type, stage_blocks, hidden_size)
    with torch.device("meta"):
        model = TSNModel(config)
    convs = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d) and "shortcut" not in name]
    assert len(convs) + 1 == depth  # the stem conv and every block conv, plus the classifier, make the depth


def test_config_rejects_inconsistent_depth():
    with pytest.raises(ValueError, match="give stage_blocks"):
        TSNConfig(depth=42)
    with pytest.raises(Exception, match="ResNet-50"):
        TSNConfig(depth=34, block_type="bottleneck")
    with pytest.raises(Exception, match="consensus"):
        TSNConfig(consensus="median")
    with pytest.raises(Exception, match="block_type"):
        TSNConfig(depth=10, block_type="dense", stage_blocks=[1, 1, 1, 1])


def test_full_size_shapes():
    with torch.device("meta"):
        model = TSNModel(TSNConfig()).eval()
        outputs = model(torch.empty(2, 3, 3, 224, 224), output_hidden_states=True)
    table = [(64, 56, 56), (256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
    assert [tuple(h.shape[2:]) for h in outputs.hidden_states] == table
    assert tuple(outputs.last_hidden_state.shape) == (2, 3, 2048, 7, 7)
    assert tuple(outputs.pooler_output.shape) == (2, 3, 2048)


@pytest.mark.parametrize("config", [TINY, TINY_BOTTLENECK], ids=["basic", "bottleneck"])
def test_frames_are_independent_images(config):
    """Each frame gives what the 2D network gives for it alone: no mixing across frames or videos."""
    torch.manual_seed(0)
    model = TSNForVideoClassification(TSNConfig(**config, num_labels=5)).eval()
    randomize_batch_norm(model)
    pixel_values = torch.randn(2, 3, 3, 37, 45)  # odd size and frame count
    with torch.no_grad():
        per_frame, outputs = model.frame_logits(pixel_values)
        for video in range(2):
            for frame in range(3):
                alone = model.frame_logits(pixel_values[video : video + 1, frame : frame + 1])[0]
                torch.testing.assert_close(alone[0, 0], per_frame[video, frame], rtol=0, atol=1e-5)
    expected = outputs.last_hidden_state.mean(dim=(-2, -1))
    torch.testing.assert_close(outputs.pooler_output, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("mode", ["mean", "max", "weighted"])
def test_consensus_modes(mode):
    torch.manual_seed(0)
    model = TSNForVideoClassification(TSNConfig(**TINY, num_labels=6, consensus=mode)).eval()
    pixel_values = torch.randn(2, TINY["num_frames"], 3, 32, 32)
    if mode == "weighted":
        with torch.no_grad():
            model.consensus.frame_weight_logits.copy_(torch.tensor([2.0, 0.0, -1.0, 0.5]))
    with torch.no_grad():
        per_frame, _ = model.frame_logits(pixel_values)
        logits = model(pixel_values).logits
    if mode == "mean":
        expected = per_frame.mean(1)
    elif mode == "max":
        expected = per_frame.amax(1)
    else:
        weights = torch.tensor([2.0, 0.0, -1.0, 0.5]).softmax(0)
        expected = (per_frame * weights[None, :, None]).sum(1)
    assert not torch.allclose(per_frame.mean(1), per_frame.amax(1))
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)


def test_weighted_consensus_needs_the_configured_frame_count():
    model = TSNForVideoClassification(TSNConfig(**TINY, num_labels=2, consensus="weighted")).eval()
    with pytest.raises(ValueError, match="built for 4 frames, got 3"):
        model(torch.randn(1, 3, 3, 32, 32))


def test_partial_batch_norm_freezes_all_but_the_first():
    torch.manual_seed(0)
    model = TSNForVideoClassification(TSNConfig(**TINY, num_labels=3, partial_batch_norm=True))
    model.train()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    first, frozen = norms[0], norms[1:]
    assert first is model.tsn.stem.bn and len(frozen) == len(model.tsn.frozen_batch_norms()) > 5
    assert first.training and first.weight.requires_grad
    assert all(not norm.training and not norm.weight.requires_grad and not norm.bias.requires_grad for norm in frozen)
    assert all(m.training for m in model.modules() if not isinstance(m, torch.nn.BatchNorm2d))

    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    pixel_values = torch.randn(2, 4, 3, 32, 32) * 3 + 1
    loss = model(pixel_values, labels=torch.tensor([0, 2])).loss
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    for name in before:
        changed = not torch.equal(before[name], after[name])
        if name.startswith("tsn.stem.bn."):
            assert changed, name  # the first BatchNorm still learns and tracks statistics
        elif ".bn." in name:
            assert not changed, name  # frozen: neither statistics nor scale / shift move
        elif name.endswith("conv.weight") or name.startswith("classifier"):
            assert changed, name
    # eval() and train() again: still partial.
    model.eval()
    assert not any(norm.training for norm in norms)
    model.train()
    assert first.training and not any(norm.training for norm in frozen)


def test_without_partial_batch_norm_every_norm_trains():
    model = TSNForVideoClassification(TSNConfig(**TINY, num_labels=3)).train()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(norm.training and norm.weight.requires_grad for norm in norms)


def test_zero_init_residual_starts_blocks_as_identity():
    model = TSNModel(TSNConfig(**TINY, zero_init_residual=True))
    last_norms = [getattr(block, block.units[-1]).bn for stage in model.stages for block in stage]
    assert all(torch.count_nonzero(norm.weight) == 0 for norm in last_norms)
    assert torch.count_nonzero(model.stem.bn.weight) > 0


def test_channels_last_same_output():
    torch.manual_seed(0)
    model = TSNForVideoClassification(TSNConfig(**TINY_BOTTLENECK, num_labels=4)).eval()
    randomize_batch_norm(model)
    pixel_values = torch.randn(2, 3, 3, 40, 40)
    with torch.no_grad():
        expected = model(pixel_values, output_hidden_states=True)
        model.to(memory_format=torch.channels_last)
        assert model.tsn.stem.conv.weight.is_contiguous(memory_format=torch.channels_last)
        actual = model(pixel_values, output_hidden_states=True)
    torch.testing.assert_close(actual.logits, expected.logits, rtol=0, atol=1e-5)
    for got, want in zip(actual.hidden_states, expected.hidden_states):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_bad_input_errors():
    model = TSNModel(TSNConfig(**TINY)).eval()
    with pytest.raises(ValueError, match=r"pixel_values must be shaped \(batch, frames, 3, height, width\)"):
        model(torch.randn(4, 3, 32, 32))  # an image batch, not a video batch
    with pytest.raises(ValueError, match="pixel_values"):
        model(torch.randn(1, 4, 1, 32, 32))
    with pytest.raises(TypeError, match="floating point"):
        model(torch.zeros(1, 4, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full((1, 4, 3, 32, 32), float("nan")))


def test_blocks_are_checkpointing_layers():
    model = TSNForVideoClassification(TSNConfig(depth=18, num_labels=2))
    blocks = [m for m in model.modules() if isinstance(m, TSNResidualBlock)]
    assert len(blocks) == 8
    model.activation_checkpointing_enable()
    assert all(block.gradient_checkpointing for block in blocks)


# ---- TSN's segment sampling ----------------------------------------------------------------------------------


def test_tsn_sampling_evaluation_takes_each_segments_middle():
    # tick = 300 / 8 = 37.5: int(18.75 + 37.5 i). SlowFast's "segments" form picks 205 and 280 for the last ones.
    assert tsn_segment_indices(300, 8).tolist() == [18, 56, 93, 131, 168, 206, 243, 281]
    assert segment_indices(300, 8).tolist() != tsn_segment_indices(300, 8).tolist()
    assert tsn_segment_indices(16, 16).tolist() == list(range(16))  # the demo's clips: every frame, in order
    assert tsn_segment_indices(3, 8).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]  # shorter than K: frames repeat


def test_tsn_sampling_training_draws_inside_each_segment():
    generator = torch.Generator().manual_seed(0)
    draws = np.stack([tsn_segment_indices(300, 8, training=True, generator=generator) for _ in range(400)])
    starts = np.arange(8) * 37  # 300 // 8 frames per segment, from the start; frames 296-299 are never drawn
    assert (draws.min(0) == starts).all() and (draws.max(0) == starts + 36).all()
    again = tsn_segment_indices(300, 8, training=True, generator=torch.Generator().manual_seed(0))
    assert again.tolist() == draws[0].tolist()
    # Shorter than K: the evaluation frames (the original would take frame 0 K times).
    assert tsn_segment_indices(3, 8, training=True).tolist() == tsn_segment_indices(3, 8).tolist()


def test_processor_samples_tsn_segments():
    """Frame i of a 300-frame video holds the value i / 299: the processed clip tells which frames it took."""
    video = torch.arange(300, dtype=torch.float32).div(299).view(300, 1, 1, 1).expand(300, 8, 8, 3).numpy()
    processor = TSNVideoProcessor(size={"shortest_edge": 8}, crop_size={"height": 8, "width": 8}, do_normalize=False)
    assert processor.sampling == "tsn" and processor.num_frames == 8

    def frames(**kwargs):
        pixel_values = processor(video, return_tensors="pt", **kwargs)["pixel_values"]
        return (pixel_values[0, :, 0, 0, 0] * 299).round().long().tolist()

    assert frames() == tsn_segment_indices(300, 8).tolist()
    trained = frames(training=True, seed=3)
    assert all(37 * i <= index < 37 * (i + 1) for i, index in enumerate(trained))
    with pytest.raises(ValueError, match="num_clips"):
        processor(video, num_clips=2)
