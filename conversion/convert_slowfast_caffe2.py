"""Convert the original SlowFast model zoo's Caffe2 checkpoints (``SLOWFAST_*.pkl``) to hf_videomodels' SlowFast.

    python -m conversion.convert_slowfast_caffe2 \
        --checkpoint https://dl.fbaipublicfiles.com/pyslowfast/model_zoo/kinetics400/SLOWFAST_8x8_R50.pkl \
        --output slowfast-8x8-r50-kinetics400

The ``.pkl`` files are Python-2 pickles of ``{"blobs": {caffe2_blob_name: numpy array}, ...}``, read here with a
restricted unpickler that rebuilds numpy arrays and nothing else (``conversion.common.load_numpy_pickle``). Blob
names follow Caffe2's video-model naming, which PySlowFast's ``c2_model_loading.py`` maps to its modules:
``conv1_w`` / ``t_conv1_w`` (Slow / Fast stem, ``t_`` marks the Fast pathway), ``res{stage}_{block}_branch2{a,b,c}_w``
and ``..._bn_{s,b,rm,riv}`` (scale, shift, running mean, running variance, the last stored as is),
``res{stage}_{block}_branch1_*`` (shortcut), ``t_pool1_subsample_*`` and ``t_res{stage}_{last}_branch2c_bn_subsample_*``
(the lateral convs after the stem and after res2..res4), ``nonlocal_conv{stage}_{block}_*`` (Slow non-local blocks)
and ``pred_{w,b}`` (classifier). Solver state (``*_momentum``, ``lr``, ``model_iter``) is skipped, as PySlowFast's
loader does; any other unknown blob is an error. The files hold no config: alpha and the clip length come from the
official file name (or ``--variant`` / ``--alpha``). Preprocessing: see ``convert_slowfast_pyslowfast``.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import logging
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from conversion.common import ConversionError, load_numpy_pickle, meta_state_dict_from_manifest, run_script
from conversion.convert_slowfast_pyslowfast import (  # noqa: F401  (VERIFIED_BY_TESTS: what its cards state)
    VERIFIED_BY_TESTS,
    build_video_processor,
    convert_pyslowfast_state_dict,
    model_card,
    parse_arguments,
    renamed_to_pyslowfast,
    write_folder,
)

logger = logging.getLogger(__name__)

MODEL_ZOO_URL = "https://dl.fbaipublicfiles.com/pyslowfast/model_zoo/kinetics400"
# Solver bookkeeping that PySlowFast's Caffe2 loader ignores (by substring, as it does).
SOLVER_BLOB_MARKERS = ("momentum", "lr", "model_iter")
BN_SUFFIXES = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
LINEAR_SUFFIXES = {"w": "weight", "b": "bias"}
_BN = r"bn_(s|b|rm|riv)"

# (Caffe2 blob pattern, PySlowFast key template, which group holds the tensor suffix, its table). Groups:
# "t" marks the Fast pathway, "stage" and "block" number the module.
BLOB_PATTERNS = [
    (rf"(?P<t>t_)?conv1_(w)", "s1.pathway{p}_stem.conv.{x}", LINEAR_SUFFIXES),
    (rf"(?P<t>t_)?res_conv1_{_BN}", "s1.pathway{p}_stem.bn.{x}", BN_SUFFIXES),
    (r"t_pool1_subsample_(w)", "s1_fuse.conv_f2s.{x}", LINEAR_SUFFIXES),
    (rf"t_pool1_subsample_{_BN}", "s1_fuse.bn.{x}", BN_SUFFIXES),
    (r"t_res(?P<stage>\d)_\d+_branch2c_bn_subsample_(w)", "s{stage}_fuse.conv_f2s.{x}", LINEAR_SUFFIXES),
    (rf"t_res(?P<stage>\d)_\d+_branch2c_bn_subsample_{_BN}", "s{stage}_fuse.bn.{x}", BN_SUFFIXES),
    (r"(?P<t>t_)?res(?P<stage>\d)_(?P<block>\d+)_branch1_(w)", "s{stage}.pathway{p}_res{block}.branch1.{x}", LINEAR_SUFFIXES),
    (rf"(?P<t>t_)?res(?P<stage>\d)_(?P<block>\d+)_branch1_{_BN}", "s{stage}.pathway{p}_res{block}.branch1_bn.{x}", BN_SUFFIXES),
    (r"(?P<t>t_)?res(?P<stage>\d)_(?P<block>\d+)_branch2(?P<conv>[abc])_(w)", "s{stage}.pathway{p}_res{block}.branch2.{conv}.{x}", LINEAR_SUFFIXES),
    (rf"(?P<t>t_)?res(?P<stage>\d)_(?P<block>\d+)_branch2(?P<conv>[abc])_{_BN}", "s{stage}.pathway{p}_res{block}.branch2.{conv}_bn.{x}", BN_SUFFIXES),
    (r"nonlocal_conv(?P<stage>\d)_(?P<block>\d+)_(?P<conv>theta|phi|g|out)_(w|b)", "s{stage}.pathway0_nonlocal{block}.conv_{conv}.{x}", LINEAR_SUFFIXES),
    (rf"nonlocal_conv(?P<stage>\d)_(?P<block>\d+)_{_BN}", "s{stage}.pathway0_nonlocal{block}.bn.{x}", BN_SUFFIXES),
    (r"pred_(w|b)", "head.projection.{x}", LINEAR_SUFFIXES),
]


def pyslowfast_key(blob_name: str) -> str | None:
    """PySlowFast's state-dict key for a Caffe2 blob name, or None if it is none of SlowFast's."""
    for pattern, template, suffixes in BLOB_PATTERNS:
        match = re.fullmatch(pattern, blob_name)
        if match:
            fields = {k: v for k, v in match.groupdict().items() if v is not None}
            suffix = match.groups()[-1]
            return template.format(p=1 if fields.pop("t", None) else 0, x=suffixes[suffix], **fields)
    return None


def caffe2_to_pyslowfast(blobs: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Caffe2 blobs -> PySlowFast-named tensors; solver state skipped, anything else unknown refused."""
    renamed = renamed_to_pyslowfast(
        blobs, pyslowfast_key, "Caffe2", skip=lambda name: any(marker in name for marker in SOLVER_BLOB_MARKERS)
    )
    return {
        key: torch.as_tensor(np.ascontiguousarray(array)) if isinstance(array, np.ndarray) else array
        for key, array in renamed.items()
    }


