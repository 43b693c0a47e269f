"""Pieces every architecture's modeling file shares: the pre-trained base, the classification forward
(multi-view folding, loss by ``problem_type``) and its output type."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling, ImageClassifierOutput

from .errors import UserInputError
from .layers.consensus import FrameConsensus
from .layers.fuse import fold_batch_norms, has_folded_batch_norms

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")
# How the scores of a video's views are combined (a video processor's ``view_fusion``).
VIEW_FUSIONS = ("logits", "softmax")


def check_video_input(pixel_values: torch.Tensor, num_channels: int, name: str = "pixel_values") -> None:
    """Fail early, with the shape we expect, instead of deep inside a conv or a reshape (or with NaN logits)."""
    if not isinstance(pixel_values, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(pixel_values).__name__}")
    if pixel_values.ndim != 5 or pixel_values.shape[2] != num_channels:
        raise ValueError(
            f"{name} must be shaped (batch, frames, {num_channels}, height, width), got {tuple(pixel_values.shape)}"
        )
    if not pixel_values.is_floating_point():
        raise TypeError(f"{name} must be a floating point tensor (run the video processor), got {pixel_values.dtype}")
    # NaN or inf would give NaN logits without a word. The check is data-dependent (a graph break), so a
    # compiled model (and a meta tensor, which has no values) skips it. Min and max are finite exactly when every
    # value is (NaN propagates through both): one pass with no temporaries, 1 ms on a 32-frame 224 clip where
    # ``isfinite(x).all()`` takes 20 (one CPU core).
    checkable = pixel_values.numel() and pixel_values.device.type != "meta" and not torch.compiler.is_compiling()
    if checkable and not torch.isfinite(torch.stack(torch.aminmax(pixel_values))).all():
        raise ValueError(f"{name} contains NaN or infinite values; check the video frames given to the processor")


def output_flags(config, output_hidden_states, output_attentions, return_dict) -> tuple[bool, bool, bool]:
    """The forward's output switches, each taken from the config when the caller left it as None."""
    return (
        config.output_hidden_states if output_hidden_states is None else output_hidden_states,
        config.output_attentions if output_attentions is None else output_attentions,
        config.return_dict if return_dict is None else return_dict,
    )


def conv3d_backbone_input(
    model: PreTrainedModel,
    pixel_values: torch.Tensor,
    output_hidden_states: bool | None,
    return_dict: bool | None,
    first_conv: nn.Conv3d | None = None,
) -> tuple[torch.Tensor, bool, bool]:
    """The start of a 3D CNN backbone's forward: the clips checked and in Conv3d's layout, ``(batch, channels,
    frames, height, width)`` (a view of the processor's ``(batch, frames, channels, height, width)``), and the
    ``output_hidden_states`` / ``return_dict`` switches resolved from the config. With ``first_conv`` given and
    its weight in ``channels_last_3d`` (a model put in that layout), the clips are copied into that layout too: a
    cheap copy of a few channels that lets the first conv and the pools after it run channels-last."""
    output_hidden_states, _, return_dict = output_flags(model.config, output_hidden_states, False, return_dict)
    check_video_input(pixel_values, model.config.num_channels)
    hidden = pixel_values.permute(0, 2, 1, 3, 4)
    if first_conv is not None and first_conv.weight.is_contiguous(memory_format=torch.channels_last_3d):
        hidden = hidden.contiguous(memory_format=torch.channels_last_3d)
    return hidden, output_hidden_states, return_dict


def backbone_output(
    last_hidden_state: torch.Tensor,
    pooler_output: torch.Tensor,
    hidden_states: list[torch.Tensor] | None,
    return_dict: bool,
) -> BaseModelOutputWithPooling | tuple:
    """A backbone's output: ``BaseModelOutputWithPooling``, or with ``return_dict=False`` the tuple of its
    non-None fields (``hidden_states`` is None unless asked for)."""
    hidden_states = tuple(hidden_states) if hidden_states is not None else None
    if not return_dict:
        return tuple(v for v in (last_hidden_state, pooler_output, hidden_states) if v is not None)
    return BaseModelOutputWithPooling(
        last_hidden_state=last_hidden_state, pooler_output=pooler_output, hidden_states=hidden_states
    )


