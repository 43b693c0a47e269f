"""Convert ImageNet ResNets (torchvision, timm, transformers) to hf_videomodels' TSN (the ResNet on every frame).

    python -m conversion.convert_tsn_resnet --source torchvision --checkpoint resnet50-11ad3fa6.pth \
        --output tsn-resnet50-imagenet1k-v2
    python -m conversion.convert_tsn_resnet --source torchvision --weights ResNet50_Weights.IMAGENET1K_V1 \
        --output tsn-resnet50-imagenet1k-v1                      # downloads torchvision's file
    python -m conversion.convert_tsn_resnet --source timm --timm-model resnet50.a1_in1k --output tsn-resnet50-a1
    python conversion/convert_tsn_resnet.py --source transformers --checkpoint microsoft/resnet-50 \
        --output tsn-microsoft-resnet-50                          # a folder, or a Hub id (downloads)

Sources, one key table each (``LAYOUTS``), the same network (ResNet "v1.5": a bottleneck's stride in its 3x3):

- **torchvision** ``resnet18/34/50/101/152`` state dicts (``conv1``, ``layer1.0.conv1``, ``fc``). The file does
  not say which ImageNet weights it holds, and ResNet-50/101/152's V1 and V2 weights were trained with different
  preprocessing (resize 256 vs 232 before the 224 crop): the version is found from torchvision's file name
  (``resnet50-11ad3fa6.pth`` is V2), or given with ``--weights``.
- **timm** ``resnet*`` (the plain ones: ``resnet18`` ... ``resnet152`` and their tags, e.g. ``resnet50.a1_in1k``),
  the same keys as torchvision. ``--timm-model`` names the model, whose ``pretrained_cfg`` (timm's evaluation
  size, ``crop_pct``, interpolation, mean and std) becomes the processor; without ``--checkpoint`` timm
  downloads the weights. Variants with another stem or shortcut (``resnet50d``, ``resnet26t``) are refused.
- **transformers** ``ResNetForImageClassification`` folders (``microsoft/resnet-50``: ``config.json`` and
  ``model.safetensors``, with ``preprocessor_config.json`` when present).

The ImageNet head is kept: the converted model gives every frame the 2D model's logits (``frame_logits``) and the
video their average (TSN's consensus), with the 1000 class names in ImageNet's order (torchvision's metadata;
a transformers folder's own ``id2label``). Fine-tuning replaces the head (``hf-videomodels train --model``), with
TSN's partial BatchNorm on (``partial_batch_norm=True`` in the converted config).
"""

from __future__ import annotations

if not __package__:  # run by path (python conversion/convert_x.py): put the repository root on sys.path
    import _repo_on_path  # noqa: F401

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers.image_utils import PILImageResampling

from conversion.common import (
    ConversionError,
    TensorLedger,
    base_arg_parser,
    check_complete,
    evaluation_protocol,
    load_checkpoint,
    load_converted,
    run_script,
    save_converted,
    take_conv_bn_unit,
)
from hf_videomodels.model_card import format_setting, render_model_card
from hf_videomodels.models.tsn import TSNConfig, TSNForVideoClassification, TSNVideoProcessor
from hf_videomodels.models.tsn.configuration_tsn import resnet_depth

logger = logging.getLogger(__name__)

SOURCES = ("torchvision", "timm", "transformers")


@dataclass(frozen=True)
class KeyLayout:
    """Where one library keeps a ResNet's tensors. ``block`` is formatted with ``stage`` (0-based) and
    ``stage_number`` (1-based), then ``block``; ``unit_conv`` / ``unit_bn`` with the unit's ``number`` (1-based)
    and ``index`` (0-based), relative to the block."""

    stem_conv: str
    stem_bn: str
    block: str
    unit_conv: str
    unit_bn: str
    shortcut_conv: str
    shortcut_bn: str
    classifier: str

    def block_prefix(self, stage: int, block: int) -> str:
        return self.block.format(stage=stage, stage_number=stage + 1, block=block)

    def unit(self, stage: int, block: int, number: int) -> tuple[str, str]:
        prefix = self.block_prefix(stage, block)
        names = (self.unit_conv, self.unit_bn)
        return tuple(f"{prefix}.{name.format(number=number, index=number - 1)}" for name in names)

    def shortcut(self, stage: int, block: int) -> tuple[str, str]:
        prefix = self.block_prefix(stage, block)
        return f"{prefix}.{self.shortcut_conv}", f"{prefix}.{self.shortcut_bn}"


