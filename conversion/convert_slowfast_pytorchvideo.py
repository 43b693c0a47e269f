"""Convert pytorchvideo SlowFast checkpoints to hf_videomodels' SlowFast: pytorchvideo's hub models
(``slowfast_r50``, ``slowfast_r101``, ``slowfast_16x8_r101_50_50``) and PySlowFast's "PyTorchVideo" model zoo
(``projects/pytorchvideo``: ``PTVSlowFast``, keys ``model.`` + the same names).

    python -m conversion.convert_slowfast_pytorchvideo \
        --checkpoint https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/SLOWFAST_8x8_R50.pyth \
        --output slowfast-r50-kinetics400
    python conversion/convert_slowfast_pytorchvideo.py \
        --checkpoint https://dl.fbaipublicfiles.com/pytorchvideo/pysf_model_zoo/kinetics/SLOWFAST_4x16_R50.pyth \
        --output slowfast-4x16-r50-kinetics400

Both are ``torch.save``'d dicts with the weights under ``model_state`` (the PySlowFast zoo's also carry its
``cfg``). pytorchvideo's ``create_slowfast`` names its modules ``blocks.0`` (both stems and the first lateral
conv), ``blocks.1``..``blocks.4`` (res2..res5, lateral convs after the first three), ``blocks.6.proj`` (the
classifier); they are renamed to PySlowFast's and converted as ``convert_slowfast_pyslowfast`` does, which
reads everything but alpha and the clip length from the tensors (those come from the cfg or the file name).
Preprocessing: see ``convert_slowfast_pyslowfast``.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from conversion.common import (
    ConversionError,
    extract_state_dict,
    load_checkpoint,
    meta_state_dict_from_manifest,
    run_script,
)
from conversion.convert_slowfast_pyslowfast import (  # noqa: F401  (VERIFIED_BY_TESTS: what its cards state)
    VERIFIED_BY_TESTS,
    build_video_processor,
    convert_pyslowfast_state_dict,
    model_card,
    parse_arguments,
    renamed_to_pyslowfast,
    write_folder,
)

HUB_URL = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics"
PYSF_ZOO_URL = "https://dl.fbaipublicfiles.com/pytorchvideo/pysf_model_zoo/kinetics"
HEAD_BLOCK = 6  # blocks.5 is the parameter-free pool-and-concatenate step

# pytorchvideo module name pattern -> PySlowFast's (``{stage}`` is pytorchvideo's block index + 1).
MODULE_PATTERNS = [
    (r"blocks\.0\.multipathway_blocks\.(?P<p>\d)\.conv", "s1.pathway{p}_stem.conv"),
    (r"blocks\.0\.multipathway_blocks\.(?P<p>\d)\.norm", "s1.pathway{p}_stem.bn"),
    (r"blocks\.(?P<b>\d)\.multipathway_fusion\.conv_fast_to_slow", "s{stage}_fuse.conv_f2s"),
    (r"blocks\.(?P<b>\d)\.multipathway_fusion\.norm", "s{stage}_fuse.bn"),
    (r"blocks\.(?P<b>\d)\.multipathway_blocks\.(?P<p>\d)\.res_blocks\.(?P<i>\d+)\.branch1_conv", "s{stage}.pathway{p}_res{i}.branch1"),
    (r"blocks\.(?P<b>\d)\.multipathway_blocks\.(?P<p>\d)\.res_blocks\.(?P<i>\d+)\.branch1_norm", "s{stage}.pathway{p}_res{i}.branch1_bn"),
    (r"blocks\.(?P<b>\d)\.multipathway_blocks\.(?P<p>\d)\.res_blocks\.(?P<i>\d+)\.branch2\.conv_(?P<c>[abc])", "s{stage}.pathway{p}_res{i}.branch2.{c}"),
    (r"blocks\.(?P<b>\d)\.multipathway_blocks\.(?P<p>\d)\.res_blocks\.(?P<i>\d+)\.branch2\.norm_(?P<c>[abc])", "s{stage}.pathway{p}_res{i}.branch2.{c}_bn"),
    (rf"blocks\.{HEAD_BLOCK}\.proj", "head.projection"),
]


def pyslowfast_key(key: str) -> str | None:
    """PySlowFast's state-dict key for a pytorchvideo ``create_slowfast`` key, or None if it is not one."""
    module, _, tensor = key.rpartition(".")
    for pattern, template in MODULE_PATTERNS:
        match = re.fullmatch(pattern, module)
        if match:
            fields = match.groupdict()
            if fields.get("b") is not None:
                fields["stage"] = int(fields.pop("b")) + 1
            return f"{template.format(**fields)}.{tensor}"
    return None