def fold_views(pixel_values: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Multi-view evaluation input (batch, views, frames, C, H, W) -> (batch * views, frames, C, H, W)."""
    if isinstance(pixel_values, torch.Tensor) and pixel_values.ndim == 6:
        return pixel_values.flatten(0, 1), pixel_values.shape[1]
    return pixel_values, 1  # anything else is checked (with a clear message) by the model itself


def repeat_per_view(value, num_views: int) -> torch.Tensor:
    """A per-video input (batch, ...) -> (batch * views, ...), matching :func:`fold_views`'s order."""
    value = torch.as_tensor(value)
    return value if num_views == 1 else value.repeat_interleave(num_views, dim=0)


def average_views(logits: torch.Tensor, num_views: int) -> torch.Tensor:
    """Average per-view logits back to one prediction per video (the usual multi-view test protocol)."""
    if num_views == 1:
        return logits
    return logits.unflatten(0, (-1, num_views)).mean(dim=1)


def fuse_views(logits: torch.Tensor, num_views: int, view_fusion: str) -> torch.Tensor:
    """Per-view logits ``(videos * views, labels)`` (views of a video adjacent) -> one score row per video: the
    mean of the logits ("logits", as the models' forward) or of the softmax probabilities ("softmax")."""
    if view_fusion == "softmax":
        return average_views(logits.float().softmax(dim=-1), num_views)
    if view_fusion == "logits":
        return average_views(logits.float(), num_views)
    raise ValueError(f"view_fusion must be one of {VIEW_FUSIONS}, got {view_fusion!r}")


def fold_view_inputs(video_inputs: dict, per_video_inputs: dict) -> tuple[dict, int]:
    """Multi-view inputs -> one batch of views: every video input's views folded into the batch (all must have as
    many views as the first), every per-video input repeated for each view. Returns the inputs and the view count."""
    folded, num_views = {}, None
    for name, value in video_inputs.items():
        folded[name], views = fold_views(value)
        if num_views is not None and views != num_views:
            first = next(iter(video_inputs))
            raise ValueError(f"{name} has {views} views per video and {first} {num_views}")
        num_views = views
    folded.update({name: repeat_per_view(value, num_views) for name, value in per_video_inputs.items()})
    return folded, num_views


def view_logits(model, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """The model's logits for every view of a batch of videos, ``(videos * views, labels)``, and the view count
    (the views folded into the batch as the model's forward folds them)."""
    video_names = getattr(model, "video_input_names", (model.main_input_name,))
    folded, num_views = fold_view_inputs(
        {name: value for name, value in inputs.items() if name in video_names},
        {name: value for name, value in inputs.items() if name not in video_names},
    )
    return model(**folded).logits, num_views


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, config) -> torch.Tensor:
    """Loss chosen by ``config.problem_type``, inferred from the labels the first time, as transformers does."""
    num_labels = logits.shape[-1]
    if config.problem_type is None:
        if num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype).view(-1))
        return F.mse_loss(logits, labels.to(logits.dtype))
    if config.problem_type == "single_label_classification":
        return F.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
    if config.problem_type == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    raise ValueError(f"unknown problem_type {config.problem_type!r}; expected one of {PROBLEM_TYPES}")


# Weight initialisation by a layer's role in the network, not by its type (see ``VideoPreTrainedModel``).
INIT_ROLES = ("relu_conv", "linear", "zero", "norm", "keep")


