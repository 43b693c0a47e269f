"""I3D: Inception-V1 inflated to 3D (Carreira & Zisserman, "Quo Vadis, Action Recognition?", CVPR 2017).

Numerically the same network as DeepMind's kinetics-i3d and its PyTorch port piergiaj/pytorch-i3d:
TensorFlow 'SAME' padding (the odd pixel at the end), zero-padded max-pools, BatchNorm eps 1e-3, and a
head that average-pools (2, 7, 7) windows with stride 1 and classifies each remaining time step with a
1x1x1 conv. Module names are our own; ``conversion/convert_i3d_pytorch_i3d.py`` maps the original ones.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ...layers import SAME_TF, ConvBNAct3d, MaxPool3dSameTF
from ...modeling_utils import VideoClassificationMixin, VideoPreTrainedModel, backbone_output, conv3d_backbone_input
from .configuration_i3d import INCEPTION_BLOCK_NAMES, I3DConfig


def _conv_unit_factory(config: I3DConfig):
    """Conv3d + BatchNorm3d + ReLU with the original's 'SAME' padding and TensorFlow BatchNorm settings."""
    return partial(
        ConvBNAct3d, padding=SAME_TF, eps=config.batch_norm_eps, momentum=config.batch_norm_momentum
    )


class I3DInceptionBlock(GradientCheckpointingLayer):
    """Four parallel branches concatenated on channels: 1x1; 1x1 -> 3x3; 1x1 -> 3x3; 3x3 max-pool -> 1x1.

    Every conv and the pool are 3x3x3 / 1x1x1 with stride 1, so the output keeps the input's size.
    """

    def __init__(self, config: I3DConfig, in_channels: int, channels: list[int]):
        super().__init__()
        conv = _conv_unit_factory(config)
        out_1x1, reduce_1, out_1, reduce_2, out_2, pool_proj = channels
        self.branch0 = conv(in_channels, out_1x1, 1)
        self.branch1_reduce = conv(in_channels, reduce_1, 1)
        self.branch1_conv = conv(reduce_1, out_1, 3)
        self.branch2_reduce = conv(in_channels, reduce_2, 1)
        self.branch2_conv = conv(reduce_2, out_2, 3)
        self.branch3_pool = MaxPool3dSameTF(3, 1)
        self.branch3_proj = conv(in_channels, pool_proj, 1)
        self.out_channels = out_1x1 + out_1 + out_2 + pool_proj

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch0(hidden_states),
                self.branch1_conv(self.branch1_reduce(hidden_states)),
                self.branch2_conv(self.branch2_reduce(hidden_states)),
                self.branch3_proj(self.branch3_pool(hidden_states)),
            ],
            dim=1,
        )


class I3DPreTrainedModel(VideoPreTrainedModel):
    config_class = I3DConfig
    base_model_prefix = "i3d"
    _no_split_modules = ["I3DInceptionBlock"]
    channels_last_3d = True


