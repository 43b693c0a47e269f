"""LRCN through the shared conformance suite (tiny config), plus what is particular to it: clips of different
lengths in one batch (mask / lengths, packed LSTM, no padding through BatchNorm), the "mean" and "last"
predictions, bidirectional LSTMs and initialisation from a per-frame ResNet."""

from __future__ import annotations

import copy

import pytest
import torch
import torchvision

from benchmarks.peers.lrcn import matched_pair
from conversion.common import load_converted
from conversion.convert_tsn_resnet import convert_resnet_state_dict
from hf_videomodels.models.lrcn import LRCNConfig, LRCNForVideoClassification, LRCNModel, LRCNVideoProcessor
from hf_videomodels.models.tsn import TSNConfig, TSNForVideoClassification, TSNModel

from .conformance import VideoModelConformance
from .utils import randomize_batch_norm

# ResNet-10 topology (one basic block per stage) at a few channels, and an 8-unit LSTM: the suite runs in seconds.
TINY_CNN = {"depth": 10, "block_type": "basic", "stage_blocks": [1, 1, 1, 1], "stem_channels": 4,
            "stage_channels": [4, 8, 8, 8]}
TINY = {"cnn_config": TINY_CNN, "num_frames": 4, "image_size": 32, "lstm_hidden_size": 8, "dropout_prob": 0.0}