def convert_caffe2_checkpoint(
    checkpoint: Mapping, variant: str | None = None, labels: list[str] | None = None, alpha: int | None = None
):
    """A loaded Caffe2 ``.pkl`` (``{"blobs": {...}}``, or the blob dict itself) -> (config, our state dict)."""
    blobs = checkpoint.get("blobs", checkpoint) if isinstance(checkpoint, Mapping) else None
    if not isinstance(blobs, Mapping):
        raise ConversionError("a Caffe2 checkpoint is a dict with a 'blobs' dict of numpy arrays")
    state = caffe2_to_pyslowfast(blobs)
    return convert_pyslowfast_state_dict(state, None, variant, labels, alpha, expand_trailing_dims=True)


# The original model zoo's Caffe2 files (MODEL_ZOO.md, Kinetics-400) and their reported accuracy.
PUBLISHED_FILES = {"SLOWFAST_4x16_R50": (75.6, 92.0), "SLOWFAST_8x8_R50": (77.0, 92.6)}


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for every released SlowFast Caffe2 checkpoint, from the manifests in
    ``reference_dir`` (``shared/reference``); read by ``model_cards/generate.py``."""
    cards = {}
    for name, accuracy in PUBLISHED_FILES.items():
        state = meta_state_dict_from_manifest(reference_dir / "slowfast" / "manifests" / f"{name}.manifest.json")
        config, _ = convert_pyslowfast_state_dict(state, variant=name)
        processor = build_video_processor(config)
        model_id = f"slowfast-{name.removeprefix('SLOWFAST_').lower().replace('_', '-')}-kinetics400-caffe2"
        note = f"the original [PySlowFast model zoo]({MODEL_ZOO_URL}/{name}.pkl), Caffe2 format"
        cards[f"slowfast_{name.removeprefix('SLOWFAST_').lower()}_caffe2.md"] = model_card(
            model_id, config, processor, f"{name}.pkl", note, accuracy
        )
    return cards


def main(argv: list[str] | None = None) -> Path:
    args, checkpoint_name, variant = parse_arguments(
        "Convert a SlowFast Caffe2 .pkl checkpoint (PySlowFast model zoo) to an hf_videomodels folder.", argv
    )
    if variant is None and args.alpha is None:
        logger.warning("%s is not an official file name: pass --variant or --alpha", checkpoint_name)
    config, converted = convert_caffe2_checkpoint(load_numpy_pickle(args.checkpoint), variant, args.labels, args.alpha)
    note = f"the original [PySlowFast model zoo]({MODEL_ZOO_URL}), Caffe2 format"
    return write_folder(args, config, converted, None, checkpoint_name, note)


if __name__ == "__main__":
    run_script(main)