TORCHVISION_LAYOUT = KeyLayout(
    stem_conv="conv1",
    stem_bn="bn1",
    block="layer{stage_number}.{block}",
    unit_conv="conv{number}",
    unit_bn="bn{number}",
    shortcut_conv="downsample.0",
    shortcut_bn="downsample.1",
    classifier="fc",
)
TRANSFORMERS_LAYOUT = KeyLayout(
    stem_conv="resnet.embedder.embedder.convolution",
    stem_bn="resnet.embedder.embedder.normalization",
    block="resnet.encoder.stages.{stage}.layers.{block}",
    unit_conv="layer.{index}.convolution",
    unit_bn="layer.{index}.normalization",
    shortcut_conv="shortcut.convolution",
    shortcut_bn="shortcut.normalization",
    classifier="classifier.1",
)
LAYOUTS = {"torchvision": TORCHVISION_LAYOUT, "timm": TORCHVISION_LAYOUT, "transformers": TRANSFORMERS_LAYOUT}


@dataclass(frozen=True)
class Preprocessing:
    """A source's ImageNet evaluation transform: short side to ``resize``, centre ``crop``, then normalise."""

    resize: int
    crop: int
    interpolation: str  # "bilinear" or "bicubic"
    mean: tuple[float, ...]
    std: tuple[float, ...]


_RESAMPLE = {"bilinear": PILImageResampling.BILINEAR, "bicubic": PILImageResampling.BICUBIC}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# microsoft/resnet-*'s preprocessor_config.json (ConvNeXT's processor): 224 / 0.875 = 256, bicubic.
MICROSOFT_RESNET_PREPROCESSING = Preprocessing(256, 224, "bicubic", IMAGENET_MEAN, IMAGENET_STD)


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names in the logit order of every ImageNet model (torchvision's metadata)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


# ---------------------------------------------------------------------------------------------- weights


def _count_blocks(state_dict: Mapping, layout: KeyLayout, stage: int) -> int:
    count = 0
    while f"{layout.unit(stage, count, 1)[0]}.weight" in state_dict:
        count += 1
    return count


def _check_layout(state_dict: Mapping[str, torch.Tensor], layout: KeyLayout, source: str) -> None:
    stem_key, classifier_key = f"{layout.stem_conv}.weight", f"{layout.classifier}.weight"
    if stem_key not in state_dict or classifier_key not in state_dict:
        raise ConversionError(
            f"source checkpoint has no {stem_key!r} or {classifier_key!r}: not a {source} ResNet state dict "
            "(timm variants with a deep stem, such as resnet50d, are not supported)"
        )


def infer_config(state_dict: Mapping[str, torch.Tensor], layout: KeyLayout, source: str, **settings) -> TSNConfig:
    """The ``TSNConfig`` of a ResNet state dict: block type, blocks per stage and widths read from the tensors."""
    _check_layout(state_dict, layout, source)
    stage_blocks = [_count_blocks(state_dict, layout, stage) for stage in range(4)]
    if min(stage_blocks) == 0:
        raise ConversionError(f"a {source} ResNet has four stages of residual blocks; found {stage_blocks} blocks")
    block_type = "bottleneck" if f"{layout.unit(0, 0, 3)[0]}.weight" in state_dict else "basic"
    stem = state_dict[f"{layout.stem_conv}.weight"]
    return TSNConfig(
        depth=resnet_depth(block_type, stage_blocks),
        block_type=block_type,
        stage_blocks=stage_blocks,
        stem_channels=stem.shape[0],
        num_channels=stem.shape[1],
        stage_channels=[state_dict[f"{layout.unit(s, 0, 1)[0]}.weight"].shape[0] for s in range(4)],
        **settings,
    )


def convert_resnet_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    source: str,
    labels: list[str] | None = None,
    image_size: int = 224,
) -> tuple[TSNConfig, dict[str, torch.Tensor]]:
    """A torchvision / timm / transformers ResNet state dict -> (``TSNConfig``, ``TSNForVideoClassification``
    state dict), the classifier included. Every source tensor is used exactly once.

    ``labels`` (class names in logit order) default to ImageNet-1k's for 1000 classes.
    """
    if source not in LAYOUTS:
        raise ConversionError(f"unknown source {source!r}; expected one of {SOURCES}")
    layout = LAYOUTS[source]
    _check_layout(state_dict, layout, source)
    num_classes = state_dict[f"{layout.classifier}.weight"].shape[0]
    if labels is None:
        if num_classes != 1000:
            raise ConversionError(f"a {num_classes}-class checkpoint is not ImageNet-1k: pass its class names (--labels)")
        labels = imagenet_labels()
    labels = list(labels)
    if len(labels) != num_classes:
        raise ConversionError(f"{len(labels)} class names given for a checkpoint with {num_classes} classes")
    config = infer_config(
        state_dict,
        layout,
        source,
        image_size=image_size,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        partial_batch_norm=True,  # TSN fine-tunes ImageNet networks with partial BN
    )

    ledger = TensorLedger(state_dict)
    converted: dict[str, torch.Tensor] = {}
    take_conv_bn_unit(ledger, "", "tsn.stem", converted, conv=layout.stem_conv, bn=layout.stem_bn)
    units = 2 if config.block_type == "basic" else 3
    for stage, blocks in enumerate(config.stage_blocks):
        for block in range(blocks):
            target = f"tsn.stages.{stage}.{block}"
            for number in range(1, units + 1):
                conv, bn = layout.unit(stage, block, number)
                take_conv_bn_unit(ledger, "", f"{target}.conv{number}", converted, conv=conv, bn=bn)
            conv, bn = layout.shortcut(stage, block)
            if f"{conv}.weight" in ledger:
                take_conv_bn_unit(ledger, "", f"{target}.shortcut", converted, conv=conv, bn=bn)
    converted["classifier.weight"] = ledger.take(f"{layout.classifier}.weight")
    converted["classifier.bias"] = ledger.take(f"{layout.classifier}.bias")
    ledger.finish()

    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        check_complete(TSNForVideoClassification(config), converted)
    return config, converted


