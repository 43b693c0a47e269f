"""LRCN configuration: a per-frame CNN (a TSN ResNet) followed by an LSTM."""

from __future__ import annotations

import copy
from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ..tsn.configuration_tsn import TSNConfig

# Settings of the nested CNN config that the LRCN config owns: the CNN always sees the clips LRCN sees.
SHARED_INPUT_SETTINGS = ("num_frames", "image_size")


@strict
class LRCNConfig(PreTrainedConfig):
    r"""Configuration of LRCN, a Long-term Recurrent Convolutional Network (Donahue et al., "Long-term Recurrent
    Convolutional Networks for Visual Recognition and Description", CVPR 2015) for video classification: a 2D
    CNN encodes every frame, an LSTM runs over the frame features, every time step predicts the class, and the
    clip's prediction is the average of the steps' predictions.

    The CNN is the package's per-frame ResNet (TSN's, ResNet-50 by default), so it can start from ImageNet weights
    converted from torchvision, transformers or timm (see `LRCNPreTrainedModel.from_per_frame_model`).

    Args:
        cnn_config (`dict` or `TSNConfig`, *optional*):
            The per-frame CNN (a `TSNConfig` or its dict: depth 18/34/50/101/152, widths, ...). Defaults to
            `TSNConfig()`, ResNet-50. Its own classification settings (labels, consensus, dropout) are unused:
            only its backbone is part of LRCN. Its `num_frames` and `image_size` are set from this config's.
        num_frames (`int`, defaults to 16):
            Frames per clip the model is meant to see (LRCN's 16-frame clips). The LSTM takes any length, and clips
            of different lengths in one batch through the forward's `frame_mask` / `lengths`.
        image_size (`int`, defaults to 224):
            Height and width of the frames (the CNN ends in a global average pool, so other sizes work too).
        lstm_hidden_size (`int`, defaults to 512):
            Hidden units of each LSTM direction.
        num_lstm_layers (`int`, defaults to 1):
            Stacked LSTM layers.
        bidirectional (`bool`, defaults to `False`):
            Also run an LSTM backwards in time and concatenate both directions' outputs at every step (so the
            output has `2 * lstm_hidden_size` features).
        lstm_dropout_prob (`float`, defaults to 0.0):
            Dropout between stacked LSTM layers (PyTorch's `nn.LSTM(dropout=...)`; unused with one layer).
        dropout_prob (`float`, defaults to 0.5):
            Dropout on the LSTM outputs before the classifier.
        prediction (`str`, defaults to `"mean"`):
            How the per-step logits become the clip's: `"mean"`, their average over the clip's real frames (LRCN's
            prediction), or `"last"`, the logits of the clip's last real frame (the step that has seen the whole
            clip going forwards; with `bidirectional=True` its backward half has seen only that frame).
        initializer_range (`float`, defaults to 0.02):
            Standard deviation of the truncated normal initialisation of the classifier.
    """

    model_type = "hfvm_lrcn"
    sub_configs_defaults: ClassVar = {"cnn_config": TSNConfig}
    prediction_modes: ClassVar[tuple[str, ...]] = ("mean", "last")

    cnn_config: dict | TSNConfig | None = None
    num_frames: int = 16
    image_size: int = 224
    lstm_hidden_size: int = 512
    num_lstm_layers: int = 1
    bidirectional: bool = False
    lstm_dropout_prob: float | int = 0.0
    dropout_prob: float | int = 0.5
    prediction: str = "mean"
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        if isinstance(self.cnn_config, TSNConfig):  # a copy: the caller's config is not ours to change
            self.cnn_config = copy.deepcopy(self.cnn_config)
        super().__post_init__(**kwargs)  # builds cnn_config (a TSNConfig) from a dict or the defaults
        for name in SHARED_INPUT_SETTINGS:
            setattr(self.cnn_config, name, getattr(self, name))

    @property
    def num_channels(self) -> int:
        """Input channels, the CNN's (3 for RGB)."""
        return self.cnn_config.num_channels

    @property
    def cnn_hidden_size(self) -> int:
        """Features per frame the CNN gives the LSTM (2048 for ResNet-50)."""
        return self.cnn_config.hidden_size

    @property
    def hidden_size(self) -> int:
        """Features of every LSTM output step: `lstm_hidden_size`, doubled when bidirectional."""
        return self.lstm_hidden_size * (2 if self.bidirectional else 1)

    def validate_architecture(self):
        super().validate_architecture()
        for name in ("num_frames", "image_size", "lstm_hidden_size", "num_lstm_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive int, got {getattr(self, name)}")
        for name in ("lstm_dropout_prob", "dropout_prob"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.prediction not in self.prediction_modes:
            raise ValueError(f"prediction must be one of {self.prediction_modes}, got {self.prediction!r}")


__all__ = ["LRCNConfig"]
