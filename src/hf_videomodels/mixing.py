"""Soft training targets: label smoothing, mixup and cutmix of video clips, and their cross-entropy.

Mixup blends every clip of a batch with another clip of the batch (a random pairing), pixel by pixel, with weight
``lam ~ Beta(alpha, alpha)``. Cutmix pastes a box of the partner clip into each clip: the same box in every frame
(the box covers ``1 - lam`` of a frame; ``lam`` is then the exact fraction of pixels left uncovered, once the box
is clipped to the frame and rounded to the first input's pixels). The targets mix the same way:
``lam * y_a + (1 - lam) * y_b``, each a label-smoothed one-hot ``(1 - eps) * onehot + eps / num_labels``. With
both alphas set, each batch uses one of the two, with equal probability (as timm switches). Randomness comes from
torch's global generator, which Trainer checkpoints and restores on resume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class ClipMixing:
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    label_smoothing: float = 0.0

    @property
    def active(self) -> bool:
        return self.mixup_alpha > 0 or self.cutmix_alpha > 0 or self.label_smoothing > 0

    def __call__(self, videos: dict[str, torch.Tensor], labels: torch.Tensor, num_labels: int):
        """Mix a batch: ``videos`` maps input names to ``(batch, frames, C, H, W)`` clips (two-stream's RGB and
        flow, mixed alike); returns the mixed clips and the soft targets ``(batch, num_labels)``."""
        targets = smoothed_one_hot(labels, num_labels, self.label_smoothing)
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or float(torch.rand(())) < 0.5)
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        if alpha == 0:
            return videos, targets
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        partner = torch.randperm(labels.shape[0])
        if use_cutmix:
            box = cutmix_box(lam)
            pasted = {name: paste_box(clips, clips[partner], box) for name, clips in videos.items()}
            videos = {name: clips for name, (clips, _) in pasted.items()}
            lam = 1 - next(iter(pasted.values()))[1]  # the first (main) input's pixels
        else:
            videos = {name: lam * clips + (1 - lam) * clips[partner] for name, clips in videos.items()}
        return videos, lam * targets + (1 - lam) * targets[partner]


def smoothed_one_hot(labels: torch.Tensor, num_labels: int, smoothing: float) -> torch.Tensor:
    one_hot = F.one_hot(labels.long(), num_labels).float()
    return one_hot * (1 - smoothing) + smoothing / num_labels


def cutmix_box(lam: float) -> tuple[float, float, float, float]:
    """A box ``(top, left, bottom, right)`` in fractions of the frame, covering ``1 - lam`` of it before it is
    clipped to the frame, centred at a uniformly random point."""
    side = math.sqrt(1 - lam)
    centre_y, centre_x = torch.rand(2).tolist()
    top, bottom = max(centre_y - side / 2, 0.0), min(centre_y + side / 2, 1.0)
    left, right = max(centre_x - side / 2, 0.0), min(centre_x + side / 2, 1.0)
    return top, left, bottom, right


def paste_box(
    clips: torch.Tensor, partners: torch.Tensor, box: tuple[float, float, float, float]
) -> tuple[torch.Tensor, float]:
    """``clips`` with ``box`` (fractions of the frame) taken from ``partners`` in every frame, and the fraction of
    each frame's pixels pasted."""
    height, width = clips.shape[-2:]
    top, left, bottom, right = box
    rows = slice(round(top * height), round(bottom * height))
    columns = slice(round(left * width), round(right * width))
    mixed = clips.clone()
    mixed[..., rows, columns] = partners[..., rows, columns]
    pasted = (rows.stop - rows.start) * (columns.stop - columns.start) / (height * width)
    return mixed, pasted


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the logits against probability targets (in float32, also under bf16 autocast)."""
    return -(targets * F.log_softmax(logits.float(), dim=-1)).sum(dim=-1).mean()
