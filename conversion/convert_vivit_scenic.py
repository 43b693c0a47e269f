"""Convert google-research/scenic ViViT checkpoints (Flax msgpack, no JAX needed) to hf_videomodels' ViViT.

    python conversion/convert_vivit_scenic.py --checkpoint \
        https://storage.googleapis.com/scenic-bucket/vivit/kinetics_400/vivit_base_16x2_unfactorized/checkpoint \
        --variant vivit_base_16x2_unfactorized_k400 --output vivit-b-16x2-k400
    python conversion/convert_vivit_scenic.py --checkpoint my_run/checkpoint_5000 --image-size 224 \
        --model-variant factorised_dot_product_attention --output my-vivit

The file is one msgpack document (``flax.training.checkpoints``): nested maps whose leaves are arrays packed
as msgpack extension 1 (``(shape, dtype name, C-order bytes)``, itself msgpack), scalars as extension 3 and
arrays over 1 GiB split into ``__msgpack_chunked_array__`` maps. :func:`read_flax_checkpoint` decodes that with
the ``msgpack`` package and numpy. The parameter tree is at ``["optimizer"]["target"]`` in the released (2021)
files and at ``["params"]`` in current Scenic's; both are read.

Layouts (Flax -> PyTorch): the tubelet kernel (t, h, w, in, out) becomes a Conv3d weight (out, in, t, h, w)
(a 2-D (h, w, in, out) kernel is the uniform-frame tokenizer); Dense kernels (in, out) are transposed;
attention query/key/value kernels (D, heads, head_dim) are stacked into our fused qkv (rows q, k, v; heads
contiguous), the out kernel (heads, head_dim, D) becomes the projection; LayerNorm ``scale`` is the weight.

Sizes come from the tensors (width, heads, MLP widths, depths, tubelet, classes, spatial and temporal token
grids of the factorised encoder). What tensors cannot say is given on the command line or by ``--variant``:
the resolution of models 1/3/4 (their table covers T'H'W' tokens; default 224) and which of the models 1 and 4
(identical tensors) a cls-free checkpoint is (``--model-variant``). Model 3 is recognised by its
``MultiHeadDotProductAttention_time`` blocks; ``--attention-order`` gives its order (Scenic's config says it).
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np
import torch

from conversion.common import (
    ConversionError,
    TensorLedger,
    base_arg_parser,
    check_complete,
    evaluation_protocol,
    load_converted,
    meta_state_dict_from_manifest,
    packaged_labels,
    resolve_checkpoint,
    run_script,
    save_converted,
)
from conversion.convert_timesformer_original import preprocessing_rows
from hf_videomodels.layers.patch_embed import pair
from hf_videomodels.model_card import render_model_card
from hf_videomodels.models.vivit import ViViTConfig, ViViTForVideoClassification

# ---------------------------------------------------------------------------------------------- msgpack

_NDARRAY, _COMPLEX, _SCALAR = 1, 2, 3  # flax.serialization's msgpack extension codes
_CHUNKED = "__msgpack_chunked_array__"


def _array_from_bytes(data: bytes) -> np.ndarray:
    shape, dtype_name, buffer = msgpack.unpackb(data, raw=True)
    name = dtype_name.decode()
    if name == "bfloat16":  # numpy has no bfloat16: keep the bits, widen through torch
        bits = torch.from_numpy(np.frombuffer(buffer, dtype=np.uint16).copy()).view(torch.bfloat16)
        return bits.float().numpy().reshape(shape)
    return np.frombuffer(buffer, dtype=np.dtype(name)).reshape(shape)


def _ext_hook(code: int, data: bytes):
    if code == _NDARRAY:
        return _array_from_bytes(data)
    if code == _SCALAR:
        return _array_from_bytes(data)[()]
    if code == _COMPLEX:
        return complex(*msgpack.unpackb(data))
    raise ConversionError(f"unknown msgpack extension type {code} in the Flax checkpoint")


def _join_chunks(tree):
    if isinstance(tree, dict):
        if tree.get(_CHUNKED):
            shape = tuple(tree["shape"][str(i)] for i in range(len(tree["shape"])))
            chunks = [tree["chunks"][str(i)] for i in range(len(tree["chunks"]))]
            return np.concatenate(chunks).reshape(shape)
        return {key: _join_chunks(value) for key, value in tree.items()}
    return tree


def read_flax_checkpoint(path) -> dict:
    """A Flax ``checkpoint`` file as nested dicts of numpy arrays (what ``restore_checkpoint(path, None)``
    returns), without JAX or Flax."""
    data = Path(resolve_checkpoint(path)).read_bytes()
    try:
        tree = msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as err:
        raise ConversionError(f"{path} is not a Flax msgpack checkpoint ({err})") from err
    return _join_chunks(tree)


def parameter_tree(checkpoint: Mapping) -> Mapping:
    """The parameters: ``["optimizer"]["target"]`` (released 2021 files) or ``["params"]`` (current Scenic)."""
    if isinstance(checkpoint.get("optimizer"), Mapping) and "target" in checkpoint["optimizer"]:
        return checkpoint["optimizer"]["target"]
    if isinstance(checkpoint.get("params"), Mapping):
        return checkpoint["params"]
    raise ConversionError(
        f"no parameter tree at ['optimizer']['target'] or ['params']; top-level keys: {sorted(checkpoint)}"
    )


def flatten_tree(tree: Mapping, prefix: str = "") -> dict[str, torch.Tensor]:
    """Nested parameters -> ``{"a/b/kernel": tensor}``."""
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_tree(value, path + "/"))
        else:
            flat[path] = torch.from_numpy(np.array(value, dtype=np.float32))
    return flat


def load_scenic_params(path) -> dict[str, torch.Tensor]:
    return flatten_tree(parameter_tree(read_flax_checkpoint(path)))


# ----------------------------------------------------------------------------------------------- layout


def _dense(ledger: TensorLedger, source: str, target: str, out: dict) -> None:
    out[f"{target}.weight"] = ledger.take(f"{source}/kernel").T
    out[f"{target}.bias"] = ledger.take(f"{source}/bias")


def _layer_norm(ledger: TensorLedger, source: str, target: str, out: dict) -> None:
    out[f"{target}.weight"] = ledger.take(f"{source}/scale")
    out[f"{target}.bias"] = ledger.take(f"{source}/bias")


def _attention(ledger: TensorLedger, source: str, target: str, out: dict) -> None:
    """Flax MultiHeadDotProductAttention -> our fused qkv + proj."""
    weights, biases = [], []
    for name in ("query", "key", "value"):
        kernel = ledger.take(f"{source}/{name}/kernel")  # (D, heads, head_dim)
        weights.append(kernel.reshape(kernel.shape[0], -1).T)
        biases.append(ledger.take(f"{source}/{name}/bias").reshape(-1))
    out[f"{target}.qkv.weight"] = torch.cat(weights)
    out[f"{target}.qkv.bias"] = torch.cat(biases)
    kernel = ledger.take(f"{source}/out/kernel")  # (heads, head_dim, D)
    out[f"{target}.proj.weight"] = kernel.reshape(-1, kernel.shape[-1]).T
    out[f"{target}.proj.bias"] = ledger.take(f"{source}/out/bias")


def _mlp(ledger: TensorLedger, source: str, target: str, out: dict) -> None:
    _dense(ledger, f"{source}/Dense_0", f"{target}.fc1", out)
    _dense(ledger, f"{source}/Dense_1", f"{target}.fc2", out)


def take_encoder(ledger: TensorLedger, scenic: str, cls_key: str, ours: str, num_layers: int, out: dict) -> None:
    """One Scenic ``Encoder`` (+ its cls token) as our ``ViViTEncoder`` at ``ours``."""
    if cls_key in ledger:
        out[f"{ours}.cls_token"] = ledger.take(cls_key)
    out[f"{ours}.position_embeddings"] = ledger.take(f"{scenic}/posembed_input/pos_embedding")
    for i in range(num_layers):
        source, target = f"{scenic}/encoderblock_{i}", f"{ours}.layers.{i}"
        if f"{source}/LayerNorm_time/scale" in ledger:  # model 3's factorised self-attention block
            for axis in ("time", "space"):
                _layer_norm(ledger, f"{source}/LayerNorm_{axis}", f"{target}.attention_norms.{axis}", out)
                _attention(ledger, f"{source}/MultiHeadDotProductAttention_{axis}", f"{target}.attentions.{axis}", out)
            _layer_norm(ledger, f"{source}/LayerNorm_mlp", f"{target}.mlp_norm", out)
            _mlp(ledger, f"{source}/MlpBlock", f"{target}.mlp", out)
        else:
            _layer_norm(ledger, f"{source}/LayerNorm_0", f"{target}.norm1", out)
            _attention(ledger, f"{source}/MultiHeadDotProductAttention_0", f"{target}.attention", out)
            _layer_norm(ledger, f"{source}/LayerNorm_1", f"{target}.norm2", out)
            _mlp(ledger, f"{source}/MlpBlock_0", f"{target}.mlp", out)
    _layer_norm(ledger, f"{scenic}/encoder_norm", f"{ours}.layernorm", out)


def _count_blocks(params: Mapping, encoder: str) -> int:
    found = {int(m.group(1)) for key in params if (m := re.match(rf"{encoder}/encoderblock_(\d+)/", key))}
    if found != set(range(len(found))):
        raise ConversionError(f"{encoder} blocks are not numbered 0..{len(found) - 1}: {sorted(found)}")
    return len(found)


def _heads_and_mlp(params: Mapping, encoder: str) -> tuple[int, int]:
    block = f"{encoder}/encoderblock_0"
    attention = next(
        (k for k in params if k.startswith(f"{block}/MultiHeadDotProductAttention") and k.endswith("query/kernel")),
        None,
    )
    mlp = next((k for k in params if k.startswith(f"{block}/MlpBlock") and k.endswith("Dense_0/kernel")), None)
    if attention is None or mlp is None:
        raise ConversionError(f"{block} has no attention or MLP tensors")
    return params[attention].shape[1], params[mlp].shape[1]


def scenic_config(params: Mapping[str, torch.Tensor], image_size=224, model_variant=None, **settings) -> ViViTConfig:
    """Our config from a Scenic parameter tree's shapes, plus what the shapes cannot say (module docstring)."""
    if "embedding/kernel" not in params:
        raise ConversionError("not a Scenic ViViT parameter tree: no embedding/kernel")
    kernel = params["embedding/kernel"]
    if kernel.ndim == 5:
        tubelet, tokenizer = list(kernel.shape[:3]), "tubelet"
    elif kernel.ndim == 4:
        tubelet, tokenizer = [1, *kernel.shape[:2]], "uniform_frames"
    else:
        raise ConversionError(f"embedding/kernel has shape {tuple(kernel.shape)}, expected 5-D (tubelets) or 4-D")
    hidden, channels = kernel.shape[-1], kernel.shape[-2]
    factorised_encoder = "SpatialTransformer/encoder_norm/scale" in params
    main = "SpatialTransformer" if factorised_encoder else "Transformer"
    heads, mlp = _heads_and_mlp(params, main)
    cls_key = "cls_SpatialTransformer" if factorised_encoder else "cls"
    prefix = 1 if cls_key in params else 0
    tokens = params[f"{main}/posembed_input/pos_embedding"].shape[1] - prefix
    if factorised_encoder:
        side = round(tokens**0.5)
        if side * side != tokens:
            raise ConversionError(f"the spatial position table holds {tokens} positions, not a square grid")
        image_size = side * tubelet[1]
        frames = params["TemporalTransformer/posembed_input/pos_embedding"].shape[1] - prefix
        temporal_heads, temporal_mlp = _heads_and_mlp(params, "TemporalTransformer")
        settings.update(
            temporal_num_hidden_layers=_count_blocks(params, "TemporalTransformer"),
            temporal_num_attention_heads=temporal_heads,
            temporal_intermediate_size=temporal_mlp,
        )
        model_variant = "factorised_encoder"
    else:
        height, width = pair(image_size)
        grid = (height // tubelet[1]) * (width // tubelet[2])
        if tokens % grid:
            raise ConversionError(
                f"the position table holds {tokens} tokens, not a whole number of {image_size}-pixel frames of "
                f"{grid} patches: give the resolution the model was trained at (--image-size)"
            )
        frames = tokens // grid
        if "Transformer/encoderblock_0/LayerNorm_time/scale" in params:
            model_variant = "factorised_self_attention"
        elif model_variant in (None, "factorised_encoder", "factorised_self_attention"):
            model_variant = "spatio_temporal"
    if tokenizer == "uniform_frames":
        settings.setdefault("num_sampled_frames", frames)
    settings.setdefault("num_frames", frames * tubelet[0])
    settings.setdefault("temporal_num_attention_heads", heads)
    return ViViTConfig(
        image_size=image_size,
        tubelet_size=tubelet,
        num_channels=channels,
        tokenizer=tokenizer,
        model_variant=model_variant,
        hidden_size=hidden,
        num_hidden_layers=_count_blocks(params, main),
        num_attention_heads=heads,
        intermediate_size=mlp,
        pooling="token" if prefix else "gap",
        num_labels=params["output_projection/kernel"].shape[1],
        **settings,
    )


def convert_scenic_vivit(
    params: Mapping[str, torch.Tensor], **config_settings
) -> tuple[ViViTConfig, dict[str, torch.Tensor]]:
    """A flattened Scenic ViViT parameter tree -> (our config, our ``ViViTForVideoClassification`` state dict).

    Strict: every tensor is used exactly once and the result matches the model's keys and shapes."""
    config = scenic_config(params, **config_settings)
    ledger = TensorLedger(params)
    out = {}
    kernel = ledger.take("embedding/kernel")
    weight = kernel.permute(4, 3, 0, 1, 2) if kernel.ndim == 5 else kernel.permute(3, 2, 0, 1)
    conv = "vivit.embeddings.patch_embeddings" + ("" if kernel.ndim == 5 else ".proj")
    out[f"{conv}.weight"], out[f"{conv}.bias"] = weight, ledger.take("embedding/bias")
    if config.model_variant == "factorised_encoder":
        take_encoder(
            ledger, "SpatialTransformer", "cls_SpatialTransformer", "vivit.encoder", config.num_hidden_layers, out
        )
        take_encoder(ledger, "TemporalTransformer", "cls_TemporalTransformer", "vivit.temporal_encoder",
                     config.temporal_num_hidden_layers, out)  # fmt: skip
    else:
        take_encoder(ledger, "Transformer", "cls", "vivit.encoder", config.num_hidden_layers, out)
    _dense(ledger, "output_projection", "classifier", out)
    ledger.finish()
    with torch.device("meta"):
        check_complete(ViViTForVideoClassification(config), out)
    return config, out


# --------------------------------------------------------------------------------------- published files

SOURCE_URL = "https://github.com/google-research/scenic/tree/main/scenic/projects/vivit"
BUCKET = "https://storage.googleapis.com/scenic-bucket/vivit"
VERIFIED_BY_TESTS = (
    "Checked by the project's tests (the released weights cannot be run there): every tensor of this file's "
    "layout, as listed in its manifest, is mapped exactly once and loads strictly into the model; and small "
    "models run with Scenic's own code (random weights; models 1 to 4) in its msgpack container, converted by "
    "this script, give Scenic's logits to 1e-4 (fp32)."
)


@dataclass(frozen=True)
class ScenicVariant:
    """A released checkpoint (README of scenic/projects/vivit) and its config's evaluation input."""

    dataset: str
    config_file: str
    checkpoint_url: str | None
    labels: str | None  # a packaged label list
    frame_sample_rate: int = 2
    short_side: int = 256
    crop: int = 224
    class_splits: tuple[str, ...] | None = None  # names of consecutive logit groups
    class_split_sizes: tuple[int, ...] | None = None


VARIANTS = {
    "vivit_base_16x2_unfactorized_k400": ScenicVariant(
        "Kinetics-400", "kinetics400/vivit_base_k400.py",
        f"{BUCKET}/kinetics_400/vivit_base_16x2_unfactorized/checkpoint", "kinetics400"),
    "vivit_base_16x2_fe_k400": ScenicVariant(
        "Kinetics-400", "kinetics400/vivit_base_factorised_encoder.py",
        f"{BUCKET}/kinetics_400/vivit_base_16x2_fe/checkpoint", "kinetics400"),
    "vivit_large_16x2_fe_k400": ScenicVariant(
        "Kinetics-400", "kinetics400/vivit_large_factorised_encoder.py",
        f"{BUCKET}/kinetics_400/vivit_large_16x2_fe/checkpoint", "kinetics400"),
    "vivit_large_16x2_fe_k600": ScenicVariant(
        "Kinetics-600", "kinetics600/vivit_large_factorised_encoder.py",
        f"{BUCKET}/kinetics_600/vivit_large_16x2_fe/checkpoint", "kinetics600"),
    "vivit_large_16x2_fe_epic_kitchens": ScenicVariant(
        "EPIC-Kitchens-100", "epic_kitchens/vivit_large_factorised_encoder.py",
        f"{BUCKET}/epic_kitchens/vivit_large_16x2_fe/checkpoint", None, frame_sample_rate=1,
        class_splits=("noun", "verb"), class_split_sizes=(300, 97)),
    "vivit_large_16x2_fe_ssv2": ScenicVariant(
        "Something-Something-v2", "something_something_v2/vivit_large_factorised_encoder.py", None, None,
        frame_sample_rate=1, short_side=288, crop=256),
}  # fmt: skip


def processor_kwargs(variant: ScenicVariant | None, config: ViViTConfig) -> dict:
    """Scenic's test input of the variant's config (DMVR's exact-stride clips, ``zero_centering``): 4 clips x
    3 crops."""
    crop_height, crop_width = (variant.crop, variant.crop) if variant else pair(config.image_size)
    short_side = variant.short_side if variant else round(min(crop_height, crop_width) * 256 / 224)
    from hf_videomodels.models.vivit import ViViTVideoProcessor

    defaults = ViViTVideoProcessor()
    return {
        "num_frames": config.num_frames,
        "sampling": "clip",
        "frame_sample_rate": variant.frame_sample_rate if variant else defaults.frame_sample_rate,
        "clip_alignment": "dmvr",
        "short_video": "loop",
        "size": {"shortest_edge": short_side},
        "crop_size": {"height": crop_height, "width": crop_width},
        "num_clips": 4,
        "num_crops": 3,
        "view_fusion": "logits",  # see SCENIC_TEST
        "channel_order": "rgb",
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5] * 3,
        "image_std": [0.5] * 3,
    }