# ------------------------------------------------------------------------------------------ preprocessing


def build_video_processor(config: TSNConfig, preprocessing: Preprocessing) -> TSNVideoProcessor:
    """TSN's segment sampling, and each frame preprocessed as the source's ImageNet evaluation did (its resize,
    centre crop, interpolation and normalisation; antialiased, as PIL and torchvision resize)."""
    return TSNVideoProcessor(
        num_frames=config.num_frames,
        size={"shortest_edge": preprocessing.resize},
        crop_size={"height": preprocessing.crop, "width": preprocessing.crop},
        resample=_RESAMPLE[preprocessing.interpolation],
        antialias=True,
        image_mean=list(preprocessing.mean),
        image_std=list(preprocessing.std),
    )


def torchvision_weights(depth: int, checkpoint: str | None = None, weights: str | None = None):
    """The torchvision weights entry (``ResNet50_Weights.IMAGENET1K_V2``) of a ResNet-``depth`` checkpoint: from
    ``weights`` (the full or short name), else from torchvision's file name, else the only version there is."""
    import torchvision

    entries = torchvision.models.get_model_weights(f"resnet{depth}")
    known = ", ".join(f"{entries.__name__}.{entry.name}" for entry in entries)
    if weights is not None:
        family, _, name = weights.rpartition(".")
        if family and family != entries.__name__:
            raise ConversionError(f"--weights {weights} is not for this ResNet-{depth} checkpoint; known: {known}")
        if name not in entries.__members__:
            raise ConversionError(f"unknown torchvision weights {weights!r} for ResNet-{depth}; known: {known}")
        return entries[name]
    file_name = Path(str(checkpoint)).name if checkpoint else None
    for entry in entries:
        if Path(entry.url).name == file_name:
            return entry
    if len(entries) == 1:
        return next(iter(entries))
    raise ConversionError(
        f"torchvision has {len(entries)} ImageNet weights for ResNet-{depth}, trained with different preprocessing, "
        f"and the file name {file_name!r} does not say which this is: pass --weights (one of {known})"
    )


