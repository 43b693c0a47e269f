"""What every conversion script shares: safe checkpoint loading, the strict "every tensor used exactly
once" bookkeeping, and the command line that writes (and optionally pushes) a converted folder."""

from __future__ import annotations

import argparse
import io
import json
import logging
import lzma
import os
import pickle
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

import safetensors.torch
import torch

from hf_videomodels.errors import UserInputError, report_user_errors
from hf_videomodels.hub import save_model_folder
from hf_videomodels.model_card import describe_protocol


class ConversionError(UserInputError):
    """A checkpoint does not fit the target model: names the offending keys."""


def _fmt(keys, limit: int = 20) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


class TensorLedger:
    """A source state dict that records which tensors were taken.

    Conversion functions ``take`` every tensor they map; ``finish`` raises if any source tensor was never
    taken, and ``take`` raises if one is taken twice or does not exist, so a port cannot silently drop,
    duplicate or invent weights.
    """

    def __init__(self, state_dict: Mapping[str, torch.Tensor], optional: set[str] | frozenset = frozenset()):
        self._tensors = dict(state_dict)
        self._taken: set[str] = set()
        # Keys that may legitimately be absent or ignored (e.g. BatchNorm's num_batches_tracked counters).
        self._optional = set(optional)

    def __contains__(self, key: str) -> bool:
        return key in self._tensors

    def keys(self):
        return self._tensors.keys()

    def take(self, key: str) -> torch.Tensor:
        if key not in self._tensors:
            raise ConversionError(f"source checkpoint has no tensor {key!r}")
        if key in self._taken:
            raise ConversionError(f"source tensor {key!r} used twice")
        self._taken.add(key)
        return self._tensors[key]

    def skip(self, key: str) -> None:
        """Mark a tensor as deliberately not converted (only for keys declared optional)."""
        if key not in self._optional:
            raise ConversionError(f"refusing to drop non-optional source tensor {key!r}")
        self._taken.add(key)

    def finish(self) -> None:
        unused = set(self._tensors) - self._taken - self._optional
        if unused:
            raise ConversionError(f"{len(unused)} source tensor(s) not consumed: {_fmt(unused)}")


