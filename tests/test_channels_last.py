"""3D CNNs keep their weights in channels_last_3d (``VideoPreTrainedModel.channels_last_3d``): after construction,
``from_pretrained`` (Auto class, other dtype), ``.to(dtype)`` and a save/load round trip; the convs' outputs follow
that layout; and the logits equal those of the same weights in the contiguous layout."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForVideoClassification

from hf_videomodels import I3DConfig, I3DForVideoClassification, TimeSformerForVideoClassification
from hf_videomodels.registration import architectures

from .test_i3d_modeling import TINY

CHANNELS_LAST = torch.channels_last_3d


def weights_channels_last(model) -> bool:
    weights = [p for p in model.parameters() if p.ndim == 5]
    return bool(weights) and all(p.is_contiguous(memory_format=CHANNELS_LAST) for p in weights)


def tiny_i3d() -> I3DForVideoClassification:
    torch.manual_seed(0)
    return I3DForVideoClassification(I3DConfig(**TINY, num_labels=3)).eval()


def test_the_3d_cnns_declare_it():
    assert I3DForVideoClassification.channels_last_3d
    assert not TimeSformerForVideoClassification.channels_last_3d  # no 3D convs
    declared = [arch.name for arch in architectures() if arch.model_class.channels_last_3d]
    assert "I3D" in declared
    for arch in architectures():  # the bare model and the classifier agree
        if arch.classification_class is not None:
            assert arch.model_class.channels_last_3d == arch.classification_class.channels_last_3d


def test_kept_through_loading_and_dtype(tmp_path):
    model = tiny_i3d()
    assert weights_channels_last(model)
    assert weights_channels_last(model.to(torch.bfloat16).float())
    model.save_pretrained(tmp_path)
    for loaded in (
        AutoModelForVideoClassification.from_pretrained(tmp_path),
        I3DForVideoClassification.from_pretrained(tmp_path, dtype=torch.bfloat16),
    ):
        assert weights_channels_last(loaded)
    loaded = I3DForVideoClassification.from_pretrained(tmp_path)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_same_logits_as_contiguous_weights(dtype):
    model = tiny_i3d()
    pixel_values = torch.randn(2, 16, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        outputs = model(pixel_values, output_hidden_states=True)
        assert outputs.hidden_states[0].is_contiguous(memory_format=CHANNELS_LAST)  # conv_1a's output
        contiguous = model.to(memory_format=torch.contiguous_format)
        assert not weights_channels_last(contiguous)
        expected = contiguous(pixel_values).logits
    tolerance = 1e-5 if dtype is None else 5e-2
    torch.testing.assert_close(outputs.logits, expected, rtol=0, atol=tolerance)
