"""Convert princeton-vl/RAFT checkpoints (``raft-{things,sintel,kitti,chairs,small}.pth``) to hf_videomodels' RAFT.

    python -m conversion.convert_raft_original --checkpoint models/raft-things.pth --output raft-things
    python conversion/convert_raft_original.py --checkpoint models/raft-kitti.pth --output raft-kitti

The files (``models.zip`` of the repository's ``download_models.sh``) are plain state dicts of
``nn.DataParallel(RAFT(args))``: every key starts with ``module.``, and their storages are tagged CUDA, so they
are loaded with ``map_location="cpu"`` (and ``weights_only=True``). The small model is recognised by its
3x3 GRU. In the large model's context encoder ``norm3`` of a strided residual block *is* ``downsample[1]``, so the
file lists the same BatchNorm under both names; both are read, checked equal and stored once.

Preprocessing of the original ``demo.py`` / ``evaluate.py``, which the saved video processor reproduces: frames
at their own size, ``2 * x / 255 - 1``, padded to a multiple of 8 by ``InputPadder`` (replicated edges; centred
for Sintel and FlyingChairs, vertical padding at the bottom for KITTI), and the flow cropped back.
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from conversion.common import (
    ConversionError,
    TensorLedger,
    base_arg_parser,
    check_complete,
    load_checkpoint,
    load_converted,
    meta_state_dict_from_manifest,
    run_script,
    save_converted,
)
from hf_videomodels.model_card import render_model_card
from hf_videomodels.models.raft import RaftConfig, RaftModel, RaftVideoProcessor

SOURCE_URL = "https://github.com/princeton-vl/RAFT"
ENCODERS = {"feature_encoder": "fnet", "context_encoder": "cnet"}
COUNTER = "num_batches_tracked"

# Where a source keeps one of our tensors: its key, or the key and an alias (the same tensor under a second name).
SourceOf = Callable[[str, RaftConfig], tuple[str, ...]]
# The source conv of GRU step ``step`` (0, 1) and gate "z" (update), "r" (reset) or "q" (candidate).
GruConvOf = Callable[[int, str, RaftConfig], str]


def original_source(target: str, config: RaftConfig) -> tuple[str, ...]:
    """Where the original checkpoint keeps our tensor ``target`` (the GRU aside: :func:`original_gru_conv`)."""
    if match := re.fullmatch(r"(feature_encoder|context_encoder)\.(.+)", target):
        encoder, rest = ENCODERS[match[1]], match[2]
        if match := re.fullmatch(r"stem_(conv|norm)\.(.+)", rest):
            return (f"{encoder}.{match[1]}1.{match[2]}",)
        if match := re.fullmatch(r"projection\.(.+)", rest):
            return (f"{encoder}.conv2.{match[1]}",)
        if match := re.fullmatch(r"stages\.(\d)\.(\d)\.(.+)", rest):
            block, name = f"{encoder}.layer{int(match[1]) + 1}.{match[2]}", match[3]
            if name.startswith("downsample.1."):
                # The block's last norm (norm3 of a residual block, norm4 of a bottleneck) is downsample[1].
                own = 3 if config.encoder_block == "residual" else 4
                return f"{block}.{name}", f"{block}.norm{own}.{name.removeprefix('downsample.1.')}"
            return (f"{block}.{name}",)
    if match := re.fullmatch(r"update_block\.motion_encoder\.(corr_convs|flow_convs)\.(\d)\.(.+)", target):
        branch = "c" if match[1] == "corr_convs" else "f"
        return (f"update_block.encoder.conv{branch}{int(match[2]) + 1}.{match[3]}",)
    if match := re.fullmatch(r"update_block\.motion_encoder\.conv\.(.+)", target):
        return (f"update_block.encoder.conv.{match[1]}",)
    if target.startswith("update_block.flow_head."):
        return (target,)
    if match := re.fullmatch(r"mask_head\.conv(1|2)\.(.+)", target):
        return (f"update_block.mask.{0 if match[1] == '1' else 2}.{match[2]}",)
    raise ConversionError(f"no source known for {target!r}")


def original_gru_conv(step: int, gate: str, config: RaftConfig) -> str:
    """``convz1`` ... ``convq2`` for the large model's two separable steps, ``convz`` ... for the small one."""
    return f"update_block.gru.conv{gate}{step + 1 if config.gru_type == 'separable' else ''}"


