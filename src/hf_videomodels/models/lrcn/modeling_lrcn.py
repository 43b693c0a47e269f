"""LRCN: a per-frame CNN followed by an LSTM (Donahue et al., "Long-term Recurrent Convolutional Networks for
Visual Recognition and Description", CVPR 2015), predicting at every time step and averaging the predictions.

The CNN is the package's per-frame ResNet (:class:`~hf_videomodels.models.tsn.TSNModel`), so the recipe of the
paper (an ImageNet CNN, then an LSTM trained on top) starts from any ImageNet ResNet converted by TSN's converters
(torchvision, transformers, timm): :meth:`LRCNPreTrainedModel.from_per_frame_model`.

Clips of different lengths share a batch: ``frame_mask`` (batch, frames) or ``lengths`` (batch,) marks each
clip's real frames, which come first (padding at the end). Padded frames never reach the CNN (so they cannot
move BatchNorm statistics in training), the LSTM runs on packed sequences (so the backward direction of a
bidirectional LSTM starts at each clip's own last frame), and the per-step results are combined over the real
steps only: a padded clip gets the prediction it gets alone.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers import FrameConsensus
from ...layers.consensus import check_frame_mask
from ...modeling_utils import VideoClassificationMixin, VideoPreTrainedModel, check_video_input, output_flags
from ..tsn.configuration_tsn import TSNConfig
from ..tsn.modeling_tsn import TSNForVideoClassification, TSNModel
from .configuration_lrcn import LRCNConfig

# Config fields of a per-frame classifier that say nothing about its CNN (a converted ImageNet ResNet's 1000
# class names would otherwise be copied into every LRCN config).
_LABEL_FIELDS = ("id2label", "label2id", "num_labels", "problem_type", "architectures", "_name_or_path")


def clip_lengths(frame_mask: torch.Tensor | None, lengths, pixel_values: torch.Tensor) -> torch.Tensor | None:
    """Real frames per clip of ``pixel_values``, (batch,) int64 on its device, from ``frame_mask`` or ``lengths``;
    None when no clip is padded.

    Raises a ValueError naming the problem for a mask that is not (batch, frames), has a clip without frames or
    real frames after padding, for lengths outside [1, frames], or when both are given.
    """
    if frame_mask is not None and lengths is not None:
        raise ValueError("give frame_mask or lengths, not both")
    batch_size, num_frames = pixel_values.shape[:2]
    checkable = not torch.compiler.is_compiling()
    if frame_mask is not None:
        frame_mask = check_frame_mask(torch.as_tensor(frame_mask, device=pixel_values.device), batch_size, num_frames)
        lengths = frame_mask.sum(dim=1)
        if checkable and not torch.equal(frame_mask, steps_mask(lengths, num_frames)):
            row = int((frame_mask != steps_mask(lengths, num_frames)).any(dim=1).nonzero()[0])
            raise ValueError(
                "frame_mask must mark each clip's real frames first and its padding after them (the LSTM reads "
                f"the frames in order); row {row} is {frame_mask[row].int().tolist()}"
            )
    elif lengths is not None:
        lengths = torch.as_tensor(lengths, device=pixel_values.device)
        if lengths.shape != (batch_size,) or lengths.is_floating_point() or lengths.dtype == torch.bool:
            raise ValueError(
                f"lengths must be integers shaped (batch,) = ({batch_size},), got {lengths.dtype} "
                f"{tuple(lengths.shape)}"
            )
        if checkable and not bool(((lengths >= 1) & (lengths <= num_frames)).all()):
            raise ValueError(f"lengths must lie in [1, {num_frames}] (the clips' frame count), got {lengths.tolist()}")
    else:
        return None
    lengths = lengths.long()
    if checkable and bool((lengths == num_frames).all()):
        return None  # nothing padded: the plain (and compilable) path
    return lengths


def steps_mask(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(batch, frames) bool, True at the first ``lengths[i]`` steps of clip i."""
    return torch.arange(num_frames, device=lengths.device) < lengths[:, None]