def set_init_role(module: nn.Module, role: str) -> nn.Module:
    """Mark ``module`` for ``VideoPreTrainedModel._init_weights`` and return it (so it can wrap a constructor):

    - ``"relu_conv"``: He (Kaiming) normal, fan-in, for a conv feeding a ReLU (2D or 3D), or a linear layer
      feeding one (C3D's fc6 and fc7);
    - ``"linear"``: truncated normal with ``config.initializer_range`` (projections, classifiers, patch
      embeddings: layers that no ReLU follows);
    - ``"zero"``: weights and bias zero (a residual branch's last BatchNorm scale, so a block starts as the
      identity; TimeSformer's temporal projection);
    - ``"norm"``: scale one, shift zero, fresh running statistics;
    - ``"keep"``: left as constructed (a module that initialises itself).
    """
    if role not in INIT_ROLES:
        raise ValueError(f"unknown init role {role!r}; expected one of {INIT_ROLES}")
    module.init_role = role
    return module


def default_init_role(module: nn.Module) -> str | None:
    """The role of a module nobody marked: convs are taken to sit in a ReLU stack, linear layers to project."""
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return "relu_conv"
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm)):
        return "norm"
    return None


class VideoPreTrainedModel(PreTrainedModel):
    """Base of every model in the package: video input, gradient checkpointing, weight init by role.

    Each module is initialised by its ``init_role`` (set with :func:`set_init_role`), or by
    :func:`default_init_role`; the ``classifier`` attribute of a classification model is a "linear" layer
    even when it is a 1x1 conv (I3D), so fresh logits start small.
    """

    main_input_name = "pixel_values"
    # Every video input the model takes, each shaped (batch, frames, channels, height, width); the first is the
    # main one. Multi-view folding, the Trainer's collation and the conformance suite handle each of them
    # (two-stream takes RGB clips and flow).
    video_input_names: tuple[str, ...] = ("pixel_values",)
    input_modalities = ("video",)
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    # The forward's ``**kwargs`` are further video inputs, not loss arguments: the loss is a per-batch mean, so
    # Trainer must divide it by the gradient-accumulation steps (and not scale it by the process count).
    accepts_loss_kwargs = False
    # Layer-wise learning-rate decay (``parameter_groups.layer_ids``): the class names of the modules that are one
    # layer each, in forward order (a transformer's blocks). Empty: the model has no such depth (the CNNs).
    layer_decay_blocks: tuple[str, ...] = ()
    # A 3D CNN sets this: its 5-D weights are kept in ``channels_last_3d`` (from construction, ``from_pretrained``
    # and ``to_preferred_memory_format``; ``.to(device)``, ``.to(dtype)`` and ``load_state_dict`` keep a
    # tensor's layout). A conv with channels-last weights gives channels-last outputs whatever the input's
    # layout, so the whole network then runs in that layout with no conversion between layers.
    channels_last_3d = False

    def post_init(self):
        super().post_init()
        self.to_preferred_memory_format()

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        # Loading may replace the parameters with freshly read (contiguous) tensors.
        return super().from_pretrained(*args, **kwargs).to_preferred_memory_format()

    def to_preferred_memory_format(self):
        """Put the weights in the class's layout (``channels_last_3d`` for 3D CNNs); returns the model."""
        if self.channels_last_3d:
            self.to(memory_format=torch.channels_last_3d)
        return self

    def fuse_conv_bn(self):
        """Fold every BatchNorm that follows a conv into that conv, for faster inference; returns the model.

        Same logits up to float rounding (see ``layers.fuse``). On the CPU, without gradients, each folded conv +
        bias (+ ReLU), and the conv that ends a residual block with the sum and the ReLU, then run as one oneDNN
        call, in fp32 and under bf16 autocast; under bf16 autocast the convs keep a bf16 copy of their weights
        (recast when the weights change) instead of casting them on every call. Elsewhere (CUDA, gradients,
        ``torch.compile``) the folded model runs the plain ops.

        Opt-in and for inference only: the model must be in eval mode, and once folded it refuses ``train()`` and
        ``save_pretrained`` (its state dict no longer matches the config); reload it to train or save. Calling it
        again is a no-op. Raises ``UserInputError`` for a model without conv + BatchNorm units (the transformers,
        C3D).
        """
        if fold_batch_norms(self) == 0 and not has_folded_batch_norms(self):
            raise UserInputError(f"{type(self).__name__} has no conv + BatchNorm units to fuse")
        return self

    def _refuse_if_folded(self, action: str) -> None:
        if has_folded_batch_norms(self):
            raise UserInputError(
                f"cannot {action} a model whose BatchNorms were folded into its convs by fuse_conv_bn(): reload it "
                "(from_pretrained) and fuse after training or saving"
            )

    def train(self, mode: bool = True):
        if mode:
            self._refuse_if_folded("train")
        return super().train(mode)

    def save_pretrained(self, *args, **kwargs):
        self._refuse_if_folded("save")
        return super().save_pretrained(*args, **kwargs)

    def _init_weights(self, module: nn.Module) -> None:
        role = getattr(module, "init_role", None)
        if role is None:
            role = "linear" if module is getattr(self, "classifier", None) else default_init_role(module)
        if role == "relu_conv":
            # He init keeps activations O(1) through a ReLU stack even in eval mode, where fresh BatchNorm is
            # the identity; a fixed std of 0.02 shrinks them geometrically with depth (logits ~1e-16 in a narrow
            # I3D).
            init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        elif role == "linear":
            init.trunc_normal_(module.weight, std=getattr(self.config, "initializer_range", 0.02))
        elif role == "zero":
            init.zeros_(module.weight)
        elif role == "norm" and module.weight is not None:
            init.ones_(module.weight)
        if role in ("relu_conv", "linear", "zero", "norm") and getattr(module, "bias", None) is not None:
            init.zeros_(module.bias)
        if role in ("norm", "zero") and getattr(module, "running_mean", None) is not None:
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)