def torchvision_preprocessing(weights) -> Preprocessing:
    transform = weights.transforms()
    return Preprocessing(
        transform.resize_size[0],
        transform.crop_size[0],
        transform.interpolation.value,
        tuple(transform.mean),
        tuple(transform.std),
    )


def timm_preprocessing(model) -> Preprocessing:
    """timm's evaluation transform for ``model``'s pretrained_cfg (test size when it has one, as timm's
    validate.py): short side to ``floor(size / crop_pct)``, centre crop ``size``."""
    from timm.data import resolve_data_config

    data = resolve_data_config({}, model=model, use_test_size=True)
    _, height, width = data["input_size"]
    if height != width or data["crop_mode"] != "center" or data["interpolation"] not in _RESAMPLE:
        raise ConversionError(f"unsupported timm evaluation transform {data}: expected a square centre crop")
    return Preprocessing(
        math.floor(height / data["crop_pct"]), height, data["interpolation"], tuple(data["mean"]), tuple(data["std"])
    )


def transformers_preprocessing(processor_config: Mapping | None) -> Preprocessing:
    """A transformers folder's ``preprocessor_config.json``: ConvNeXT's processor (``microsoft/resnet-*``:
    resize the short side to ``shortest_edge / crop_pct``, crop ``shortest_edge``), or a resize + ``crop_size``
    processor; microsoft/resnet-50's values when the folder has none."""
    if not processor_config:
        return MICROSOFT_RESNET_PREPROCESSING
    size = processor_config.get("size", 224)
    shortest = size if isinstance(size, int) else size.get("shortest_edge")
    interpolation = {int(v): k for k, v in _RESAMPLE.items()}.get(processor_config.get("resample", 3))
    crop_size = processor_config.get("crop_size")
    if "crop_pct" in processor_config and shortest is not None and shortest < 384:
        resize, crop = int(shortest / processor_config["crop_pct"]), shortest
    elif isinstance(crop_size, Mapping) and shortest is not None and crop_size.get("height") == crop_size.get("width"):
        resize, crop = shortest, crop_size["height"]
    else:
        raise ConversionError(f"unsupported preprocessor_config.json (size {size!r}, crop_size {crop_size!r})")
    if interpolation is None:
        raise ConversionError(f"unsupported resample {processor_config.get('resample')!r}: expected bilinear or bicubic")
    mean = tuple(processor_config.get("image_mean", IMAGENET_MEAN))
    std = tuple(processor_config.get("image_std", IMAGENET_STD))
    return Preprocessing(resize, crop, interpolation, mean, std)


# --------------------------------------------------------------------------------------------- sources


@dataclass
class SourceCheckpoint:
    """What a source gives the conversion besides the tensors."""

    state_dict: Mapping[str, torch.Tensor]
    preprocessing: Preprocessing
    description: str  # for the model card: what was converted
    labels: list[str] | None = None
    base_model: str | None = None  # a Hub id


def _plain_state_dict(loaded) -> Mapping[str, torch.Tensor]:
    """The state dict of a loaded file: itself, or its "state_dict" / "model" entry (training checkpoints), without
    nn.DataParallel's "module." prefix."""
    for key in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
    if loaded and all(key.startswith("module.") for key in loaded):
        loaded = {key.removeprefix("module."): tensor for key, tensor in loaded.items()}
    return loaded


def torchvision_source(checkpoint: str | None, weights: str | None) -> SourceCheckpoint:
    if checkpoint is None:
        if weights is None:
            raise ConversionError("give --checkpoint (a torchvision resnet*.pth) or --weights (e.g. ResNet50_Weights.IMAGENET1K_V2)")
        import torchvision

        checkpoint = torchvision.models.get_weight(weights).url
    state_dict = _plain_state_dict(load_checkpoint(checkpoint))
    depth = infer_config(state_dict, TORCHVISION_LAYOUT, "torchvision").depth
    entry = torchvision_weights(depth, checkpoint, weights)
    description = f"torchvision's `resnet{depth}` with `{type(entry).__name__}.{entry.name}`"
    return SourceCheckpoint(state_dict, torchvision_preprocessing(entry), description)