def _ceil_half(n: int) -> int:
    return -(-n // 2)


class TestLRCNConformance(VideoModelConformance):
    config_class = LRCNConfig
    base_model_class = LRCNModel
    classification_model_class = LRCNForVideoClassification
    video_processor_class = LRCNVideoProcessor
    has_attentions = False

    def make_config(self, **overrides):
        return LRCNConfig(**{**TINY, "num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        shape = (batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)
        return torch.rand(shape, generator=generator) * 2 - 1

    def expected_hidden_state_shapes(self, config, pixel_values):
        """The CNN's stem (1/4 size) and four stages (1/4 ... 1/32, rounding up) per frame, then the features."""
        batch, frames, _, height, width = pixel_values.shape
        cnn = config.cnn_config
        height, width = _ceil_half(_ceil_half(height)), _ceil_half(_ceil_half(width))
        shapes = [(batch, frames, cnn.stem_channels, height, width)]
        for index, channels in enumerate(cnn.stage_output_channels):
            if index > 0:
                height, width = _ceil_half(height), _ceil_half(width)
            shapes.append((batch, frames, channels, height, width))
        return shapes + [(batch, frames, cnn.hidden_size)]


# ---- LRCN specifics ----------------------------------------------------------------------------------------


def _model(seed=0, **overrides) -> LRCNForVideoClassification:
    torch.manual_seed(seed)
    model = LRCNForVideoClassification(LRCNConfig(**{**TINY, "num_labels": 5, **overrides})).eval()
    randomize_batch_norm(model)  # eval-mode BatchNorm that is not the identity
    return model


def _clips(lengths, frames, seed=0):
    """A batch of random clips padded to ``frames`` with huge values (which must not leak), and the clips alone."""
    generator = torch.Generator().manual_seed(seed)
    alone = [torch.randn(1, n, 3, 32, 32, generator=generator) for n in lengths]
    padded = torch.full((len(lengths), frames, 3, 32, 32), 1e4)
    for index, clip in enumerate(alone):
        padded[index, : clip.shape[1]] = clip[0]
    return padded, alone


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("prediction", ["mean", "last"])
@pytest.mark.parametrize("by", ["frame_mask", "lengths"])
def test_padding_does_not_change_any_prediction(prediction, bidirectional, by):
    model = _model(prediction=prediction, bidirectional=bidirectional, num_lstm_layers=2)
    lengths = [3, 6, 1, 5]
    padded, alone = _clips(lengths, frames=6)
    lengths = torch.tensor(lengths)
    given = {"lengths": lengths} if by == "lengths" else {"frame_mask": torch.arange(6) < lengths[:, None]}
    with torch.no_grad():
        batched = model(padded, **given)
        base = model.lrcn(padded, **given)
        for index, clip in enumerate(alone):
            single = model(clip)
            assert (single.logits[0] - batched.logits[index]).abs().max() < 1e-5, index
            single_base = model.lrcn(clip)
            steps = lengths[index]
            torch.testing.assert_close(base.last_hidden_state[index, :steps], single_base.last_hidden_state[0], rtol=0, atol=1e-5)
            assert torch.all(base.last_hidden_state[index, steps:] == 0)
            torch.testing.assert_close(base.pooler_output[index], single_base.pooler_output[0], rtol=0, atol=1e-5)
        # Without the lengths the padding is read as frames (so the comparison above can fail).
        assert (model(padded).logits[0] - batched.logits[0]).abs().max() > 1e-3


def test_hidden_states_of_padded_clips():
    model = _model()
    padded, alone = _clips([2, 4], frames=4)
    with torch.no_grad():
        batched = model(padded, lengths=torch.tensor([2, 4]), output_hidden_states=True).hidden_states
        single = model(alone[0], output_hidden_states=True).hidden_states
    assert [h.shape[:2] for h in batched] == [(2, 4)] * len(batched)
    for got, want in zip(batched, single):
        torch.testing.assert_close(got[0, :2], want[0], rtol=0, atol=1e-5)
        assert torch.all(got[0, 2:] == 0)


def test_backward_direction_starts_at_each_clips_last_real_frame():
    """The packed sequences matter for a bidirectional LSTM: the features of a padded clip, zero after its end,
    run through the LSTM unpacked would give its backward direction a different start."""
    model = _model(bidirectional=True, prediction="mean")
    padded, alone = _clips([2], frames=5)
    with torch.no_grad():
        features = model.lrcn.frame_features(padded, torch.tensor([2]))[0]
        unpacked = model.lrcn.lstm(features)[0][:, :2]
        packed = model.lrcn.run_lstm(features, torch.tensor([2]))[:, :2]
        single = model.lrcn(alone[0]).last_hidden_state
    hidden = model.config.lstm_hidden_size
    torch.testing.assert_close(packed, single, rtol=0, atol=1e-5)
    torch.testing.assert_close(unpacked[..., :hidden], single[..., :hidden], rtol=0, atol=1e-5)  # forward agrees
    assert (unpacked[..., hidden:] - single[..., hidden:]).abs().max() > 1e-4  # backward does not


def test_padded_frames_do_not_reach_batch_norm_in_training():
    model = _model().train()
    reference = copy.deepcopy(model)
    padded, alone = _clips([2, 4], frames=4)
    model(padded, lengths=torch.tensor([2, 4]))
    reference.lrcn.cnn(torch.cat(alone, dim=1))  # the same six real frames, nothing else
    norms = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    reference_norms = dict(reference.named_modules())
    for name, norm in norms:
        torch.testing.assert_close(norm.running_mean, reference_norms[name].running_mean, rtol=0, atol=1e-6)
        torch.testing.assert_close(norm.running_var, reference_norms[name].running_var, rtol=1e-5, atol=1e-6)
    unmasked = _model().train()
    unmasked(padded)
    assert not torch.allclose(unmasked.lrcn.cnn.stem.bn.running_mean, norms[0][1].running_mean)


@pytest.mark.parametrize("prediction", ["mean", "last"])
def test_prediction_combines_per_step_logits(prediction):
    model = _model(prediction=prediction)
    padded, _ = _clips([2, 4, 3], frames=4)
    lengths = torch.tensor([2, 4, 3])
    with torch.no_grad():
        per_step = model.step_logits(padded, lengths=lengths)
        logits = model(padded, lengths=lengths).logits
        pooled = model.lrcn(padded, lengths=lengths).pooler_output
    assert per_step.shape == (3, 4, 5)
    if prediction == "mean":
        expected = torch.stack([per_step[i, :n].mean(0) for i, n in enumerate(lengths)])
    else:
        expected = torch.stack([per_step[i, n - 1] for i, n in enumerate(lengths)])
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-6)
    # The classifier is linear, so (without dropout) it maps the bare model's pooled output to the logits.
    torch.testing.assert_close(model.classifier(pooled), logits, rtol=0, atol=1e-5)


def test_bidirectional_output_size():
    model = _model(bidirectional=True, lstm_hidden_size=6)
    assert model.config.hidden_size == 12 and model.classifier.in_features == 12
    with torch.no_grad():
        outputs = model.lrcn(torch.randn(2, 3, 3, 32, 32))
    assert outputs.last_hidden_state.shape == (2, 3, 12)
    assert outputs.pooler_output.shape == (2, 12)


def test_multi_view_input_repeats_the_mask_per_view():
    model = _model()
    videos = torch.randn(2, 3, 4, 3, 32, 32)  # 2 videos x 3 views x 4 frames
    lengths = torch.tensor([2, 4])
    with torch.no_grad():
        averaged = model(videos, lengths=lengths).logits
        masked = model(videos, frame_mask=torch.arange(4) < lengths[:, None]).logits
        per_view = model(videos.flatten(0, 1), lengths=lengths.repeat_interleave(3)).logits
    torch.testing.assert_close(averaged, per_view.unflatten(0, (2, 3)).mean(1), rtol=0, atol=1e-6)
    torch.testing.assert_close(masked, averaged, rtol=0, atol=1e-6)


def test_loss_and_gradients_with_lengths():
    model = _model().train()
    padded, _ = _clips([2, 4], frames=4)
    outputs = model(padded, lengths=torch.tensor([2, 4]), labels=torch.tensor([1, 3]))
    outputs.loss.backward()
    assert torch.isfinite(outputs.loss)
    assert model.lrcn.cnn.stem.conv.weight.grad.abs().sum() > 0
    assert model.lrcn.lstm.weight_ih_l0.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"frame_mask": torch.ones(2, 4, dtype=torch.bool), "lengths": torch.tensor([4, 4])}, "not both"),
        ({"frame_mask": torch.ones(2, 3, dtype=torch.bool)}, r"\(batch, frames\) = \(2, 4\)"),
        ({"frame_mask": torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]])}, "at least one real frame"),
        ({"frame_mask": torch.tensor([[1, 0, 1, 0], [1, 1, 1, 1]])}, r"real frames first .* row 0 is \[1, 0, 1, 0\]"),
        ({"lengths": torch.tensor([0, 4])}, r"lengths must lie in \[1, 4\]"),
        ({"lengths": torch.tensor([5, 4])}, r"lengths must lie in \[1, 4\]"),
        ({"lengths": torch.tensor([2.0, 4.0])}, r"integers shaped \(batch,\) = \(2,\)"),
        ({"lengths": torch.tensor([2, 4, 4])}, r"integers shaped \(batch,\) = \(2,\)"),
    ],
)
def test_bad_masks_and_lengths_raise_clearly(given, message):
    model = _model()
    with pytest.raises(ValueError, match=message):
        model(torch.randn(2, 4, 3, 32, 32), **given)


