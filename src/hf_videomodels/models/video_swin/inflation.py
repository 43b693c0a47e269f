"""Video Swin initialised from an ImageNet Swin, as the paper does (``inflate_weights`` of the original):

- the patch embedding's ``Conv2d`` is inflated over time by the shared ``layers/inflate.py`` (the 2D kernel
  repeated over the temporal patch size and divided by it, ``mode="mean"``);
- each relative position bias table is repeated over the new temporal offsets (``2 Wd - 1`` of them), and
  interpolated (bicubic) in space if the spatial window changes;
- every other tensor (LayerNorms, qkv, projections, MLPs, patch merging) carries over unchanged;
- the image classifier is dropped: the video head starts fresh, as does the index buffer (a function of the
  3D window).

On a "boring" clip (one image repeated, no temporal padding) the inflated backbone reproduces the image
model's features at every time step, since every temporal copy of a key carries the same bias.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ...layers.inflate import inflate_state_dict, temporal_kernel_sizes_like
from ...layers.window_attention import resize_relative_position_bias_table
from .configuration_video_swin import VideoSwinConfig
from .modeling_video_swin import VideoSwinForVideoClassification

if TYPE_CHECKING:  # the Swin (2D) package imports this one
    from ..swin.modeling_swin import SwinPreTrainedModel

BIAS_TABLE = "relative_position_bias_table"
INDEX = "relative_position_index"


def inflate_swin_encoder_state(
    image_state: dict[str, torch.Tensor], video_state: dict[str, torch.Tensor], image_window, video_window
) -> dict[str, torch.Tensor]:
    """The shared encoder's state dict of an image Swin, made into the video encoder's (both without the
    ``relative_position_index`` buffers); ``video_state`` gives the target shapes."""
    image_state = {key: value for key, value in image_state.items() if not key.endswith(INDEX)}
    tables = {key: value for key, value in image_state.items() if key.endswith(BIAS_TABLE)}
    others = {key: value for key, value in image_state.items() if key not in tables}
    inflated = inflate_state_dict(others, temporal_kernel_sizes_like(others, video_state), mode="mean")
    for key, table in tables.items():
        inflated[key] = resize_relative_position_bias_table(table, image_window, video_window)
    return inflated


def video_swin_from_image_swin(image_model: SwinPreTrainedModel, config: VideoSwinConfig) -> VideoSwinForVideoClassification:
    """A new ``VideoSwinForVideoClassification`` for ``config`` whose backbone starts from ``image_model`` (a
    ``SwinModel`` or ``SwinForVideoClassification``, e.g. converted from an ImageNet checkpoint). Widths,
    depths and heads must match; the patch's temporal size and the 3D window come from ``config``."""
    image_encoder = image_model.base_model.encoder
    video_model = VideoSwinForVideoClassification(config)
    video_encoder = video_model.video_swin.encoder
    target = {key: value for key, value in video_encoder.state_dict().items() if not key.endswith(INDEX)}
    state = inflate_swin_encoder_state(
        image_encoder.state_dict(), target, image_model.config.window_size, config.window_size
    )
    missing, unexpected = video_encoder.load_state_dict(state, strict=False)
    if unexpected or any(not key.endswith(INDEX) for key in missing):
        raise ValueError(f"the image Swin does not fit this config: missing {missing}, unexpected {unexpected}")
    return video_model


__all__ = ["inflate_swin_encoder_state", "video_swin_from_image_swin"]
