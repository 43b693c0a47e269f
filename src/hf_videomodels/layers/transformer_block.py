"""The pre-norm transformer block of ViT and its descendants (ViT per frame, ViViT).

``x + attention(norm1(x))`` then ``x + mlp(norm2(x))``, with stochastic depth on both branches. Module names
(``norm1``, ``attention.qkv``, ``attention.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``) follow timm's ViT, so
its checkpoints map one to one.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from .attention import MultiHeadSelfAttention
from .drop_path import DropPath
from .mlp import Mlp


class PreNormTransformerBlock(GradientCheckpointingLayer):
    """One pre-norm block. ``attention`` replaces the default :class:`MultiHeadSelfAttention` (e.g. with one
    that splits its heads over axes); keyword arguments of ``forward`` beyond the standard ones go to it."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_dim: int,
        activation: str = "gelu",
        layer_norm_eps: float = 1e-6,
        qkv_bias: bool = True,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        drop_path_rate: float = 0.0,
        attention: nn.Module | None = None,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.attention = attention or MultiHeadSelfAttention(dim, num_heads, qkv_bias, attention_dropout, dropout)
        self.norm2 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.mlp = Mlp(dim, mlp_dim, activation, dropout)
        self.drop_path = DropPath(drop_path_rate)

    def forward(
        self, hidden_states: torch.Tensor, output_attentions: bool = False, use_sdpa: bool = True, **attention_kwargs
    ) -> tuple[torch.Tensor, object]:
        output, probs = self.attention(
            self.norm1(hidden_states), output_attentions=output_attentions, use_sdpa=use_sdpa, **attention_kwargs
        )
        hidden_states = hidden_states + self.drop_path(output)
        hidden_states = hidden_states + self.drop_path(self.mlp(self.norm2(hidden_states)))
        return hidden_states, probs


def run_blocks(
    layers, hidden_states: torch.Tensor, output_hidden_states: bool, output_attentions: bool, use_sdpa: bool, **kwargs
) -> tuple[torch.Tensor, list | None, list | None]:
    """Run ``(hidden_states, probs)``-returning blocks in order; returns the output, the input and every block's
    output when ``output_hidden_states`` (else None), and the attention maps when ``output_attentions`` (a block
    returning a tuple of maps contributes each of them)."""
    all_hidden_states = [hidden_states] if output_hidden_states else None
    all_attentions = [] if output_attentions else None
    for layer in layers:
        hidden_states, probs = layer(hidden_states, output_attentions, use_sdpa, **kwargs)
        if output_hidden_states:
            all_hidden_states.append(hidden_states)
        if output_attentions:
            all_attentions.extend(probs if isinstance(probs, tuple) else (probs,))
    return hidden_states, all_hidden_states, all_attentions
