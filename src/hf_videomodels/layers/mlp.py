"""The transformer feed-forward block: ``fc1 -> activation -> dropout -> fc2 -> dropout``."""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN


class Mlp(nn.Module):
    """Two Linears around an activation; names ``fc1`` / ``fc2`` match the ViT-family originals.

    ``activation`` is a name from transformers' ``ACT2FN``; ``"gelu"`` is the exact (erf) GELU, as
    ``nn.GELU()`` in the originals.
    """

    def __init__(self, dim: int, hidden_dim: int, activation: str = "gelu", dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = ACT2FN[activation]
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.act(self.fc1(hidden_states)))
        return self.dropout(self.fc2(hidden_states))