class I3DModel(I3DPreTrainedModel):
    """The I3D backbone, without the classifier.

    Input: ``pixel_values`` (batch, frames, channels, height, width); frames and pixels at least
    ``config.min_input_size`` ((9, 193, 193) for the standard head).

    Output (``BaseModelOutputWithPooling``):

    - ``last_hidden_state``: the mixed_5c feature map, (batch, 1024, T', H', W') with T' = ceil(frames / 8),
      H' = ceil(height / 32), W' = ceil(width / 32);
    - ``pooler_output``: its stride-1 average pool (``config.pooler_kernel_size``, (2, 7, 7) by default), i.e. the
      original's ``extract_features``: (batch, 1024, T' - 1, H' - 6, W' - 6) by default, so (batch, 1024, 1, 1, 1)
      for 16x224x224 and (batch, 1024, 7, 1, 1) for 64x224x224;
    - ``hidden_states`` (with ``output_hidden_states=True``): 12 maps, (batch, channels, time, height, width):
      the three stem convs and the nine Inception blocks. For 16 frames of 224x224 (channels x time x H x W):
      conv_1a 64x8x112x112, conv_2b 64x8x56x56, conv_2c 192x8x56x56, mixed_3b 256x8x28x28,
      mixed_3c 480x8x28x28, mixed_4b / 4c / 4d 512x4x14x14, mixed_4e 528x4x14x14, mixed_4f 832x4x14x14,
      mixed_5b 832x2x7x7, mixed_5c 1024x2x7x7.
      Max-pools (pool_2a, pool_3a between the stem convs and mixed_3b; pool_4a before mixed_4b; pool_5a before
      mixed_5b) halve the sizes, rounding up, and have no output of their own.
    """

    def __init__(self, config: I3DConfig):
        super().__init__(config)
        conv = _conv_unit_factory(config)
        stem_1a, stem_2b, stem_2c = config.stem_channels
        self.conv_1a = conv(config.num_channels, stem_1a, 7, stride=2)
        self.pool_2a = MaxPool3dSameTF((1, 3, 3), (1, 2, 2))
        self.conv_2b = conv(stem_1a, stem_2b, 1)
        self.conv_2c = conv(stem_2b, stem_2c, 3)
        self.pool_3a = MaxPool3dSameTF((1, 3, 3), (1, 2, 2))
        self.layer_names = ["conv_1a", "pool_2a", "conv_2b", "conv_2c", "pool_3a"]

        in_channels = stem_2c
        for name, channels in zip(INCEPTION_BLOCK_NAMES, config.inception_channels):
            if name == "4b":
                self.pool_4a = MaxPool3dSameTF(3, 2)
                self.layer_names.append("pool_4a")
            elif name == "5b":
                self.pool_5a = MaxPool3dSameTF(2, 2)
                self.layer_names.append("pool_5a")
            block = I3DInceptionBlock(config, in_channels, channels)
            self.add_module(f"mixed_{name}", block)
            self.layer_names.append(f"mixed_{name}")
            in_channels = block.out_channels

        self.pooler = nn.AvgPool3d(tuple(config.pooler_kernel_size), stride=1)
        self.post_init()

    def _check_input_size(self, pixel_values: torch.Tensor) -> None:
        frames, height, width = pixel_values.shape[1], pixel_values.shape[3], pixel_values.shape[4]
        min_frames, min_height, min_width = self.config.min_input_size
        if frames < min_frames or height < min_height or width < min_width:
            raise ValueError(
                f"pixel_values with {frames} frames of {height}x{width} pixels is too small for I3D's "
                f"pooler_kernel_size={tuple(self.config.pooler_kernel_size)} average-pool head: it needs at least "
                f"{min_frames} frames of {min_height}x{min_width} pixels. Give the video processor a larger "
                f"num_frames / crop_size, or use a model configured with a smaller pooler_kernel_size"
            )

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling | tuple:
        r"""Run the backbone on a batch of clips.

        Args:
            pixel_values (`torch.Tensor`):
                Float clips `(batch, frames, channels, height, width)` from the video processor, with
                `channels == config.num_channels` (3 for RGB, 2 for optical flow) and at least
                `config.min_input_size` frames and pixels ((9, 193, 193) for the default `pooler_kernel_size`).
                NaN or infinite values are refused (except under `torch.compile`).
            output_hidden_states (`bool`, *optional*):
                Also return the 12 intermediate feature maps (see the class docstring). Defaults to
                `config.output_hidden_states`.
            output_attentions (`bool`, *optional*):
                Accepted for a uniform API and ignored: a CNN has no attention maps.
            return_dict (`bool`, *optional*):
                Return a `BaseModelOutputWithPooling` (the default, `config.return_dict`) or a tuple
                `(last_hidden_state, pooler_output[, hidden_states])`.

        Returns:
            `BaseModelOutputWithPooling` with `last_hidden_state` `(batch, 1024, T', H', W')`, `pooler_output`
            (the head's average pool of it) and `hidden_states`, shaped as in the class docstring.
        """
        hidden, output_hidden_states, return_dict = conv3d_backbone_input(
            self, pixel_values, output_hidden_states, return_dict
        )
        self._check_input_size(pixel_values)
        all_hidden_states = [] if output_hidden_states else None
        for name in self.layer_names:
            hidden = getattr(self, name)(hidden)
            if all_hidden_states is not None and not name.startswith("pool_"):
                all_hidden_states.append(hidden)
        return backbone_output(hidden, self.pooler(hidden), all_hidden_states, return_dict)


class I3DForVideoClassification(VideoClassificationMixin, I3DPreTrainedModel):
    """I3D with the original head: (2, 7, 7) average pool -> dropout -> 1x1x1 conv with bias, giving logits per
    output time step, which are pooled over time by ``config.temporal_pooling`` ("mean": DeepMind's Kinetics
    evaluation; "max": pytorch-i3d's Charades training). For inputs larger than 224 pixels the head's spatial
    positions are averaged first (at 224 there is one). ``temporal_logits`` gives the per-time logits.
    """

    def __init__(self, config: I3DConfig):
        super().__init__(config)
        self.i3d = I3DModel(config)
        self.dropout = nn.Dropout(config.dropout_prob)
        self.classifier = nn.Conv3d(config.hidden_size, config.num_labels, kernel_size=1)
        self.post_init()

    def _per_time_logits(self, pooled_features: torch.Tensor) -> torch.Tensor:
        # (batch, labels, time, height, width) -> (batch, labels, time)
        return self.classifier(self.dropout(pooled_features)).mean(dim=(3, 4))

    def temporal_logits(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Logits per output time step, (batch, num_labels, time): the original model's forward output."""
        return self._per_time_logits(self.i3d(pixel_values, return_dict=True).pooler_output)

    def compute_logits(
        self, pixel_values: torch.Tensor, output_hidden_states: bool = False, output_attentions: bool = False
    ) -> tuple[torch.Tensor, BaseModelOutputWithPooling]:
        outputs = self.i3d(pixel_values, output_hidden_states=output_hidden_states, return_dict=True)
        per_time = self._per_time_logits(outputs.pooler_output)
        if self.config.temporal_pooling == "max":
            return per_time.amax(dim=-1), outputs
        return per_time.mean(dim=-1), outputs


__all__ = ["I3DForVideoClassification", "I3DModel", "I3DPreTrainedModel"]
