"""Multi-head self-attention shared by the video transformers (TimeSformer, ViT, ViViT, Swin, Video Swin).

The layout follows the original ViT / TimeSformer ``Attention``: one fused ``qkv`` Linear whose output rows
are ``[q; k; v]`` with the heads contiguous inside each (row ``s * dim + head * head_dim + j``), then an
output projection ``proj``. Checkpoints in that layout load without any reshuffling.

The fast path is ``F.scaled_dot_product_attention``. SDPA cannot return the attention probabilities, so when
they are asked for the same math is computed explicitly (scores scaled *after* ``q @ k^T``, as the
originals do) and the probabilities are returned beside the output. The explicit path is also there on
request (``use_sdpa=False``, i.e. a model loaded with ``attn_implementation="eager"``): on CPUs with bf16
matrix units, two bf16 matmuls beat SDPA's CPU kernel.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over ``(batch, tokens, dim)`` with fused qkv and an output projection.

    Args:
        dim: token width.
        num_heads: heads; ``dim`` must be a multiple of it.
        qkv_bias: give the fused qkv Linear a bias.
        attention_dropout: dropout on the attention probabilities (training only).
        proj_dropout: dropout after the output projection.

    ``forward(hidden_states, attention_bias=None, output_attentions=False, use_sdpa=True, bias_groups=1)``
    returns ``(output, probs)``;
    ``probs`` is ``(batch, heads, tokens, tokens)`` when requested and ``None`` otherwise.
    ``attention_bias`` is anything SDPA accepts as ``attn_mask`` and broadcasts to
    ``(batch, heads, tokens, tokens)``: a float tensor added to the scores (e.g. relative position bias) or
    a bool tensor where ``True`` marks the pairs that may attend. A float bias is cast to the activations'
    dtype (autocast).

    ``bias_groups > 1``: the batch is ``(outer, bias_groups)`` (windows of a Swin stage, group-minor) and
    ``attention_bias`` is ``(bias_groups, heads, tokens, tokens)``, one bias per group shared by every
    ``outer`` index. The groups are folded into the heads, so SDPA broadcasts the bias over ``outer``
    without materialising it per sample.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        attention_dropout: float = 0.0,
        proj_dropout: float = 0.0,
    ):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be a multiple of num_heads ({num_heads})")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.attention_dropout = attention_dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_dropout = nn.Dropout(proj_dropout)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_bias: torch.Tensor | None = None,
        output_attentions: bool = False,
        use_sdpa: bool = True,
        bias_groups: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, tokens, dim = hidden_states.shape
        qkv = self.qkv(hidden_states).view(batch, tokens, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (batch, heads, tokens, head_dim)
        if attention_bias is not None and attention_bias.is_floating_point():
            attention_bias = attention_bias.to(query.dtype)
        if bias_groups > 1:  # (outer * groups, heads, ...) -> (outer, groups * heads, ...)
            query, key, value = (t.reshape(batch // bias_groups, bias_groups * self.num_heads, tokens, -1)
                                 for t in (query, key, value))
            attention_bias = attention_bias.reshape(1, bias_groups * self.num_heads, tokens, tokens)
        dropout = self.attention_dropout if self.training else 0.0
        probs = None
        if output_attentions or not use_sdpa:
            scores = (query @ key.transpose(-2, -1)) * self.scale
            if attention_bias is not None:
                if attention_bias.dtype == torch.bool:
                    scores = scores.masked_fill(~attention_bias, float("-inf"))
                else:
                    scores = scores + attention_bias
            weights = F.dropout(scores.softmax(dim=-1), p=dropout, training=self.training)
            context = weights @ value
            probs = weights.reshape(batch, self.num_heads, tokens, tokens) if output_attentions else None
        else:
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_bias, dropout_p=dropout)
        context = context.reshape(batch, self.num_heads, tokens, self.head_dim).transpose(1, 2).reshape(batch, tokens, dim)
        return self.proj_dropout(self.proj(context)), probs
