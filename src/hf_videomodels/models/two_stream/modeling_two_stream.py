"""Two-stream networks: an RGB stream and an optical-flow stream, fused late (Simonyan & Zisserman 2014; TSN,
Wang et al. 2016; the two-stream I3D of Carreira & Zisserman 2017).

Each stream is a whole video classifier of the package (any registered architecture, built from its own config), so
a converted single-stream checkpoint drops in as a stream unchanged. The flow stream's input is either given
(``flow_values``: precomputed flow, prepared by the flow processor) or computed here by the optional flow model
(RAFT) from ``flow_frames``, the RGB frames the video processor samples for it. RAFT lives in the model, not in the
processor, so that one saved folder holds everything (``save_pretrained`` writes both streams and RAFT into one
safetensors file) and ``pipeline("video-classification")`` runs on a plain video file with the standard
processor / model pair; RAFT stays fixed (no gradients, eval mode) when the streams are fine-tuned.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, AutoModelForVideoClassification, PreTrainedModel
from transformers.utils import ModelOutput

from ...flow_processing import scale_flow
from ...modeling_utils import VideoClassificationMixin, VideoPreTrainedModel, check_video_input, output_flags
from .configuration_two_stream import TwoStreamConfig


@dataclass
class TwoStreamModelOutput(ModelOutput):
    r"""Output of :class:`TwoStreamModel`: each stream's class scores before fusion.

    Args:
        rgb_logits (`torch.FloatTensor` of shape `(batch, num_labels)`): the RGB stream's logits.
        flow_logits (`torch.FloatTensor` of shape `(batch, num_labels)`): the flow stream's logits.
        flow_values (`torch.FloatTensor` of shape `(batch, frames, channels, height, width)`): the flow stream's
            input, as given or as computed by the flow model (clipped and scaled to [-1, 1]).
        hidden_states (`tuple(torch.FloatTensor)`, *optional*): the RGB stream's hidden states, then the flow
            stream's (with `output_hidden_states=True`).
        attentions (`tuple(torch.FloatTensor)`, *optional*): the same for attention maps (transformer streams).
    """

    rgb_logits: torch.FloatTensor | None = None
    flow_logits: torch.FloatTensor | None = None
    flow_values: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


def _joined(first, second):
    """Two optional tuples of per-layer outputs, one after the other (None when neither has any)."""
    if first is None and second is None:
        return None
    return tuple(first or ()) + tuple(second or ())


class LateFusion(nn.Module):
    """Fuses the two streams' logits ``(batch, num_labels)`` as ``config.fusion`` says (see :class:`TwoStreamConfig`).

    ``"learned"`` is a linear layer on the concatenated logits, initialised to the weighted sum (a scaled identity
    per stream, zero bias), so a fresh fusion layer starts where the fixed fusion is.
    """

    def __init__(self, config: TwoStreamConfig):
        super().__init__()
        self.mode = config.fusion
        self.rgb_weight, self.flow_weight = config.fusion_weights
        self.layer = nn.Linear(2 * config.num_labels, config.num_labels) if self.mode == "learned" else None
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        if self.layer is None:
            return
        num_labels = self.layer.out_features
        identity = torch.eye(num_labels, device=self.layer.weight.device, dtype=self.layer.weight.dtype)
        self.layer.weight.copy_(torch.cat([self.rgb_weight * identity, self.flow_weight * identity], dim=1))
        self.layer.bias.zero_()

    def forward(self, rgb_logits: torch.Tensor, flow_logits: torch.Tensor) -> torch.Tensor:
        if self.mode == "logits":
            return self.rgb_weight * rgb_logits + self.flow_weight * flow_logits
        if self.mode == "softmax":
            # log(w_r p_r + w_f p_f) - log(w_r + w_f), in log space (a zero weight contributes log 0 = -inf).
            weighted = torch.stack(
                [
                    rgb_logits.log_softmax(-1) + math.log(self.rgb_weight or 1e-45),
                    flow_logits.log_softmax(-1) + math.log(self.flow_weight or 1e-45),
                ]
            )
            return weighted.logsumexp(0) - math.log(self.rgb_weight + self.flow_weight)
        return self.layer(torch.cat([rgb_logits, flow_logits], dim=-1))


class TwoStreamPreTrainedModel(VideoPreTrainedModel):
    config_class = TwoStreamConfig
    base_model_prefix = "two_stream"
    # RGB clips, precomputed flow, and the RGB frames the flow model computes flow from (when flow_values is not
    # given): all (batch, frames, channels, H, W) with the same views, so folding and collation apply to each.
    video_input_names = ("pixel_values", "flow_values", "flow_frames")

    def _init_weights(self, module: nn.Module) -> None:
        # The streams and the flow model are pre-trained models of their own: transformers dispatches their
        # modules to their own _init_weights. A learned fusion layer starts as the weighted sum.
        fusion = getattr(self, "fusion", None)
        if fusion is not None and module is fusion.layer:
            fusion.reset_parameters()
        else:
            super()._init_weights(module)


class TwoStreamModel(TwoStreamPreTrainedModel):
    """The two streams (whole classifiers) and the optional flow model, without the fusion.

    Inputs: ``pixel_values`` (batch, frames, 3, height, width) for the RGB stream; ``flow_values`` (batch, frames,
    channels, height, width) for the flow stream (``config.flow_config.num_channels`` channels), or instead
    ``flow_frames`` (batch, frames, 3, height, width), RGB frames in RAFT's [-1, 1] scaling from which the flow model
    computes the flow (see :meth:`compute_flow`).

    Output (``TwoStreamModelOutput``): ``rgb_logits`` and ``flow_logits`` (batch, num_labels), ``flow_values`` (the
    flow stream's input), and the streams' ``hidden_states`` / ``attentions`` (the RGB stream's, then the flow
    stream's) when asked for.
    """

    def __init__(self, config: TwoStreamConfig):
        super().__init__(config)
        config.share_labels()
        self.rgb_stream = AutoModelForVideoClassification.from_config(config.rgb_config)
        self.flow_stream = AutoModelForVideoClassification.from_config(config.flow_config)
        self.flow_model = None
        if config.flow_model_config is not None:
            self.flow_model = AutoModel.from_config(config.flow_model_config).eval()
        self.post_init()

    def to_preferred_memory_format(self):
        for stream in (self.rgb_stream, self.flow_stream):
            if isinstance(stream, VideoPreTrainedModel):
                stream.to_preferred_memory_format()
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        if self.flow_model is not None:
            self.flow_model.eval()  # fixed: its BatchNorm statistics must not follow the fine-tuning data
        return self

    @torch.no_grad()
    def compute_flow(self, flow_frames: torch.Tensor) -> torch.Tensor:
        """The flow stream's input from RGB frames ``(batch, frames, 3, H, W)`` scaled to [-1, 1] (RAFT's input):

        - ``flow_mode="clip"``: the flow of every consecutive pair, ``(batch, frames - 1, 2, H, W)``;
        - ``flow_mode="stacked"``: the frames are groups of L + 1 consecutive frames (one group per segment, L =
          ``config.flow_stack_length``), each giving L flow fields stacked with x and y interleaved:
          ``(batch, frames / (L + 1), 2 * L, H, W)``.

        The flow (in pixels) is clipped to +-``config.flow_bound`` and divided by it. No gradients: the flow model
        is fixed.
        """
        if self.flow_model is None:
            raise ValueError(
                "no flow_values were given and this two-stream model has no flow model (config.flow_model_config) to "
                "compute them from flow_frames: pass precomputed flow as flow_values, or build the model with a RAFT"
            )
        check_video_input(flow_frames, 3, name="flow_frames")
        batch, frames = flow_frames.shape[:2]
        if self.config.flow_mode == "clip":
            if frames < 2:
                raise ValueError(f"flow_frames needs at least 2 frames for one flow field, got {frames}")
            flow = self.flow_model.clip_flow(flow_frames)
        else:
            group = self.config.flow_stack_length + 1
            if frames % group:
                raise ValueError(
                    f"flow_frames with flow_mode='stacked' must hold groups of {group} consecutive frames (L + 1 for "
                    f"L = {group - 1} stacked flow fields per segment), got {frames} frames"
                )
            groups = flow_frames.reshape(batch * (frames // group), group, *flow_frames.shape[2:])
            flow = self.flow_model.clip_flow(groups)  # (batch * segments, L, 2, H, W)
            flow = flow.reshape(batch, frames // group, 2 * (group - 1), *flow.shape[-2:])
        return scale_flow(flow, float(self.config.flow_bound))

    def forward(
        self,
        pixel_values: torch.Tensor,
        flow_values: torch.Tensor | None = None,
        flow_frames: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> TwoStreamModelOutput | tuple:
        r"""Run both streams.

        Args:
            pixel_values (`torch.Tensor`):
                RGB clips `(batch, frames, 3, height, width)` for the RGB stream, from the video processor.
            flow_values (`torch.Tensor`, *optional*):
                The flow stream's input `(batch, frames, channels, height, width)`, flow scaled to [-1, 1] (the flow
                processor's output, or precomputed). When given, the flow model is not used.
            flow_frames (`torch.Tensor`, *optional*):
                RGB frames `(batch, frames, 3, height, width)` in [-1, 1] from which the flow model computes
                `flow_values` (see :meth:`compute_flow`); the video processor returns them for a plain video.
            output_hidden_states (`bool`, *optional*):
                Also return both streams' hidden states (RGB first). Defaults to `config.output_hidden_states`.
            output_attentions (`bool`, *optional*):
                Also return both streams' attention maps, for streams that have them.
            return_dict (`bool`, *optional*):
                Return a `TwoStreamModelOutput` (default `config.return_dict`) or a tuple of its non-None fields.
        """
        output_hidden_states, output_attentions, return_dict = output_flags(
            self.config, output_hidden_states, output_attentions, return_dict
        )
        check_video_input(pixel_values, 3)
        if flow_values is None:
            if flow_frames is None:
                raise ValueError(
                    "the flow stream needs flow_values (flow scaled to [-1, 1]) or flow_frames (RGB frames for the "
                    "flow model); the two-stream video processor returns one of them"
                )
            flow_values = self.compute_flow(flow_frames)
        check_video_input(flow_values, self.config.flow_config.num_channels, name="flow_values")
        stream_kwargs = {"output_hidden_states": output_hidden_states, "return_dict": True}
        if output_attentions:
            stream_kwargs["output_attentions"] = True
        rgb = self.rgb_stream(pixel_values, **stream_kwargs)
        flow = self.flow_stream(flow_values, **stream_kwargs)
        output = TwoStreamModelOutput(
            rgb_logits=rgb.logits,
            flow_logits=flow.logits,
            flow_values=flow_values,
            hidden_states=_joined(rgb.hidden_states, flow.hidden_states) if output_hidden_states else None,
            attentions=_joined(getattr(rgb, "attentions", None), getattr(flow, "attentions", None)),
        )
        return output if return_dict else output.to_tuple()


class TwoStreamForVideoClassification(VideoClassificationMixin, TwoStreamPreTrainedModel):
    """Two-stream video classification: the RGB and flow streams' logits fused by ``config.fusion`` (weighted sum
    of logits, weighted average of softmax scores, or a learned layer). ``stream_logits(...)`` gives each stream's
    logits, to see what each stream predicts."""

    def __init__(self, config: TwoStreamConfig):
        super().__init__(config)
        self.two_stream = TwoStreamModel(config)
        self.fusion = LateFusion(config)
        self.post_init()

    def to_preferred_memory_format(self):
        self.two_stream.to_preferred_memory_format()
        return self

    @classmethod
    def from_streams(
        cls,
        rgb_stream: PreTrainedModel,
        flow_stream: PreTrainedModel,
        flow_model: PreTrainedModel | None = None,
        **config,
    ) -> TwoStreamForVideoClassification:
        """A two-stream model from two trained single-stream classifiers (and optionally a flow model), their weights
        copied unchanged; ``config`` sets the rest of :class:`TwoStreamConfig` (``fusion``, ``fusion_weights``,
        ``flow_mode``, ...). The streams must share one label set, which becomes the model's."""
        if rgb_stream.config.id2label != flow_stream.config.id2label:
            raise ValueError(
                f"the streams have different labels ({rgb_stream.config.num_labels} vs {flow_stream.config.num_labels} "
                "classes, or other names): late fusion adds their scores class by class"
            )
        two_stream_config = TwoStreamConfig(
            rgb_config=copy.deepcopy(rgb_stream.config),
            flow_config=copy.deepcopy(flow_stream.config),
            flow_model_config=copy.deepcopy(flow_model.config) if flow_model is not None else None,
            id2label=dict(rgb_stream.config.id2label),
            label2id=dict(rgb_stream.config.label2id),
            problem_type=rgb_stream.config.problem_type,
            **config,
        )
        model = cls(two_stream_config)
        parts = {"rgb_stream": rgb_stream, "flow_stream": flow_stream}
        if flow_model is not None:
            parts["flow_model"] = flow_model
        for name, part in parts.items():
            getattr(model.two_stream, name).load_state_dict(part.state_dict(), strict=True)
        return model.eval()

    def stream_logits(
        self,
        pixel_values: torch.Tensor,
        flow_values: torch.Tensor | None = None,
        flow_frames: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rgb_logits, flow_logits)``, each ``(batch, num_labels)``: the two streams before fusion."""
        outputs = self.two_stream(pixel_values, flow_values=flow_values, flow_frames=flow_frames, return_dict=True)
        return outputs.rgb_logits, outputs.flow_logits

    def compute_logits(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
        flow_values: torch.Tensor | None = None,
        flow_frames: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, TwoStreamModelOutput]:
        outputs = self.two_stream(
            pixel_values,
            flow_values=flow_values,
            flow_frames=flow_frames,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=True,
        )
        return self.fusion(outputs.rgb_logits, outputs.flow_logits), outputs


__all__ = ["TwoStreamForVideoClassification", "TwoStreamModel", "TwoStreamPreTrainedModel"]