def convert_by_layout(
    state_dict: Mapping[str, torch.Tensor], config: RaftConfig, source_of: SourceOf, gru_conv_of: GruConvOf
) -> dict[str, torch.Tensor]:
    """Our state dict for ``config``, every tensor read from ``state_dict`` where ``source_of`` and ``gru_conv_of``
    say. Every source tensor is used exactly once (aliases are checked equal and consumed); a missing key, a
    left-over key or a wrong shape raises ``ConversionError``. BatchNorm counters missing from an old file start
    at 0."""
    ledger = TensorLedger(state_dict)
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = RaftModel(config)
    converted = {}
    for step in range(len(model.update_block.gru)):
        converted.update(split_gru_step(ledger, config, step, gru_conv_of))
    for target in model.state_dict():
        if target in converted:
            continue
        keys = source_of(target, config)
        if target.endswith(COUNTER) and not any(key in ledger for key in keys):
            converted[target] = torch.tensor(0)
            continue
        tensors = [ledger.take(key) for key in keys]
        if len(tensors) == 2 and not _same(*tensors):
            raise ConversionError(f"{keys[0]} and {keys[1]} should be one tensor under two names, but they differ")
        converted[target] = tensors[0]
    ledger.finish()
    check_complete(model, converted)
    return converted


def split_gru_step(ledger: TensorLedger, config: RaftConfig, step: int, gru_conv_of: GruConvOf) -> dict:
    """The original's z, r, q convs over ``[hidden, context, motion]`` as our ``RaftConvGRU``: the context's input
    channels of all three (and their biases) in ``context_gates``, the hidden and motion ones in ``gates`` (z, r)
    and ``candidate`` (q)."""
    hidden, context = config.hidden_size, config.context_size
    weights, biases = {}, {}
    for gate in "zrq":
        conv = gru_conv_of(step, gate, config)
        weights[gate], biases[gate] = ledger.take(f"{conv}.weight"), ledger.take(f"{conv}.bias")
        if weights[gate].shape[1] != hidden + context + config.motion_output_size:
            raise ConversionError(
                f"{conv}.weight has {weights[gate].shape[1]} input channels; this RAFT's GRU takes "
                f"{hidden} hidden + {context} context + {config.motion_output_size} motion channels"
            )

    def hidden_and_motion(weight: torch.Tensor) -> torch.Tensor:
        return torch.cat([weight[:, :hidden], weight[:, hidden + context :]], dim=1)

    prefix = f"update_block.gru.{step}"
    return {
        f"{prefix}.context_gates.weight": torch.cat([weights[g][:, hidden : hidden + context] for g in "zrq"]),
        f"{prefix}.context_gates.bias": torch.cat([biases[g] for g in "zrq"]),
        f"{prefix}.gates.weight": torch.cat([hidden_and_motion(weights["z"]), hidden_and_motion(weights["r"])]),
        f"{prefix}.candidate.weight": hidden_and_motion(weights["q"]),
    }


def _same(first: torch.Tensor, second: torch.Tensor) -> bool:
    if first.device.type == "meta" or second.device.type == "meta":  # a manifest: shapes only
        return first.shape == second.shape
    return first.shape == second.shape and torch.equal(first, second)


def strip_data_parallel_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys without ``nn.DataParallel``'s ``module.`` (files saved from a bare ``RAFT`` have none)."""
    if state_dict and all(key.startswith("module.") for key in state_dict):
        return {key.removeprefix("module."): tensor for key, tensor in state_dict.items()}
    return dict(state_dict)