class VideoClassificationMixin:
    """The forward of every ``*ForVideoClassification`` model.

    ``compute_logits(pixel_values, output_hidden_states, output_attentions)`` returns ``(logits, base_outputs)``
    for a 5-D batch: by default the bare model's pooled features through ``dropout`` and ``classifier``; a model
    with another head overrides it. This mixin adds multi-view input (6-D pixel values whose
    per-view logits are averaged), the loss from ``labels`` and the ``ImageClassifierOutput``.

    Further inputs given (not None) are passed on to ``compute_logits`` as keyword arguments: the other video
    inputs of ``video_input_names`` (two-stream's ``flow_values``), folded view by view like ``pixel_values``,
    and the per-video inputs named in ``extra_model_inputs`` (LRCN's ``frame_mask`` / ``lengths``), each
    repeated for every view of multi-view input (they describe a video, so all its views share them).
    """

    extra_model_inputs: tuple[str, ...] = ()

    def pooled_logits(self, pixel_values: torch.Tensor, **base_kwargs) -> tuple[torch.Tensor, object]:
        """The common head: the bare model's ``pooler_output`` -> ``self.dropout`` -> ``self.classifier``; returns
        the logits and the bare model's output."""
        outputs = self.base_model(pixel_values, return_dict=True, **base_kwargs)
        return self.classifier(self.dropout(outputs.pooler_output)), outputs

    def compute_logits(
        self, pixel_values: torch.Tensor, output_hidden_states: bool = False, output_attentions: bool = False
    ) -> tuple[torch.Tensor, object]:
        """Default: :meth:`pooled_logits`. Models with another head (I3D's per-time conv) override it."""
        kwargs = {"output_hidden_states": output_hidden_states}
        if output_attentions:
            kwargs["output_attentions"] = True
        return self.pooled_logits(pixel_values, **kwargs)

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ImageClassifierOutput | tuple:
        r"""Classify a batch of clips.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips shaped `(batch, frames, channels, height, width)`, as the model's video processor
                returns them (`processor(videos, return_tensors="pt")["pixel_values"]`). A 6-D
                `(batch, views, frames, channels, height, width)` tensor (the processor's multi-view evaluation,
                `num_clips` x `num_crops` views per video) is classified view by view and the logits are averaged
                over the views. NaN or infinite values are refused (except under `torch.compile`).
            labels (`torch.Tensor`, *optional*):
                Targets for the loss, chosen by `config.problem_type` (inferred from the first labels when unset):
                class indices `(batch,)` of dtype long for single-label classification (cross-entropy), 0/1 floats
                `(batch, num_labels)` for multi-label classification (BCE with logits), floats `(batch,)` or
                `(batch, num_labels)` for regression (MSE).
            output_hidden_states (`bool`, *optional*):
                Also return the backbone's hidden states (see the backbone model's `forward`). Defaults to
                `config.output_hidden_states`.
            output_attentions (`bool`, *optional*):
                Also return the attention probabilities (TimeSformer; a CNN such as I3D returns none). Defaults to
                `config.output_attentions`.
            return_dict (`bool`, *optional*):
                Return an `ImageClassifierOutput` (the default, `config.return_dict`) or a plain tuple of its
                non-None fields.
            kwargs:
                The model's other video inputs (`video_input_names`, e.g. two-stream's `flow_values`, with the same
                views as `pixel_values`) and its `extra_model_inputs` (LRCN's `frame_mask` / `lengths`), one entry
                per video (repeated for each of its views); other keyword arguments are ignored.

        Returns:
            `ImageClassifierOutput`: `loss` (a scalar, only with `labels`), `logits` `(batch, num_labels)` (one
            row per video, views averaged), and `hidden_states` / `attentions` when asked for, from the
            backbone (for multi-view input, one entry per view: their batch is `batch * views`).
        """
        output_hidden_states, output_attentions, return_dict = output_flags(
            self.config, output_hidden_states, output_attentions, return_dict
        )
        present = {name: kwargs[name] for name in kwargs if kwargs[name] is not None}
        model_inputs, num_views = fold_view_inputs(
            {"pixel_values": pixel_values, **{n: present[n] for n in self.video_input_names[1:] if n in present}},
            {name: present[name] for name in self.extra_model_inputs if name in present},
        )
        logits, base_outputs = self.compute_logits(
            model_inputs.pop("pixel_values"),
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            **model_inputs,
        )
        logits = average_views(logits, num_views)
        loss = classification_loss(logits, labels, self.config) if labels is not None else None
        output = ImageClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=getattr(base_outputs, "hidden_states", None),
            attentions=getattr(base_outputs, "attentions", None),
        )
        return output if return_dict else output.to_tuple()


class PerFrameClassificationMixin(VideoClassificationMixin):
    """``compute_logits`` of a per-frame model (TSN): every frame is classified by the same 2D network and the
    frame logits are combined by ``self.consensus`` (a :class:`~hf_videomodels.layers.FrameConsensus`).

    The bare model (``self.base_model``) folds the frames into the batch itself and returns per-frame
    features as ``pooler_output`` (batch, frames, hidden); the subclass provides ``dropout``, ``classifier``
    and ``consensus``.
    """

    consensus: FrameConsensus

    def frame_logits(self, pixel_values: torch.Tensor, **base_kwargs) -> tuple[torch.Tensor, object]:
        """Per-frame logits ``(batch, frames, num_labels)`` before the consensus, and the bare model's output."""
        return self.pooled_logits(pixel_values, **base_kwargs)

    def compute_logits(
        self, pixel_values: torch.Tensor, output_hidden_states: bool = False, output_attentions: bool = False
    ) -> tuple[torch.Tensor, object]:
        per_frame, outputs = super().compute_logits(pixel_values, output_hidden_states, output_attentions)
        return self.consensus(per_frame), outputs