def convert_pytorchvideo_checkpoint(
    checkpoint: Mapping, variant: str | None = None, labels: list[str] | None = None, alpha: int | None = None
):
    """A loaded pytorchvideo hub / PySlowFast PyTorchVideo-zoo checkpoint (or a bare ``create_slowfast`` state
    dict) -> (config, our state dict)."""
    state, cfg = extract_state_dict(checkpoint)  # strips PTVSlowFast's "model." prefix
    if not any(key.startswith("blocks.") for key in state):
        raise ConversionError("this checkpoint has no pytorchvideo tensors (blocks.*): use convert_slowfast_pyslowfast")
    return convert_pyslowfast_state_dict(renamed_to_pyslowfast(state, pyslowfast_key, "pytorchvideo"), cfg, variant, labels, alpha)


# pytorchvideo hub model -> the official variant its checkpoint file is named after.
HUB_MODELS = {
    "slowfast_r50": "SLOWFAST_8x8_R50",
    "slowfast_r101": "SLOWFAST_8x8_R101",
    "slowfast_16x8_r101_50_50": "SLOWFAST_16x8_R101_50_50",
}
# projects/pytorchvideo/README.md of PySlowFast (Kinetics-400, top-1 / top-5, 10 x 3 views).
PYSF_ZOO = {
    "SLOWFAST_4x16_R50": (75.34, 91.89),
    "SLOWFAST_8x8_R50": (76.94, 92.69),
    "SLOWFAST_8x8_R101": (77.90, 93.27),
    "SLOWFAST_16x8_R101_50_50": (78.70, 93.61),
}


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for pytorchvideo's hub checkpoints and PySlowFast's PyTorchVideo zoo, from the
    manifests in ``reference_dir`` (``shared/reference``); read by ``model_cards/generate.py``."""
    manifests = reference_dir / "slowfast" / "manifests"
    cards = {}
    for hub_name, variant in HUB_MODELS.items():
        state = meta_state_dict_from_manifest(manifests / f"pytorchvideo_{hub_name}.manifest.json")
        config, _ = convert_pytorchvideo_checkpoint({"model_state": state}, variant=variant)
        note = f"pytorchvideo's hub model `{hub_name}`, [{variant}.pyth]({HUB_URL}/{variant}.pyth)"
        model_id = f"{hub_name.replace('_', '-')}-kinetics400"
        cards[f"{hub_name}_pytorchvideo.md"] = model_card(
            model_id, config, build_video_processor(config), f"{variant}.pyth", note
        )
    for variant, accuracy in PYSF_ZOO.items():
        state = meta_state_dict_from_manifest(manifests / f"pysf_ptv_{variant}.manifest.json")
        config, _ = convert_pytorchvideo_checkpoint({"model_state": state}, variant=variant)
        note = f"PySlowFast's PyTorchVideo model zoo, [{variant}.pyth]({PYSF_ZOO_URL}/{variant}.pyth)"
        short = variant.removeprefix("SLOWFAST_").lower()
        model_id = f"slowfast-{short.replace('_', '-')}-kinetics400-pysf-ptv"
        cards[f"slowfast_{short}_pysf_ptv.md"] = model_card(
            model_id, config, build_video_processor(config), f"{variant}.pyth", note, accuracy
        )
    return cards


def main(argv: list[str] | None = None) -> Path:
    args, checkpoint_name, variant = parse_arguments(
        "Convert a pytorchvideo SlowFast checkpoint (hub or PySlowFast PyTorchVideo zoo) to an hf_videomodels folder.",
        argv,
        variant_aliases=HUB_MODELS,
    )
    checkpoint = load_checkpoint(args.checkpoint)
    config, converted = convert_pytorchvideo_checkpoint(checkpoint, variant, args.labels, args.alpha)
    _, cfg = extract_state_dict(checkpoint)
    return write_folder(args, config, converted, cfg, checkpoint_name, "[pytorchvideo](https://github.com/facebookresearch/pytorchvideo)")


if __name__ == "__main__":
    run_script(main)