def convert_original_state_dict(
    state_dict: Mapping[str, torch.Tensor], **config_overrides
) -> tuple[RaftConfig, dict[str, torch.Tensor]]:
    """A princeton-vl/RAFT state dict (``module.`` prefix or not) -> (``RaftConfig``, ``RaftModel`` state dict)."""
    state_dict = strip_data_parallel_prefix(state_dict)
    if "update_block.gru.convz.weight" in state_dict:
        config = RaftConfig.small(**config_overrides)
    elif "update_block.gru.convz1.weight" in state_dict:
        config = RaftConfig.large(**config_overrides)
    else:
        raise ConversionError(
            "not a princeton-vl/RAFT checkpoint: it has neither update_block.gru.convz.weight (small model) nor "
            f"update_block.gru.convz1.weight (large model); first keys: {sorted(state_dict)[:5]}"
        )
    return config, convert_by_layout(state_dict, config, original_source, original_gru_conv)


# ---------------------------------------------------------------------------------------------- model cards

# The torchvision weights that are these checkpoints ported (their names say so): torchvision's measurements of them.
TORCHVISION_PORTS = {
    "raft-things": "Raft_Large_Weights.C_T_V1",
    "raft-sintel": "Raft_Large_Weights.C_T_SKHT_V1",
    "raft-kitti": "Raft_Large_Weights.C_T_SKHT_K_V1",
    "raft-small": "Raft_Small_Weights.C_T_V1",
}
# The official checkpoints: file stem -> (padding mode of its evaluation, what it was trained on).
PUBLISHED = {
    "raft-things": ("sintel", "FlyingChairs, then FlyingThings3D (the paper's C+T model, used for Sintel/KITTI "
                    "generalisation results)"),
    "raft-sintel": ("sintel", "C+T, then fine-tuned on a mix of Sintel, KITTI-2015, HD1K and FlyingThings3D "
                    "(the Sintel benchmark submission)"),
    "raft-kitti": ("kitti", "C+T and the Sintel mix, then fine-tuned on KITTI-2015 (the KITTI benchmark "
                   "submission)"),
    "raft-chairs": ("sintel", "FlyingChairs only"),
    "raft-small": ("sintel", "FlyingChairs, then FlyingThings3D (the small model)"),
}
# What tests/test_raft_modeling.py measures for this checkpoint family (and asserts stays within the bound).
PARITY_BOUND = 1e-4
VERIFIED_BY_TESTS = (
    "Checked by the project's tests on checkpoints in this exact file format (random weights, as the official "
    "files cannot be run there): for the large and the small model, the converted model reproduces the original "
    "code's features, final flow (full and 1/8 resolution) and the flow after 1, 6 and 12 iterations within "
    f"{PARITY_BOUND:.0e} px (max abs, fp32)."
)
USAGE = """```python
import torch
import hf_videomodels  # registers the architecture with the Auto classes
from transformers import AutoModel, AutoVideoProcessor

model = AutoModel.from_pretrained("{model_id}").eval()
processor = AutoVideoProcessor.from_pretrained("{model_id}")
inputs = processor("video.mp4", num_frames=8, return_tensors="pt")  # 8 consecutive frames: 7 pairs
with torch.no_grad():
    flow = model(**inputs).flow  # (pairs, 2, height, width): x and y displacement in pixels
```"""


def torchvision_metrics(weights: str | None) -> dict[str, float] | None:
    """``{"Sintel-Train-Cleanpass epe": 1.4411, ...}`` as torchvision's weight enum ``weights``
    (``"Raft_Large_Weights.C_T_V1"``) reports them; None for None."""
    if weights is None:
        return None
    import torchvision

    enum_name, member = weights.split(".")
    reported = getattr(torchvision.models.optical_flow, enum_name)[member].meta["_metrics"]
    return {f"{dataset} {name}": value for dataset, values in reported.items() for name, value in values.items()}


def build_video_processor(padding_mode: str = "sintel") -> RaftVideoProcessor:
    return RaftVideoProcessor(padding_mode=padding_mode)


def preprocessing_rows(processor: RaftVideoProcessor) -> dict[str, str]:
    return {
        "input": "pairs of consecutive RGB frames at their own size",
        "values": "2 * x / 255 - 1 (x / 255 normalised with mean 0.5 and std 0.5)",
        "padding": f"to a multiple of 8, edges replicated ({processor.padding_mode} layout of InputPadder); the "
        "flow is cropped back",
    }