def check_complete(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Every tensor the model expects is provided, with the right shape, and nothing else."""
    expected = model.state_dict()
    missing = set(expected) - set(state_dict)
    unexpected = set(state_dict) - set(expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing from conversion: {_fmt(missing)}")
        if unexpected:
            parts.append(f"not in the model: {_fmt(unexpected)}")
        raise ConversionError("; ".join(parts))
    wrong = [
        f"{k}: {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if wrong:
        raise ConversionError("shape mismatch: " + "; ".join(wrong[:20]))


def meta_state_dict_from_manifest(manifest_path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's tensors as shape-only meta tensors, from its manifest in ``shared/reference`` (a JSON list
    of ``[key, shape, dtype]``): enough to convert the config and render a model card without the weights."""
    manifest = json.loads(Path(manifest_path).read_text())
    return {key: torch.empty(shape, device="meta") for key, shape, *_ in manifest["tensors"]}


def resolve_checkpoint(path_or_url: str | os.PathLike) -> Path:
    """A local path as is; an http(s) URL downloaded once to the torch hub cache."""
    text = str(path_or_url)
    if text.startswith(("http://", "https://")):
        cache = Path(torch.hub.get_dir()) / "checkpoints"
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / Path(text.split("?")[0]).name
        if not target.exists():
            with tempfile.NamedTemporaryFile(dir=cache, delete=False) as tmp:
                urllib.request.urlretrieve(text, tmp.name)  # noqa: S310 - user-given checkpoint URL
            os.replace(tmp.name, target)
        return target
    path = Path(text)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return path


def load_checkpoint(path_or_url: str | os.PathLike) -> object:
    """Load a ``.safetensors`` file, or a pickled PyTorch checkpoint without executing code from it
    (``weights_only=True``).

    Original files also hold plain containers (dicts, OrderedDicts, numbers, strings, optimizer state),
    which the restricted unpickler accepts; anything else is refused with the reason. An xz-compressed file
    (``.xz``) is decompressed in memory first.
    """
    path = resolve_checkpoint(path_or_url)
    if path.suffix == ".safetensors":  # timm and transformers files: tensors only by design
        return safetensors.torch.load_file(path)
    source = path
    if path.suffix == ".xz":
        with lzma.open(path) as compressed:
            source = io.BytesIO(compressed.read())
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ConversionError(
            f"{path} holds objects other than tensors and plain containers; refusing to unpickle it ({err})"
        ) from err


# PySlowFast trainer checkpoints (``.pyth``, also TimeSformer's): the weights live under the first of these
# container keys found (the trainer writes "model_state").
PYSLOWFAST_STATE_DICT_KEYS = ("model_state", "model", "module")
# Trainer bookkeeping, deliberately not converted ("cfg", the training config as YAML, is only read).
PYSLOWFAST_IGNORED_KEYS = ("epoch", "optimizer_state", "scaler_state", "cfg")


def extract_state_dict(checkpoint: Mapping) -> tuple[dict[str, torch.Tensor], dict | None]:
    """A PySlowFast-style checkpoint (or a bare state dict) -> (weights without the ``module.`` / ``model.``
    prefixes, the parsed training cfg or None)."""
    if all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
        state, cfg = dict(checkpoint), None  # already a bare state dict
    else:
        key = next((key for key in PYSLOWFAST_STATE_DICT_KEYS if key in checkpoint), None)
        if key is None:
            raise ConversionError(
                f"checkpoint has none of {PYSLOWFAST_STATE_DICT_KEYS}; top-level keys: {sorted(map(str, checkpoint))}"
            )
        unexpected = set(checkpoint) - {key} - set(PYSLOWFAST_IGNORED_KEYS)
        if unexpected:
            logging.getLogger(__name__).info("ignoring checkpoint entries %s", sorted(map(str, unexpected)))
        state, cfg = dict(checkpoint[key]), checkpoint.get("cfg")
    for prefix in ("module.", "model."):  # DDP wrapper, then a registered wrapper's `.model`
        if state and all(key.startswith(prefix) for key in state):
            state = {key.removeprefix(prefix): tensor for key, tensor in state.items()}
    if isinstance(cfg, str):
        import yaml

        cfg = yaml.safe_load(cfg)
    return state, cfg if isinstance(cfg, dict) else None


def cfg_value(cfg: dict | None, *path: str):
    """``cfg[path[0]][path[1]]...`` of a parsed training config, or None where any level is missing."""
    for key in path:
        if not isinstance(cfg, dict) or key not in cfg:
            return None
        cfg = cfg[key]
    return cfg


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Reconstructs numpy arrays (and numpy scalars) inside plain containers, and nothing else: any other global
    a pickle names (a function to call, a class to build) is refused before it is imported."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"): ("numpy", "ndarray"),
        ("numpy", "dtype"): ("numpy", "dtype"),
        ("collections", "OrderedDict"): ("collections", "OrderedDict"),
        # Protocol-2 pickles spell bytes (an array's buffer) as encode(text, "latin1").
        ("_codecs", "encode"): ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        target = self.ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are expected")
        import importlib

        return getattr(importlib.import_module(target[0]), target[1])


def load_numpy_pickle(path_or_url: str | os.PathLike) -> object:
    """Load a pickle of numpy arrays in plain containers (Caffe2 model-zoo ``.pkl`` files, written by Python 2:
    ``encoding="latin1"``) without running code from it: only numpy's array reconstruction is allowed."""
    path = resolve_checkpoint(path_or_url)
    try:
        with open(path, "rb") as file:
            return _NumpyOnlyUnpickler(file, encoding="latin1").load()
    except pickle.UnpicklingError as err:
        raise ConversionError(f"{path} is not a pickle of numpy arrays; refusing to unpickle it ({err})") from err


def read_labels(path_or_url: str | os.PathLike) -> list[str]:
    """Class names in logit order from a local file or URL.

    Formats: one name per line; a JSON list; or a JSON object ``{name: index}`` as the
    Something-Something-v2 ``labels.json`` (indices may be strings).
    """
    text = str(path_or_url)
    if text.startswith(("http://", "https://")):
        with urllib.request.urlopen(text) as response:  # noqa: S310 - user-given labels URL
            text = response.read().decode("utf-8")
    else:
        text = Path(text).read_text(encoding="utf-8")
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return [line.strip() for line in stripped.splitlines() if line.strip()]
    data = json.loads(stripped)
    if isinstance(data, list):
        return [str(name) for name in data]
    by_index = {int(index): name for name, index in data.items()}
    if sorted(by_index) != list(range(len(data))):
        raise ConversionError(f"label indices in {path_or_url} are not 0..{len(data) - 1} without gaps or repeats")
    return [by_index[i] for i in range(len(data))]


