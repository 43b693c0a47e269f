"""ViT per frame configuration: an image ViT (Dosovitskiy et al. 2021) applied to every frame of a clip, the
frames' logits combined by a consensus (the transformer twin of the per-frame ResNet of TSN).

Defaults are ``google/vit-base-patch16-224`` (transformers' port of the original JAX ViT-B/16): 224x224,
patch 16, width 768, 12 blocks of 12 heads, MLP 3072, exact GELU, LayerNorm eps 1e-12 (timm's ports use 1e-6).
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict

from ...configuration_utils import ViTEncoderConfig, check_probabilities
from ...layers.consensus import CONSENSUS_MODES

POSITION_INTERPOLATIONS = ("bicubic", "bilinear", "nearest")


@strict
class ViTFramesConfig(ViTEncoderConfig):
    r"""
    Args:
        The ViT fields of :class:`~hf_videomodels.configuration_utils.ViTEncoderConfig` (``image_size``,
        ``patch_size``, ``hidden_size``, ..., with ViT-B/16's defaults and LayerNorm eps 1e-12 as in transformers'
        ViT; timm's ports use 1e-6). Another resolution than ``image_size`` works: the position table is
        interpolated (``position_interpolation``) to the new grid. ``num_frames`` only matters to the
        ``"weighted"`` consensus; the others take any number of frames. Then:
        classifier_dropout_prob: dropout on the per-frame features before the classifier.
        consensus: how frame logits become clip logits: ``"mean"`` (TSN's average), ``"max"`` or ``"weighted"``.
        position_interpolation: interpolation of the position table at another resolution (transformers'
            ``interpolate_pos_encoding`` uses bicubic).
    """

    model_type = "hfvm_vit_frames"

    classifier_dropout_prob: float | int = 0.0
    consensus: str = "mean"
    position_interpolation: str = "bicubic"

    def validate_architecture(self):
        """Part of ``@strict`` validation: values the model cannot be built or run with."""
        if self.consensus not in CONSENSUS_MODES:
            raise ValueError(f"consensus must be one of {CONSENSUS_MODES}, got {self.consensus!r}")
        if self.position_interpolation not in POSITION_INTERPOLATIONS:
            raise ValueError(
                f"position_interpolation must be one of {POSITION_INTERPOLATIONS}, got {self.position_interpolation!r}"
            )
        check_probabilities(self, ("classifier_dropout_prob",))


__all__ = ["POSITION_INTERPOLATIONS", "ViTFramesConfig"]