def model_card(
    model_id: str,
    config: RaftConfig,
    processor: RaftVideoProcessor,
    trained_on: str,
    source: str,
    verified: str = VERIFIED_BY_TESTS,
    metrics: dict[str, float] | None = None,
    metrics_source: str = "",
) -> str:
    size = "small" if config.upsampling == "bilinear" else "large"
    notes = (
        f"RAFT {size}, trained on {trained_on}. {verified}\n\n"
        f"`model(pixel_values).flow` runs `config.num_iterations` = {config.num_iterations} refinement iterations; "
        "pass `num_iterations=` to change it (the original evaluates with 32 on Sintel and 24 on KITTI and "
        "FlyingChairs). `model.clip_flow(pixel_values)` gives the flow of every consecutive pair of `(batch, frames, "
        "3, H, W)` clips at any size. Fine-tuning: pass `flow_labels` (and `valid_mask`) for RAFT's sequence loss."
    )
    if metrics:
        notes += f"\n\nResults: end-point error (epe) in pixels and KITTI's Fl-all in percent, {metrics_source}."
    return render_model_card(
        model_id=model_id,
        architecture="RAFT",
        base_model=None,
        datasets=[],
        metrics=metrics,
        source=source,
        preprocessing=preprocessing_rows(processor),
        notes=notes,
        license="bsd-3-clause",
        task_tag="optical-flow",
        pipeline_tag=None,
        summary="optical flow model",
        usage=USAGE.format(model_id=model_id),
    )


def original_source_line(file_name: str) -> str:
    return (
        f"Recurrent All-Pairs Field Transforms (Teed & Deng, ECCV 2020), converted from `{file_name}` of "
        f"{SOURCE_URL}."
    )


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for every official RAFT checkpoint, from the manifests in ``reference_dir``
    (``shared/reference``); read by ``model_cards/generate.py``."""
    cards = {}
    for name, (padding_mode, trained_on) in PUBLISHED.items():
        state_dict = meta_state_dict_from_manifest(reference_dir / "raft" / f"{name}.manifest.json")
        config, _ = convert_original_state_dict(state_dict)
        processor = build_video_processor(padding_mode)
        port = TORCHVISION_PORTS.get(name)
        cards[f"{name.replace('-', '_')}.md"] = model_card(
            name,
            config,
            processor,
            trained_on,
            original_source_line(f"{name}.pth"),
            metrics=torchvision_metrics(port),
            metrics_source=f"as torchvision reports them for its port of this checkpoint (`{port}`)",
        )
    return cards


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser("Convert a princeton-vl/RAFT checkpoint to an hf_videomodels RAFT folder.")
    parser.add_argument(
        "--padding-mode",
        choices=("sintel", "kitti"),
        default=None,
        help="InputPadder layout of the saved processor (default: kitti for a file named *kitti*, else sintel)",
    )
    parser.add_argument("--num-iterations", type=int, default=12, help="default refinement iterations (12)")
    args = parser.parse_args(argv)
    file_name = Path(str(args.checkpoint)).name
    padding_mode = args.padding_mode or ("kitti" if "kitti" in file_name.lower() else "sintel")
    state_dict = load_checkpoint(args.checkpoint)
    config, converted = convert_original_state_dict(state_dict, num_iterations=args.num_iterations)
    model = load_converted(RaftModel, config, converted)
    processor = build_video_processor(padding_mode)
    stem = Path(file_name).stem
    trained_on = PUBLISHED.get(stem, (None, "the data of the original checkpoint"))[1]
    port = TORCHVISION_PORTS.get(stem)
    card = model_card(
        args.push_to_hub or Path(args.output).name,
        config,
        processor,
        trained_on,
        original_source_line(file_name),
        metrics=torchvision_metrics(port),
        metrics_source=f"as torchvision reports them for its port of this checkpoint (`{port}`)",
    )
    return save_converted(model, processor, args.output, card, args.push_to_hub, with_code=args.with_code)


if __name__ == "__main__":
    run_script(main)