def timm_source(checkpoint: str | None, model_name: str | None) -> SourceCheckpoint:
    if model_name is None:
        raise ConversionError("--source timm needs --timm-model (e.g. resnet50.a1_in1k): its pretrained_cfg sets the preprocessing")
    import timm

    if checkpoint is None:
        model = timm.create_model(model_name, pretrained=True)
        state_dict = model.state_dict()
    else:
        with torch.device("meta"):
            model = timm.create_model(model_name, pretrained=False)
        state_dict = _plain_state_dict(load_checkpoint(checkpoint))
    hub_id = model.pretrained_cfg.get("hf_hub_id")
    return SourceCheckpoint(state_dict, timm_preprocessing(model), f"timm's `{model_name}`", base_model=hub_id)


def transformers_source(checkpoint: str | None) -> SourceCheckpoint:
    if checkpoint is None:
        raise ConversionError("--source transformers needs --checkpoint: a ResNetForImageClassification folder or Hub id")
    folder = Path(checkpoint)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        files = ["config.json", "model.safetensors", "preprocessor_config.json"]
        folder = Path(snapshot_download(checkpoint, allow_patterns=files))
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ConversionError(f"{folder} has no config.json: not a transformers model folder")
    hf_config = json.loads(config_path.read_text())
    if hf_config.get("model_type") != "resnet":
        raise ConversionError(f"{folder} holds a {hf_config.get('model_type')!r} model, not transformers' ResNet")
    unsupported = {
        name: hf_config[name]
        for name, supported in (("hidden_act", "relu"), ("downsample_in_first_stage", False), ("downsample_in_bottleneck", False))
        if hf_config.get(name, supported) != supported
    }
    if unsupported:
        raise ConversionError(f"unsupported ResNet settings {unsupported}: TSN's ResNet is torchvision's (v1.5)")
    weights = folder / "model.safetensors"
    state_dict = _plain_state_dict(load_checkpoint(weights if weights.is_file() else folder / "pytorch_model.bin"))
    id2label = {int(index): name for index, name in hf_config.get("id2label", {}).items()}
    labels = [id2label[i] for i in range(len(id2label))]
    if not labels or all(name == f"LABEL_{i}" for i, name in enumerate(labels)):
        labels = None  # placeholders: ImageNet's names for 1000 classes
    processor_path = folder / "preprocessor_config.json"
    processor_config = json.loads(processor_path.read_text()) if processor_path.is_file() else None
    base_model = None if Path(checkpoint).is_dir() else checkpoint
    description = f"transformers' `ResNetForImageClassification` `{base_model or folder.name}`"
    return SourceCheckpoint(state_dict, transformers_preprocessing(processor_config), description, labels, base_model)


# ------------------------------------------------------------------------------------------- model card

# What tests/test_tsn_conversion.py measures for these checkpoints (and asserts stays within the bound).
PARITY_BOUND = 1e-5
VERIFIED_BY_TESTS = (
    "Checked by the project's tests with random weights (the ImageNet files cannot be downloaded there), against "
    "the source library's own model: for torchvision's resnet18, resnet34 and resnet50, timm's resnet18 and "
    "resnet50 and transformers' ResNetForImageClassification (basic and bottleneck), the converted model's "
    "logits for every frame equal the 2D model's for that image, and the video's logits their average, within "
    f"{PARITY_BOUND:.0e} (max abs, fp32), at 224 x 224 and at an odd size and frame count. ResNet-101 and "
    "ResNet-152 are converted at shape level (every tensor mapped, on the meta device)."
)


# How the original TSN test combines a video's views, for the model card.
TSN_TEST = (
    "TSN's test (`test_models.py` of tsn-pytorch) averages the network's class scores before the softmax over the "
    "crops and segments of a video (25 segments x 10 crops there): logits."
)