class LRCNStepPooling(nn.Module):
    """Per-step vectors (batch, steps, features) -> one per clip (batch, features) by ``prediction``: the
    average over each clip's real steps ("mean", the shared :class:`FrameConsensus` with a mask) or its last real
    step ("last"). ``lengths`` None means every step is real."""

    def __init__(self, prediction: str):
        super().__init__()
        self.prediction = prediction
        self.consensus = FrameConsensus("mean")

    def forward(self, per_step: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.prediction == "last":
            if lengths is None:
                return per_step[:, -1]
            return per_step[torch.arange(per_step.shape[0], device=per_step.device), lengths.to(per_step.device) - 1]
        mask = None if lengths is None else steps_mask(lengths, per_step.shape[1])
        return self.consensus(per_step, mask)

    def extra_repr(self) -> str:
        return f"prediction={self.prediction!r}"


class LRCNPreTrainedModel(VideoPreTrainedModel):
    config_class = LRCNConfig
    base_model_prefix = "lrcn"
    _no_split_modules = ["TSNResidualBlock"]

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.LSTM):
            # PyTorch's own LSTM initialisation, U(-1/sqrt(hidden), 1/sqrt(hidden)) for every weight and bias,
            # written with transformers' init functions so weights loaded from a checkpoint are left alone.
            bound = module.hidden_size**-0.5
            for parameter in module.parameters():
                init.uniform_(parameter, -bound, bound)
            return
        super()._init_weights(module)

    @classmethod
    def from_per_frame_model(
        cls, per_frame_model: nn.Module | str | os.PathLike, cnn_overrides: dict | None = None, **config_kwargs
    ):
        """A new model whose CNN is ``per_frame_model``'s and whose LSTM and classifier are fresh: LRCN's recipe of
        starting from an ImageNet CNN.

        Args:
            per_frame_model: a TSN model (`TSNModel` or `TSNForVideoClassification`, e.g. an ImageNet ResNet
                converted from torchvision, timm or transformers by `conversion/convert_tsn_resnet.py`), or the
                folder / Hub id of one. Its classifier (the ImageNet head) and labels are not used.
            cnn_overrides: settings of the CNN's config to change that keep its weights, e.g.
                `{"partial_batch_norm": False}` (converted ImageNet models turn TSN's partial BatchNorm on).
            **config_kwargs: the rest of the `LRCNConfig` (`num_labels`, `lstm_hidden_size`, `prediction`, ...).
                `image_size` defaults to the CNN's; `num_frames` to LRCN's 16 (not TSN's segment count).
        """
        if not isinstance(per_frame_model, nn.Module):
            saved = TSNConfig.from_pretrained(per_frame_model)
            # Load the class that was saved (a converted ImageNet model keeps its head), so nothing is reported
            # as unexpected or missing; only its CNN is used.
            with_head = "TSNForVideoClassification" in (saved.architectures or [])
            per_frame_model = (TSNForVideoClassification if with_head else TSNModel).from_pretrained(
                per_frame_model, config=saved
            )
        cnn = getattr(per_frame_model, "base_model", per_frame_model)
        if not isinstance(cnn, TSNModel):
            raise TypeError(
                f"from_per_frame_model takes a TSN model (TSNModel or TSNForVideoClassification) or its folder, got "
                f"{type(per_frame_model).__name__}; convert an ImageNet ResNet with conversion/convert_tsn_resnet.py"
            )
        if "cnn_config" in config_kwargs:
            raise ValueError("the CNN's config comes from the per-frame model: change its settings with cnn_overrides")
        cnn_settings = {k: v for k, v in cnn.config.to_dict().items() if k not in _LABEL_FIELDS}
        cnn_settings.update(cnn_overrides or {})
        config_kwargs.setdefault("image_size", cnn_settings["image_size"])  # the size the CNN was trained at
        model = cls(LRCNConfig(cnn_config=TSNConfig(**cnn_settings), **config_kwargs))
        model.base_model.cnn.load_state_dict(cnn.state_dict())
        return model


