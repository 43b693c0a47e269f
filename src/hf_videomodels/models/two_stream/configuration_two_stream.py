"""Two-stream configuration: an RGB stream and an optical-flow stream, each any registered architecture, fused
late; optionally a RAFT model that computes the flow stream's input from the RGB frames."""

from __future__ import annotations

from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec
from transformers.models.auto.configuration_auto import CONFIG_MAPPING, AutoConfig

FUSION_MODES = ("logits", "softmax", "learned")
FLOW_MODES = ("clip", "stacked")
# TSN (Wang et al. 2016) stacks L = 5 flow pairs per segment: 10 input channels. Simonyan & Zisserman use L = 10.
TSN_FLOW_STACK = 5


def as_config(value: dict | PreTrainedConfig, name: str) -> PreTrainedConfig:
    """A sub-config given as a config or as its dict (with ``model_type``, as ``to_dict`` writes it)."""
    if isinstance(value, PreTrainedConfig):
        return value
    if not isinstance(value, dict) or "model_type" not in value:
        raise ValueError(f"{name} must be a config or a dict with its model_type, got {value!r}")
    model_type = value["model_type"]
    if model_type not in CONFIG_MAPPING:
        raise ValueError(f"{name} has unknown model_type {model_type!r} (import hf_videomodels to register its models)")
    return CONFIG_MAPPING[model_type](**{key: item for key, item in value.items() if key != "model_type"})