def packaged_labels(name: str) -> list[str]:
    """A label list shipped with the package (``hf_videomodels/data/labels/<name>.txt``), e.g. kinetics400."""
    return read_labels(str(resources.files("hf_videomodels").joinpath(f"data/labels/{name}.txt")))


BATCH_NORM_TENSORS = ("weight", "bias", "running_mean", "running_var")


def take_conv_bn_unit(
    ledger: TensorLedger, source: str, target: str, out: dict, conv: str = "conv3d", bn: str = "bn"
) -> None:
    """Move one conv (no bias) + BatchNorm unit into ``out`` as the keys of ``layers.ConvBNAct3d``.

    ``num_batches_tracked`` is taken when the checkpoint has it; checkpoints saved before PyTorch 0.4.1 do
    not, and the counter (only used when BatchNorm momentum is None) starts at 0.
    """
    prefix = f"{source}." if source else ""  # "" for units at the top of the checkpoint (torchvision's conv1)
    out[f"{target}.conv.weight"] = ledger.take(f"{prefix}{conv}.weight")
    for name in BATCH_NORM_TENSORS:
        out[f"{target}.bn.{name}"] = ledger.take(f"{prefix}{bn}.{name}")
    counter = f"{prefix}{bn}.num_batches_tracked"
    out[f"{target}.bn.num_batches_tracked"] = ledger.take(counter) if counter in ledger else torch.tensor(0)


def load_converted(model_class, config, state_dict: Mapping[str, torch.Tensor]):
    """The converted model in eval mode; strict, so a key the conversion missed cannot go unnoticed."""
    model = model_class(config)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def base_arg_parser(
    description: str,
    default_labels: str | None = None,
    checkpoint_help: str = "path or URL of the original checkpoint",
    checkpoint_required: bool = True,
) -> argparse.ArgumentParser:
    """``--checkpoint --output [--push-to-hub REPO]``, and ``--labels`` when the source has no class names.

    A script whose source may come from elsewhere (``checkpoint_required=False``) checks that it has one."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--checkpoint", required=checkpoint_required, help=checkpoint_help)
    parser.add_argument("--output", required=True, help="folder to write the converted model to")
    parser.add_argument("--push-to-hub", metavar="REPO", default=None, help="also push the result to this Hub repo")
    if default_labels is not None:
        parser.add_argument(
            "--labels",
            type=read_labels,
            default=None,
            help="class names in logit order (path or URL): one per line, a JSON list, or SSv2's JSON "
            f"{{name: index}}; default: {default_labels}",
        )
    return parser


def save_converted(model, video_processor, output_dir, card_text: str, push_to_hub: str | None = None) -> Path:
    """Write safetensors weights, config (with id2label), video processor and README model card."""
    return save_model_folder(model, video_processor, output_dir, card_text, push_to_hub)


# How torchvision measured its video weights (torchvision and video_swin torchvision converters' model cards).
TORCHVISION_VIDEO_TEST = (
    "torchvision's accuracies are its video classification reference's video accuracy "
    "(`references/video_classification/train.py`): the softmax probabilities of a video's clips are summed, which "
    "ranks the classes as their average does (its clip accuracy scores every clip alone)."
)


def evaluation_protocol(processor, original: str) -> str:
    """The model card's account of the test protocol: the views and view fusion ``processor`` (a video processor or
    its settings) saves, what ``hf-videomodels evaluate`` uses; then ``original``, how the original code combines
    its views."""
    settings = processor if isinstance(processor, Mapping) else processor.to_dict()
    how = describe_protocol(settings["num_clips"], settings["num_crops"], settings["view_fusion"])
    return f"Test protocol saved in the video processor (what `hf-videomodels evaluate` uses): {how}. {original}"


def run_script(main: Callable[[list[str] | None], object]) -> None:
    """A conversion script's ``__main__``: progress logged at INFO, and a user mistake or a checkpoint that
    does not fit printed as one line (exit status 2) instead of a traceback."""
    logging.basicConfig(level=logging.INFO)
    sys.exit(report_user_errors(lambda: main(None)))
