"""Which parameters train, and at what learning rate: layer-wise learning-rate decay and a frozen backbone.

Layer-wise decay (BEiT, MAE, VideoMAE fine-tuning): a parameter's layer id is its depth, 0 for the embeddings,
``i`` for the ``i``-th block, ``L + 1`` for what follows the last of the ``L`` blocks (the final norm and the
classifier); its learning rate is scaled by ``decay ** (L + 1 - id)``. One rule for every transformer: the model
class names its block modules (``layer_decay_blocks``), and the parameters are taken in registration order.
A parameter before the first block is an embedding (0); one between two blocks belongs to the block before it
(Swin's patch merging at the end of a stage); one after the last block belongs to the head (``L + 1``).

A linear probe (``freeze_backbone``) trains the ``classifier`` modules only and keeps everything else in
evaluation mode (frozen BatchNorm statistics, no dropout or stochastic depth in the backbone).
"""

from __future__ import annotations

from torch import nn
from transformers.trainer_pt_utils import get_parameter_names

from .errors import UserInputError

# Modules of a classification model that make up its head (two-stream has one per stream).
HEAD_MODULE_NAME = "classifier"
TRANSFORMERS_WITH_LAYER_DECAY = "ViT per frame, ViViT, TimeSformer, Swin, VideoSwin"


def layer_ids(model: nn.Module) -> tuple[dict[str, int], int]:
    """``({parameter name: layer id}, number of blocks)`` of a model whose class sets ``layer_decay_blocks``."""
    block_classes = getattr(model, "layer_decay_blocks", ())
    if not block_classes:
        raise UserInputError(
            f"layer_decay (--layer-decay) needs a transformer ({TRANSFORMERS_WITH_LAYER_DECAY}); "
            f"{type(model).__name__} has no stack of blocks to decay over: drop --layer-decay"
        )
    blocks: list[str] = []
    for name, module in model.named_modules():
        inside_a_block = any(name.startswith(outer + ".") for outer in blocks)
        if type(module).__name__ in block_classes and not inside_a_block:
            blocks.append(name)
    names = [name for name, _ in model.named_parameters()]
    block_of = {
        name: next((i for i, block in enumerate(blocks, 1) if name.startswith(block + ".")), None) for name in names
    }
    last_in_a_block = max(i for i, name in enumerate(names) if block_of[name] is not None)
    ids, current = {}, 0
    for position, name in enumerate(names):
        if block_of[name] is not None:
            current = block_of[name]
        ids[name] = len(blocks) + 1 if position > last_in_a_block else current
    return ids, len(blocks)


def decayed_parameter_names(model: nn.Module) -> set[str]:
    """Parameters that get weight decay: not biases, not LayerNorm parameters (Trainer's own rule)."""
    return set(get_parameter_names(model, [nn.LayerNorm], ["bias", "layernorm", "rmsnorm"]))


def optimizer_groups(
    model: nn.Module, learning_rate: float, weight_decay: float, layer_decay: float | None = None
) -> list[dict]:
    """AdamW parameter groups of the trainable parameters: weight decay as Trainer applies it, and with
    ``layer_decay`` one learning rate per layer id (``learning_rate * layer_decay ** (L + 1 - id)``)."""
    ids, num_blocks = layer_ids(model) if layer_decay is not None else ({}, 0)
    decayed = decayed_parameter_names(model)
    groups: dict[tuple[int, bool], dict] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        layer, decays = ids.get(name, 0), name in decayed
        if (layer, decays) not in groups:
            scale = layer_decay ** (num_blocks + 1 - layer) if layer_decay is not None else 1.0
            groups[layer, decays] = {
                "params": [], "weight_decay": weight_decay if decays else 0.0, "lr": learning_rate * scale
            }
        groups[layer, decays]["params"].append(parameter)
    return list(groups.values())


def freeze_backbone(model: nn.Module) -> list[str]:
    """Leave only the ``classifier`` modules' parameters trainable (a linear probe); returns their names."""
    head = [name for name, _ in model.named_parameters() if HEAD_MODULE_NAME in name.split(".")[:-1]]
    if not head:
        raise UserInputError(
            f"{type(model).__name__} has no '{HEAD_MODULE_NAME}' module to train alone: drop --freeze-backbone"
        )
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name in head)
    return head


def frozen_modules(model: nn.Module) -> list[nn.Module]:
    """The largest sub-modules whose parameters are all frozen (a linear probe's backbone). Parameterless modules
    outside them (the head's dropout) are not included: they keep their training behaviour."""
    found = []

    def visit(module: nn.Module) -> None:
        parameters = list(module.parameters())
        if parameters and not any(p.requires_grad for p in parameters):
            found.append(module)
            return
        for child in module.children():
            visit(child)

    visit(model)
    return found