def test_lengths_as_a_list_and_full_lengths_take_the_plain_path():
    model = _model()
    pixel_values = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        plain = model(pixel_values).logits
        torch.testing.assert_close(model(pixel_values, lengths=[4, 4]).logits, plain, rtol=0, atol=0)
        torch.testing.assert_close(model(pixel_values, lengths=[4, 2]).logits[0], plain[0], rtol=0, atol=1e-5)


def test_config_owns_the_cnn_input_settings_and_validates():
    config = LRCNConfig(**TINY)
    assert isinstance(config.cnn_config, TSNConfig)
    assert (config.cnn_config.num_frames, config.cnn_config.image_size) == (4, 32)
    assert config.cnn_hidden_size == 8 and config.num_channels == 3
    assert LRCNConfig().cnn_config.depth == 50 and LRCNConfig().cnn_hidden_size == 2048
    cnn = TSNConfig(**TINY_CNN)
    assert LRCNConfig(cnn_config=cnn, num_frames=12).cnn_config.num_frames == 12 and cnn.num_frames == 8
    with pytest.raises(Exception, match="prediction"):
        LRCNConfig(prediction="median")
    with pytest.raises(Exception, match="lstm_dropout_prob"):
        LRCNConfig(lstm_dropout_prob=1.5)
    with pytest.raises(Exception, match="num_lstm_layers"):
        LRCNConfig(num_lstm_layers=0)