@strict
class TwoStreamConfig(PreTrainedConfig):
    r"""Configuration of a two-stream network (Simonyan & Zisserman, "Two-Stream Convolutional Networks for Action
    Recognition in Videos", NeurIPS 2014; TSN, Wang et al., ECCV 2016; the two-stream I3D of Carreira & Zisserman,
    CVPR 2017): an RGB stream sees the frames, a flow stream sees their optical flow, and their class scores are
    fused at the end.

    The defaults give the TSN set-up: a ResNet-50 per frame on RGB (8 segments) and on 5 stacked flow pairs per
    segment (10 channels), fused with weights 1 : 1.5.

    Args:
        rgb_config (`PreTrainedConfig` or `dict`, *optional*):
            Config of the RGB stream, any registered video classifier (a dict needs its `model_type`, e.g.
            `{"model_type": "hfvm_i3d", ...}`). Default: `TSNConfig()`.
        flow_config (`PreTrainedConfig` or `dict`, *optional*):
            Config of the flow stream; its `num_channels` is 2 for a flow clip (`flow_mode="clip"`, I3D) or `2 * L`
            for L stacked flow pairs (`flow_mode="stacked"`). Default: `TSNConfig(num_channels=10)`.
        flow_model_config (`PreTrainedConfig` or `dict`, *optional*):
            Config of the optical-flow model (`RaftConfig`) that computes the flow stream's input from RGB frames
            when no `flow_values` are given. None: flow must be given (`flow_values`).
        fusion (`str`, defaults to `"logits"`):
            How the streams' scores become one prediction: `"logits"`, the weighted sum of the streams' logits
            (DeepMind's two-stream I3D adds them; TSN weighs them 1 : 1.5); `"softmax"`, the weighted average of
            their softmax probabilities (returned as log-probabilities, so a softmax of the logits gives that
            average back); `"learned"`, a linear layer on both streams' logits, starting as the weighted sum.
        fusion_weights (`list[float]`, defaults to `(1.0, 1.5)`):
            (RGB, flow) weights of the fusion: TSN's 1 : 1.5 by default; (1, 1) for DeepMind's I3D.
        flow_mode (`str`, defaults to `"stacked"`):
            Layout of the flow stream's input, `(batch, frames, channels, height, width)`: `"stacked"`, each frame
            holds L consecutive flow fields, x and y interleaved (`2 * L` channels, Simonyan & Zisserman, TSN);
            `"clip"`, each frame is one flow field (2 channels; I3D's flow clip).
        flow_bound (`float`, defaults to 20.0):
            Computed flow is clipped to +-`flow_bound` pixels and divided by it, giving [-1, 1] (the I3D / TSN
            flow preprocessing). The flow model's own config sets its refinement iterations.
    """

    model_type = "hfvm_two_stream"
    fusion_modes: ClassVar[tuple[str, ...]] = FUSION_MODES
    flow_modes: ClassVar[tuple[str, ...]] = FLOW_MODES
    sub_configs_defaults = {
        "rgb_config": SubConfigSpec(config_class=AutoConfig, model_type="hfvm_tsn"),
        "flow_config": SubConfigSpec(
            config_class=AutoConfig,
            model_type="hfvm_tsn",
            init_kwargs={"num_channels": 2 * TSN_FLOW_STACK, "dropout_prob": 0.7},  # TSN's flow dropout
        ),
    }

    rgb_config: dict | PreTrainedConfig | None = None
    flow_config: dict | PreTrainedConfig | None = None
    # Not a sub_configs_defaults entry: that table needs a default model type resolvable at save time, and the
    # flow model is optional.
    flow_model_config: dict | PreTrainedConfig | None = None
    fusion: str = "logits"
    fusion_weights: list[float | int] | tuple[float | int, ...] = (1.0, 1.5)
    flow_mode: str = "stacked"
    flow_bound: float | int = 20.0

    def __post_init__(self, **kwargs):
        labels_given = self.id2label is not None or kwargs.get("num_labels") is not None
        self.fusion_weights = [float(weight) for weight in self.fusion_weights]
        if self.flow_model_config is not None:
            self.flow_model_config = as_config(self.flow_model_config, "flow_model_config")
        super().__post_init__(**kwargs)
        # One label space: the two-stream's labels are every stream's labels.
        if labels_given:
            self.share_labels()
        else:
            self.id2label, self.label2id = dict(self.rgb_config.id2label), dict(self.rgb_config.label2id)

    def share_labels(self) -> None:
        """Give both streams this config's labels (the models call it too: loading with new labels, for
        fine-tuning, sets them on this config only)."""
        for stream in self.stream_configs:
            stream.id2label, stream.label2id = dict(self.id2label), dict(self.label2id)

    @property
    def stream_configs(self) -> tuple[PreTrainedConfig, PreTrainedConfig]:
        return self.rgb_config, self.flow_config

    @property
    def flow_stack_length(self) -> int:
        """Flow fields per frame of the flow stream's input: L for `"stacked"`, 1 for `"clip"`."""
        return self.flow_config.num_channels // 2

    def validate_architecture(self):
        super().validate_architecture()
        if self.fusion not in self.fusion_modes:
            raise ValueError(f"fusion must be one of {self.fusion_modes}, got {self.fusion!r}")
        weights = self.fusion_weights
        if len(weights) != 2 or min(weights) < 0 or sum(weights) == 0:
            raise ValueError(f"fusion_weights must be two non-negative (RGB, flow) weights, not both 0; got {weights}")
        if self.flow_mode not in self.flow_modes:
            raise ValueError(f"flow_mode must be one of {self.flow_modes}, got {self.flow_mode!r}")
        if getattr(self.rgb_config, "num_channels", 3) != 3:
            raise ValueError(f"the RGB stream must take 3 channels, its config has {self.rgb_config.num_channels}")
        flow_channels = getattr(self.flow_config, "num_channels", None)
        if flow_channels is None or flow_channels % 2 or (self.flow_mode == "clip" and flow_channels != 2):
            expected = "2 (x, y)" if self.flow_mode == "clip" else "2 * L (L stacked x, y pairs)"
            raise ValueError(
                f"flow_mode={self.flow_mode!r} needs a flow stream with num_channels={expected}, got {flow_channels}"
            )
        for name, stream in zip(("rgb_config", "flow_config"), self.stream_configs):
            if stream.num_labels != self.num_labels:
                raise ValueError(
                    f"{name} has {stream.num_labels} labels but the two-stream config {self.num_labels}: the streams' "
                    "scores are fused class by class, so they need one label set"
                )
        if not self.flow_bound > 0:
            raise ValueError(f"flow_bound must be positive, got {self.flow_bound}")


__all__ = ["TwoStreamConfig"]
