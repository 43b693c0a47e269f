"""LRCN against its peer: the CNN + LSTM as a PyTorch user writes it, torchvision's resnet50 on every frame
(its ImageNet head removed), ``nn.LSTM`` over the frame features, a linear classifier at every step and the
per-step logits averaged over time.

Both hold the same weights: torchvision's random ResNet-50 converted by
``conversion/convert_tsn_resnet.py`` and taken into LRCN by ``from_per_frame_model``, the peer's LSTM and
classifier copied into ours. A 16-frame clip of 224 x 224 frames, eval mode, channels_last CNNs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision
from torch import nn

from conversion.common import load_converted
from conversion.convert_tsn_resnet import convert_resnet_state_dict
from hf_videomodels.models.lrcn import LRCNForVideoClassification
from hf_videomodels.models.tsn import TSNForVideoClassification

NUM_FRAMES = 16


class TorchvisionLRCN(nn.Module):
    """torchvision ResNet per frame -> ``nn.LSTM`` -> linear per step -> mean (or last) over the steps."""

    def __init__(self, resnet: nn.Module, num_labels: int, hidden_size: int, prediction: str = "mean", **lstm):
        super().__init__()
        features = resnet.fc.in_features
        resnet.fc = nn.Identity()
        self.resnet, self.prediction = resnet, prediction
        self.lstm = nn.LSTM(features, hidden_size, batch_first=True, **lstm)
        self.classifier = nn.Linear(hidden_size * (2 if self.lstm.bidirectional else 1), num_labels)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        features = self.resnet(pixel_values.flatten(0, 1)).unflatten(0, pixel_values.shape[:2])
        per_step = self.classifier(self.lstm(features)[0])
        return per_step.mean(dim=1) if self.prediction == "mean" else per_step[:, -1]


def matched_pair(
    resnet: nn.Module, num_labels: int = 400, hidden_size: int = 512, prediction: str = "mean", **lstm
) -> tuple[LRCNForVideoClassification, TorchvisionLRCN]:
    """Ours and the peer around a torchvision ``resnet`` (random weights), eval mode, with the same weights."""
    tsn = load_converted(TSNForVideoClassification, *convert_resnet_state_dict(resnet.state_dict(), "torchvision"))
    peer = TorchvisionLRCN(resnet, num_labels, hidden_size, prediction, **lstm).eval()
    ours = LRCNForVideoClassification.from_per_frame_model(
        tsn,
        num_labels=num_labels,
        lstm_hidden_size=hidden_size,
        num_lstm_layers=peer.lstm.num_layers,
        bidirectional=peer.lstm.bidirectional,
        prediction=prediction,
    ).eval()
    ours.lrcn.lstm.load_state_dict(peer.lstm.state_dict())
    ours.classifier.load_state_dict(peer.classifier.state_dict())
    return ours, peer


def resnet50_lstm(device: torch.device):
    torch.manual_seed(0)
    ours, peer = matched_pair(torchvision.models.resnet50())
    ours, peer = (model.to(device, memory_format=torch.channels_last) for model in (ours, peer))
    pixel_values = torch.randn(1, NUM_FRAMES, 3, 224, 224, device=device)

    def call(model: nn.Module) -> Callable[[], torch.Tensor]:
        if model is ours:
            return lambda: ours(pixel_values).logits
        return lambda: peer(pixel_values)

    return call, ours, peer, pixel_values


def benchmark_pairs() -> dict[str, Callable[[torch.device], tuple]]:
    return {"LRCN resnet50 + LSTM vs torchvision resnet50 + nn.LSTM": resnet50_lstm}