class LRCNModel(LRCNPreTrainedModel):
    """The LRCN backbone: the per-frame CNN and the LSTM, without the classifier.

    Input: ``pixel_values`` (batch, frames, channels, height, width), and optionally ``frame_mask`` or ``lengths``
    for clips padded to a common length (see the module docstring).

    Output (``BaseModelOutputWithPooling``):

    - ``last_hidden_state``: the LSTM's output at every step, (batch, frames, ``config.hidden_size``)
      (``lstm_hidden_size``, doubled when bidirectional: forward then backward features); zero at padded steps;
    - ``pooler_output``: the steps combined as the classifier combines its per-step logits
      (``config.prediction``): the average over each clip's real steps ("mean") or its last real step ("last"),
      (batch, ``config.hidden_size``). The classifier is linear, so without dropout its logits are the
      classifier applied to this pooled output;
    - ``hidden_states`` (with ``output_hidden_states=True``): the CNN's hidden states (those of `TSNModel`, for
      every frame; zero for padded frames), then the per-frame CNN features the LSTM reads,
      (batch, frames, ``config.cnn_hidden_size``).
    """

    def __init__(self, config: LRCNConfig):
        super().__init__(config)
        self.cnn = TSNModel(config.cnn_config)
        self.lstm = nn.LSTM(
            config.cnn_hidden_size,
            config.lstm_hidden_size,
            num_layers=config.num_lstm_layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.lstm_dropout_prob if config.num_lstm_layers > 1 else 0.0,
        )
        self.pooling = LRCNStepPooling(config.prediction)
        self.post_init()

    def frame_features(
        self, pixel_values: torch.Tensor, lengths: torch.Tensor | None, output_hidden_states: bool = False
    ) -> tuple[torch.Tensor, tuple | None]:
        """Per-frame CNN features (batch, frames, cnn_hidden_size), zero for padded frames, and the CNN's hidden
        states. Only the real frames go through the CNN: in training, padding would otherwise enter BatchNorm's
        batch statistics and running averages."""
        if lengths is None:
            outputs = self.cnn(pixel_values, output_hidden_states=output_hidden_states, return_dict=True)
            return outputs.pooler_output, outputs.hidden_states
        mask = steps_mask(lengths, pixel_values.shape[1])
        # The real frames of the whole batch, as one long clip: the CNN treats every frame alike.
        outputs = self.cnn(pixel_values[mask][None], output_hidden_states=output_hidden_states, return_dict=True)
        features = _scatter_frames(outputs.pooler_output, mask)
        hidden_states = None
        if outputs.hidden_states is not None:
            hidden_states = tuple(_scatter_frames(h, mask) for h in outputs.hidden_states)
        return features, hidden_states

    def run_lstm(self, features: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """LSTM outputs at every step (batch, frames, hidden_size), zero at padded steps. Padded clips run as
        packed sequences, so each clip's recurrence (both directions) sees only its real frames."""
        if lengths is None:
            return self.lstm(features)[0]
        packed = pack_padded_sequence(features, lengths.cpu(), batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=features.shape[1])[0]

    def forward(
        self,
        pixel_values: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling | tuple:
        r"""Run the CNN on every real frame and the LSTM over the clip.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips `(batch, frames, channels, height, width)` from the video processor. NaN or infinite
                values are refused (except under `torch.compile`).
            frame_mask (`torch.Tensor`, *optional*):
                `(batch, frames)` bool (or 0/1): True at each clip's real frames, which come first, padding after.
                Every clip needs at least one real frame.
            lengths (`torch.Tensor`, *optional*):
                `(batch,)` integers in `[1, frames]`: the number of real frames at the start of each clip. Give
                `frame_mask` or `lengths`, not both; with neither, every frame is real.
            output_hidden_states (`bool`, *optional*):
                Also return the CNN's hidden states and the per-frame features (see the class docstring). Defaults
                to `config.output_hidden_states`.
            output_attentions (`bool`, *optional*):
                Accepted for a uniform API and ignored: LRCN has no attention maps.
            return_dict (`bool`, *optional*):
                Return a `BaseModelOutputWithPooling` (the default, `config.return_dict`) or a tuple
                `(last_hidden_state, pooler_output[, hidden_states])`.
        """
        output_hidden_states, _, return_dict = output_flags(self.config, output_hidden_states, False, return_dict)
        check_video_input(pixel_values, self.config.num_channels)
        lengths = clip_lengths(frame_mask, lengths, pixel_values)
        features, cnn_hidden_states = self.frame_features(pixel_values, lengths, output_hidden_states)
        per_step = self.run_lstm(features, lengths)
        pooled = self.pooling(per_step, lengths)

        hidden_states = (*cnn_hidden_states, features) if output_hidden_states else None
        if not return_dict:
            return tuple(v for v in (per_step, pooled, hidden_states) if v is not None)
        return BaseModelOutputWithPooling(last_hidden_state=per_step, pooler_output=pooled, hidden_states=hidden_states)


def _scatter_frames(real_frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-frame tensors of the batch's real frames, ``(1, real frames, ...)`` -> ``(batch, frames, ...)`` with
    zeros at the padded frames."""
    out = real_frames.new_zeros(*mask.shape, *real_frames.shape[2:])
    out[mask] = real_frames[0]
    return out


class LRCNForVideoClassification(VideoClassificationMixin, LRCNPreTrainedModel):
    """LRCN with its head: dropout and a linear classifier on the LSTM output of every step, giving per-step
    logits that are combined over each clip's real steps by ``config.prediction`` (the average, LRCN's
    prediction, or the last step). ``step_logits`` gives the per-step logits.
    """

    extra_model_inputs = ("frame_mask", "lengths")

    def __init__(self, config: LRCNConfig):
        super().__init__(config)
        self.lrcn = LRCNModel(config)
        self.dropout = nn.Dropout(config.dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.pooling = LRCNStepPooling(config.prediction)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ):
        r"""Classify a batch of clips (see `VideoClassificationMixin.forward` for `pixel_values`, `labels`, the
        output switches and the returned `ImageClassifierOutput`).

        Args:
            frame_mask (`torch.Tensor`, *optional*):
                `(batch, frames)` bool (or 0/1), True at each clip's real frames, which come first.
            lengths (`torch.Tensor`, *optional*):
                `(batch,)` integers in `[1, frames]`, each clip's number of real frames. Give `frame_mask` or
                `lengths`, not both. For multi-view (6-D) `pixel_values` they are per video and apply to all its
                views.
        """
        return super().forward(
            pixel_values,
            labels=labels,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=return_dict,
            frame_mask=frame_mask,
            lengths=lengths,
            **kwargs,
        )

    def _step_logits(self, pixel_values, frame_mask, lengths, output_hidden_states=False):
        outputs = self.lrcn(
            pixel_values, frame_mask, lengths, output_hidden_states=output_hidden_states, return_dict=True
        )
        lengths = clip_lengths(frame_mask, lengths, pixel_values)  # valid: the model checked them
        return self.classifier(self.dropout(outputs.last_hidden_state)), lengths, outputs

    def step_logits(
        self, pixel_values: torch.Tensor, frame_mask: torch.Tensor | None = None, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits of every time step, (batch, frames, num_labels) (padded steps give the classifier's bias)."""
        return self._step_logits(pixel_values, frame_mask, lengths)[0]

    def compute_logits(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
        frame_mask: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, BaseModelOutputWithPooling]:
        per_step, lengths, outputs = self._step_logits(pixel_values, frame_mask, lengths, output_hidden_states)
        return self.pooling(per_step, lengths), outputs


__all__ = ["LRCNForVideoClassification", "LRCNModel", "LRCNPreTrainedModel"]