# How Scenic's multi-crop test combines a video's views, for the model card.
SCENIC_TEST = (
    "Scenic's multi-crop test (`test_step` in `projects/vivit/train_utils.py`, run by its trainer with "
    "`do_multicrop_test`) averages the views' logits (its `softmax_logits` switch is left off)."
)


def class_names(variant: ScenicVariant | None, num_labels: int, given: list[str] | None) -> list[str]:
    """Logit-order names: given ones, the packaged Kinetics lists, or ``<split>_<i>`` / ``class_<i>``."""
    if given is None and variant is not None and variant.labels:
        given = packaged_labels(variant.labels)
    if given is None:
        if variant is not None and variant.class_splits:
            return [f"{split}_{i}" for split, size in zip(variant.class_splits, variant.class_split_sizes)
                    for i in range(size)]  # fmt: skip
        return [f"class_{i}" for i in range(num_labels)]
    if len(given) != num_labels:
        raise ConversionError(f"{len(given)} class names for a checkpoint with {num_labels} outputs")
    return given


def variant_settings(variant: ScenicVariant | None) -> dict:
    if variant is None or variant.class_split_sizes is None:
        return {}
    return {"class_splits": list(variant.class_split_sizes)}


def model_card(model_id: str, config: ViViTConfig, variant_name: str | None, kwargs: dict) -> str:
    variant = VARIANTS.get(variant_name) if variant_name else None
    model_number = {"spatio_temporal": 1, "factorised_encoder": 2, "factorised_self_attention": 3,
                    "factorised_dot_product_attention": 4}[config.model_variant]  # fmt: skip
    notes = (
        f"ViViT model {model_number} ({config.model_variant.replace('_', ' ')}), {config.num_frames} frames at "
        f"{config.image_size}px in {'x'.join(map(str, config.tubelet_size))} tubelets. {VERIFIED_BY_TESTS} Other "
        "clip lengths and resolutions work: the position tables are interpolated linearly."
    )
    if variant is not None:
        notes += f" Scenic config: `configs/{variant.config_file}`."
        if variant.checkpoint_url:
            notes += f" Checkpoint: {variant.checkpoint_url}."
        else:
            notes += " Scenic lists no released checkpoint for this config; the card describes its shapes."
    if config.class_splits:
        starts = np.cumsum([0, *config.class_splits])
        names = (
            variant.class_splits if variant and variant.class_splits else [f"head {i}" for i in range(len(starts) - 1)]
        )
        ranges = ", ".join(
            f"`logits[..., {a}:{b}]` = {name} ({b - a})" for name, a, b in zip(names, starts, starts[1:])
        )
        notes += (
            f"\n\nTwo heads share one Linear of {config.num_labels} outputs (`config.class_splits = "
            f"{list(config.class_splits)}`): {ranges}. `model.split_logits(logits)` cuts them apart; Scenic scores "
            "each split with its own softmax (and the action as the pair)."
        )
    if variant_name in ("vivit_large_16x2_fe_k400", "vivit_large_16x2_fe_k600"):
        notes += (
            f"\n\nThe config says {config.temporal_num_hidden_layers} temporal layers; the converter reads the "
            "depth from the file's tensors, whatever it is."
        )
    dataset = variant.dataset if variant else None
    return render_model_card(
        model_id=model_id,
        architecture="ViViT",
        base_model=None,
        datasets=[dataset] if dataset else [],
        metrics=None,
        source=f"ViViT (Arnab et al., ICCV 2021), converted from Scenic's Flax checkpoint ({SOURCE_URL}).",
        preprocessing=preprocessing_rows(kwargs),
        notes=notes,
        evaluation_protocol=evaluation_protocol(kwargs, SCENIC_TEST),
    )


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for every released Scenic ViViT checkpoint, from the manifests in ``reference_dir``
    (``shared/reference``); read by ``model_cards/generate.py``."""
    cards = {}
    for name, variant in VARIANTS.items():
        params = meta_state_dict_from_manifest(reference_dir / "vivit" / "manifests" / f"{name}.manifest.json")
        config, _ = convert_scenic_vivit(params, **variant_settings(variant))
        cards[f"{name}.md"] = model_card(name.replace("_", "-"), config, name, processor_kwargs(variant, config))
    return cards


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert a Scenic ViViT Flax checkpoint to an hf_videomodels folder.",
        default_labels="the packaged Kinetics names for the Kinetics variants; else class_<i> (or noun_<i>/verb_<i>)",
    )
    parser.add_argument("--variant", choices=sorted(VARIANTS), default=None, help="which released checkpoint it is")
    parser.add_argument("--image-size", type=int, default=224, help="training resolution of models 1/3/4")
    parser.add_argument("--model-variant", default=None, help="factorised_dot_product_attention for a model 4 file")
    parser.add_argument("--attention-order", default="time_space", help="model 3's order (its Scenic config's)")
    parser.add_argument("--class-splits", type=int, nargs="+", default=None, help="sizes of consecutive heads")
    args = parser.parse_args(argv)
    from hf_videomodels.models.vivit import ViViTVideoProcessor

    variant = VARIANTS.get(args.variant)
    settings = {"image_size": args.image_size, "model_variant": args.model_variant,
                "attention_order": args.attention_order, **variant_settings(variant)}  # fmt: skip
    if args.class_splits:
        settings["class_splits"] = args.class_splits
    config, converted = convert_scenic_vivit(load_scenic_params(args.checkpoint), **settings)
    names = class_names(variant, config.num_labels, args.labels)
    config.id2label = dict(enumerate(names))
    config.label2id = {name: i for i, name in enumerate(names)}
    model = load_converted(ViViTForVideoClassification, config, converted)
    kwargs = processor_kwargs(variant, config)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, config, args.variant, kwargs)
    return save_converted(model, ViViTVideoProcessor(**kwargs), args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
