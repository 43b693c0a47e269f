"""Training clips whose shuffling and random augmentation depend only on the seed, the epoch and the video.

Why not torch's global generator: Trainer (and Accelerate's data loader) fetch a batch ahead of the step that
uses it, and on resume fetch the first batch before restoring the checkpoint's RNG state; ``DataLoader`` workers
draw from generators seeded when each epoch starts. Augmentation drawn from any of them differs between an
interrupted-and-resumed run and an uninterrupted one, and between one and several workers or processes.

Here the sampler shuffles each epoch with a generator seeded by ``(seed, epoch)`` and yields keys
``epoch * len(videos) + index``; the data set decodes video ``key % len(videos)`` and augments it with a
generator seeded by ``(seed, key)``. Every video's clip in every epoch is then fixed by the seed, whichever
worker, process or resumed run decodes it.
"""

from __future__ import annotations

import numpy as np
import torch

from .video_processing_utils import model_input_tensors


def derived_seed(*numbers: int) -> int:
    """A well-mixed 63-bit seed from a tuple of non-negative integers."""
    return int(np.random.SeedSequence(list(numbers)).generate_state(2, np.uint64)[0] >> np.uint64(1))


class EpochShuffleSampler(torch.utils.data.Sampler):
    """A new permutation of ``size`` videos each epoch (call ``set_epoch``), yielding ``epoch * size + index``."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        generator = torch.Generator().manual_seed(derived_seed(self.seed, self.epoch))
        order = torch.randperm(self.size, generator=generator)
        return iter((order + self.epoch * self.size).tolist())


class SeededTrainingClips(torch.utils.data.Dataset):
    """Training examples of a ``{"video", "label"}`` data set, each decoded and augmented (``training=True``)
    by ``processor`` with the seed of its sampler key: ``{model input: tensor, "labels": int}``."""

    def __init__(self, videos, processor, seed: int):
        self.videos, self.processor, self.seed = videos, processor, seed

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key: int) -> dict:
        row = self.videos[key % len(self.videos)]
        inputs = self.processor([row["video"]], training=True, seed=derived_seed(self.seed, key), return_tensors="pt")
        return {**{name: value[0] for name, value in model_input_tensors(inputs).items()}, "labels": row["label"]}