def model_card(model_id: str, config: TSNConfig, processor: TSNVideoProcessor, source: SourceCheckpoint) -> str:
    mean, std = (format_setting(value) for value in (processor.image_mean, processor.image_std))
    interpolation = _INTERPOLATION_NAMES[processor.resample]
    preprocessing = {
        "input": "RGB frames, 3 channels",
        "frames per clip": f"{processor.num_frames} segments of the video, one frame each (TSN): the middle of "
        "each segment for evaluation, a random frame of it for training",
        "resize": f"{format_setting(processor.size)}, {interpolation}, antialiased",
        "crop": f"centre {format_setting(processor.crop_size)}",
        "values": f"x / 255 normalised with mean {mean} and std {std}",
        "clip logits": f"{config.consensus} of the per-frame logits (TSN's consensus)",
    }
    notes = (
        f"Converted from {source.description}, an ImageNet-1k ResNet-{config.depth}, into TSN (Wang et al., ECCV "
        "2016): the same 2D network classifies every sampled frame, and the video's logits are the average of the "
        "frames'. The ImageNet head (1000 classes, ImageNet's order) is kept, so each frame is classified as the 2D "
        "model classified images (`model.frame_logits(pixel_values)` gives the per-frame logits); it is a "
        "starting point for fine-tuning on video classes (`hf-videomodels train --model <folder>` replaces the "
        "head), with TSN's partial BatchNorm on (`partial_batch_norm=True`: all BatchNorms but the first frozen "
        "while training; set it to false to train them all). "
        f"{VERIFIED_BY_TESTS}\n\n"
        "Each frame is seen alone, so the model cannot tell motion directions apart (a video and its reverse get "
        "the same prediction). The frames are preprocessed as the source library evaluated ImageNet, except "
        "that the resize runs on tensors (antialiased interpolation), not PIL, so pixels can differ slightly."
    )
    return render_model_card(
        model_id=model_id,
        architecture="TSN",
        base_model=source.base_model,
        datasets=["imagenet-1k"],
        metrics=None,
        source=f"ResNet-{config.depth} (He et al., CVPR 2016) per frame with TSN's consensus; {source.description}.",
        preprocessing=preprocessing,
        notes=notes,
        evaluation_protocol=evaluation_protocol(processor, TSN_TEST),
    )


_INTERPOLATION_NAMES = {value: name for name, value in _RESAMPLE.items()}

# --------------------------------------------------------------------------------------- published cards

DEPTHS = (18, 34, 50, 101, 152)
# transformers' microsoft/resnet-* configs: (layer_type, depths, hidden_sizes), embedding size 64.
MICROSOFT_RESNETS = {
    f"resnet-{depth}": (
        "basic" if depth < 50 else "bottleneck",
        list(TSNConfig(depth=depth).stage_blocks),
        [64, 128, 256, 512] if depth < 50 else [256, 512, 1024, 2048],
    )
    for depth in DEPTHS
}
# timm's default pretrained tag of each depth (other tags convert the same way, with their own preprocessing).
TIMM_MODELS = ("resnet18.a1_in1k", "resnet34.a1_in1k", "resnet50.a1_in1k", "resnet101.a1h_in1k", "resnet152.a1h_in1k")


def microsoft_resnet_state_dict(name: str) -> dict[str, torch.Tensor]:
    """The state dict layout of ``microsoft/<name>`` (meta tensors), from transformers' own constructor."""
    from transformers import ResNetConfig, ResNetForImageClassification

    layer_type, depths, hidden_sizes = MICROSOFT_RESNETS[name]
    config = ResNetConfig(layer_type=layer_type, depths=depths, hidden_sizes=hidden_sizes, num_labels=1000)
    with torch.device("meta"):
        return ResNetForImageClassification(config).state_dict()


def _card(model_id: str, source_name: str, source: SourceCheckpoint) -> str:
    config, _ = convert_resnet_state_dict(source.state_dict, source_name, source.labels, source.preprocessing.crop)
    return model_card(model_id, config, build_video_processor(config, source.preprocessing), source)


