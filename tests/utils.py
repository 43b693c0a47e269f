"""Helpers several test modules share."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark_script(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (a script folder, not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}_under_test", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def randomize_batch_norm(model: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial statistics and affine parameters, so eval-mode BatchNorm is not the identity (and a
    BatchNorm mapped to the wrong unit shows)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0, 0.1, generator=generator)


def tiny_classifier(name: str, seed: int = 0, num_labels: int = 4):
    """Architecture ``name``'s registered small model, random (seeded) and in eval mode, with its video processor,
    sized for the demo's 16-frame 64-pixel motion clips."""
    from hf_videomodels import demo
    from hf_videomodels.registration import find_architecture

    arch = find_architecture(name)
    config_overrides, processor_overrides = demo.small_training_overrides(arch)
    config = arch.config_class(num_labels=num_labels, **config_overrides)
    torch.manual_seed(seed)
    model = arch.classification_class(config).eval()
    return model, arch.video_processor_class.for_model_config(config, **processor_overrides)
