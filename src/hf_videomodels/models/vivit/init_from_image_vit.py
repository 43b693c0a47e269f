"""Initialising a ViViT from an image ViT, as the paper (section 3.4) and Scenic's ``init_from_train_state`` do.

* Tubelet kernel: ``"central_frame"`` puts the 2-D patch filter at the middle time index (zeros elsewhere),
  ``"filter_inflation"`` repeats it over time divided by the tubelet length (I3D's inflation); both through
  :func:`hf_videomodels.layers.inflate_conv_weight`. The uniform-frame tokenizer takes the 2-D filter as is.
* Position embeddings: the image table (resized bilinearly if the patch grid differs) repeated for every
  temporal index, in the (t, h, w) token order; the cls position kept for ``pooling="token"``.
* Blocks: models 1, 2 (spatial encoder) and 4 take the ViT's blocks as they are. Model 3 copies each block's
  attention into both its spatial and its temporal attention, the pre-attention LayerNorm into the spatial
  one (the temporal LayerNorm starts fresh, Scenic's default) and the MLP with its LayerNorm.
* Fresh: the classifier, model 2's temporal encoder, and the cls token when the ViViT has none.
"""

from __future__ import annotations

import torch

from ...layers.inflate import inflate_conv_weight
from ...layers.pos_embed import resize_position_embeddings
from .configuration_vivit import ViViTConfig
from .modeling_vivit import ViViTForVideoClassification

KERNEL_INITS = {"central_frame": "center", "filter_inflation": "mean"}


def _image_vit_tensors(image_vit) -> dict[str, torch.Tensor]:
    """The bare image ViT's state dict (``ViTFramesModel`` keys) from a ViT-per-frame model of any kind."""
    model = getattr(image_vit, "vit", image_vit)
    return {key: tensor.detach() for key, tensor in model.state_dict().items()}


def vivit_from_image_vit(
    config: ViViTConfig, image_vit, kernel_init: str = "central_frame"
) -> ViViTForVideoClassification:
    """A new ViViT of ``config`` whose weights come from ``image_vit`` (a ``ViTFramesModel`` or
    ``ViTFramesForVideoClassification``, e.g. converted from transformers or timm), as the module docstring
    says. Widths, heads and depths must match; the patch size must be the tubelet's spatial size."""
    if kernel_init not in KERNEL_INITS:
        raise ValueError(f"kernel_init must be one of {tuple(KERNEL_INITS)}, got {kernel_init!r}")
    vit = _image_vit_tensors(image_vit)
    model = ViViTForVideoClassification(config)
    target = model.state_dict()
    patch = vit["embeddings.patch_embeddings.proj.weight"]
    if patch.shape[0] != config.hidden_size or tuple(patch.shape[2:]) != tuple(config.tubelet_size[1:]):
        raise ValueError(
            f"the image ViT (width {patch.shape[0]}, patch {tuple(patch.shape[2:])}) does not fit the ViViT "
            f"(width {config.hidden_size}, tubelet {tuple(config.tubelet_size)})"
        )
    vit_layers = sum(key.endswith("norm1.weight") for key in vit)
    if vit_layers != config.num_hidden_layers:
        raise ValueError(f"the image ViT has {vit_layers} blocks, the ViViT {config.num_hidden_layers}")
    loaded = {}
    if config.tokenizer == "tubelet":
        loaded["vivit.embeddings.patch_embeddings.weight"] = inflate_conv_weight(
            patch, config.tubelet_size[0], KERNEL_INITS[kernel_init]
        )
        loaded["vivit.embeddings.patch_embeddings.bias"] = vit["embeddings.patch_embeddings.proj.bias"]
    else:
        for name in ("weight", "bias"):
            loaded[f"vivit.embeddings.patch_embeddings.proj.{name}"] = vit[f"embeddings.patch_embeddings.proj.{name}"]

    frames, height, width = config.token_grid
    table = resize_position_embeddings(vit["embeddings.position_embeddings"], (height, width), mode="bilinear")
    cls_position, grid_positions = table[:, :1], table[:, 1:]
    token = config.pooling == "token"
    factorised_encoder = config.model_variant == "factorised_encoder"
    repeated = grid_positions if factorised_encoder else grid_positions.repeat(1, frames, 1)
    loaded["vivit.encoder.position_embeddings"] = torch.cat((cls_position, repeated), 1) if token else repeated
    if token:
        loaded["vivit.encoder.cls_token"] = vit["embeddings.cls_token"]
    for name in ("weight", "bias"):
        loaded[f"vivit.encoder.layernorm.{name}"] = vit[f"layernorm.{name}"]
    for i in range(config.num_hidden_layers):
        block = {
            key.removeprefix(f"layers.{i}."): value for key, value in vit.items() if key.startswith(f"layers.{i}.")
        }
        ours = f"vivit.encoder.layers.{i}"
        if config.model_variant == "factorised_self_attention":
            renames = {"norm1": ["attention_norms.space"], "attention": ["attentions.space", "attentions.time"],
                       "norm2": ["mlp_norm"], "mlp": ["mlp"]}  # fmt: skip
            for key, value in block.items():
                module, rest = key.split(".", 1)
                for target_module in renames[module]:
                    loaded[f"{ours}.{target_module}.{rest}"] = value.clone()
        else:
            loaded.update({f"{ours}.{key}": value for key, value in block.items()})
    unknown = set(loaded) - set(target)
    if unknown:
        raise ValueError(f"internal mapping error, not in the ViViT: {sorted(unknown)}")
    model.load_state_dict(loaded, strict=False)
    return model


__all__ = ["KERNEL_INITS", "vivit_from_image_vit"]