def published_model_cards(reference_dir: Path) -> dict[str, str]:
    """{card file name: text} for the public ImageNet ResNets of torchvision (every weights version), transformers
    (microsoft/resnet-*) and timm (each depth's default tag). No manifests are needed: the peers' own
    constructors give every tensor's shape on the meta device. Read by ``model_cards/generate.py``."""
    import timm
    import torchvision

    del reference_dir  # the peers are installed; nothing to read from shared/reference
    cards = {}
    for depth in DEPTHS:
        with torch.device("meta"):
            state_dict = getattr(torchvision.models, f"resnet{depth}")().state_dict()
        for entry in torchvision.models.get_model_weights(f"resnet{depth}"):
            description = f"torchvision's `resnet{depth}` with `{type(entry).__name__}.{entry.name}`"
            source = SourceCheckpoint(state_dict, torchvision_preprocessing(entry), description)
            model_id = f"tsn-resnet{depth}-torchvision-{entry.name.lower().replace('_', '-')}"
            cards[f"tsn_torchvision_resnet{depth}_{entry.name}.md"] = _card(model_id, "torchvision", source)
    for name in MICROSOFT_RESNETS:
        description = f"transformers' `ResNetForImageClassification` `microsoft/{name}`"
        source = SourceCheckpoint(
            microsoft_resnet_state_dict(name), MICROSOFT_RESNET_PREPROCESSING, description, base_model=f"microsoft/{name}"
        )
        cards[f"tsn_microsoft_{name}.md"] = _card(f"tsn-microsoft-{name}", "transformers", source)
    for name in TIMM_MODELS:
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False)
        source = SourceCheckpoint(
            model.state_dict(), timm_preprocessing(model), f"timm's `{name}`", base_model=model.pretrained_cfg["hf_hub_id"]
        )
        cards[f"tsn_timm_{name}.md"] = _card(f"tsn-timm-{name.replace('.', '-')}", "timm", source)
    return cards


# ----------------------------------------------------------------------------------------------- script


def add_source_arguments(parser) -> None:
    """``--source``, ``--weights`` and ``--timm-model``: where the ResNet comes from (this script and the two-stream
    TSN converter share them)."""
    parser.add_argument("--source", choices=SOURCES, required=True, help="the library the checkpoint comes from")
    parser.add_argument(
        "--weights",
        help="torchvision: which ImageNet weights the file holds, e.g. ResNet50_Weights.IMAGENET1K_V2 (they differ "
        "in preprocessing); found from torchvision's file names when not given",
    )
    parser.add_argument("--timm-model", help="timm: the model name with its tag, e.g. resnet50.a1_in1k")


def source_from_arguments(args) -> SourceCheckpoint:
    """The checkpoint :func:`add_source_arguments` (and ``--checkpoint``) name."""
    if args.source == "torchvision":
        return torchvision_source(args.checkpoint, args.weights)
    if args.source == "timm":
        return timm_source(args.checkpoint, args.timm_model)
    return transformers_source(args.checkpoint)


def main(argv: list[str] | None = None) -> Path:
    parser = base_arg_parser(
        "Convert an ImageNet ResNet (torchvision, timm or transformers) to an hf_videomodels TSN folder.",
        default_labels="ImageNet-1k's for 1000-class checkpoints (a transformers folder's own id2label)",
        checkpoint_help="torchvision / timm: state dict file or URL (.pth, .safetensors); transformers: a "
        "ResNetForImageClassification folder or Hub id. Optional with --weights (torchvision) or for timm "
        "(downloaded by timm)",
        checkpoint_required=False,
    )
    add_source_arguments(parser)
    args = parser.parse_args(argv)
    source = source_from_arguments(args)
    labels = args.labels if args.labels is not None else source.labels
    config, converted = convert_resnet_state_dict(source.state_dict, args.source, labels, source.preprocessing.crop)
    model = load_converted(TSNForVideoClassification, config, converted)
    processor = build_video_processor(config, source.preprocessing)
    model_id = args.push_to_hub or Path(args.output).name
    card = model_card(model_id, config, processor, source)
    return save_converted(model, processor, args.output, card, args.push_to_hub)


if __name__ == "__main__":
    run_script(main)