def _random_tsn(seed=0, cls=TSNForVideoClassification):
    torch.manual_seed(seed)
    model = cls(TSNConfig(**TINY_CNN, num_labels=7)).eval()
    randomize_batch_norm(model, seed=seed)
    return model


def test_from_per_frame_model_copies_the_cnn(tmp_path):
    tsn = _random_tsn()
    lrcn = LRCNForVideoClassification.from_per_frame_model(tsn, num_labels=4, lstm_hidden_size=6).eval()
    assert lrcn.config.num_labels == 4 and lrcn.config.cnn_config.num_labels == 2  # no ImageNet labels carried
    pixel_values = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        expected = tsn.tsn(pixel_values).pooler_output
        got = lrcn.lrcn(pixel_values, output_hidden_states=True).hidden_states[-1]
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)

    tsn.save_pretrained(tmp_path / "with_head")  # from a converted folder, or a bare CNN's
    tsn.tsn.save_pretrained(tmp_path / "bare")
    for folder in ("with_head", "bare"):
        bare = LRCNModel.from_per_frame_model(tmp_path / folder, bidirectional=True).eval()
        for name, tensor in tsn.tsn.state_dict().items():
            assert torch.equal(bare.cnn.state_dict()[name], tensor), name
    with pytest.raises(TypeError, match="TSN model"):
        LRCNModel.from_per_frame_model(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("size", [(64, 64), (67, 53)])
def test_from_imagenet_resnet_matches_torchvision_features(size):
    """The recipe end to end: torchvision's resnet18 (random weights) -> TSN's converter -> LRCN. The LRCN's
    per-frame features are the ResNet's pooled features, frame by frame, with and without padding."""
    torch.manual_seed(0)
    peer = torchvision.models.resnet18().eval()
    randomize_batch_norm(peer)
    tsn = load_converted(TSNForVideoClassification, *convert_resnet_state_dict(peer.state_dict(), "torchvision"))
    lrcn = LRCNForVideoClassification.from_per_frame_model(tsn, num_labels=4).eval()
    assert lrcn.config.cnn_config.depth == 18 and lrcn.config.num_frames == 16
    peer.fc = torch.nn.Identity()  # the pooled features before the ImageNet head
    pixel_values = torch.randn(2, 3, 3, *size)
    with torch.no_grad():
        expected = peer(pixel_values.flatten(0, 1)).unflatten(0, (2, 3))
        features = lrcn.lrcn(pixel_values, output_hidden_states=True).hidden_states[-1]
        padded = lrcn.lrcn(pixel_values, lengths=torch.tensor([2, 3]), output_hidden_states=True).hidden_states[-1]
    assert (features - expected).abs().max() < 1e-5
    assert (padded[0, :2] - expected[0, :2]).abs().max() < 1e-5
    assert (padded[1] - expected[1]).abs().max() < 1e-5


@pytest.mark.parametrize(("prediction", "bidirectional", "num_layers"), [("mean", False, 1), ("last", True, 2)])
def test_whole_model_matches_torchvision_resnet_with_torch_lstm(prediction, bidirectional, num_layers):
    """Against the CNN + LSTM as a PyTorch user writes it (the benchmark's peer), with the same weights."""
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18()
    randomize_batch_norm(resnet)
    ours, peer = matched_pair(
        resnet, num_labels=5, hidden_size=16, prediction=prediction, bidirectional=bidirectional, num_layers=num_layers
    )
    pixel_values = torch.randn(2, 5, 3, 48, 40)
    with torch.no_grad():
        assert (ours(pixel_values).logits - peer(pixel_values)).abs().max() < 1e-5
