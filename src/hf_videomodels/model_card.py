"""Model cards for converted and fine-tuned models, rendered from ``model_card_template.md``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from numbers import Integral, Real

TEMPLATE = resources.files("hf_videomodels").joinpath("model_card_template.md")

# owner/name, as the Hub spells repository ids (each part: letters, digits, "-", "_", "."; no leading dot).
_HUB_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*|[A-Za-z0-9][\w.-]*")
_SIZE_FIELDS = ("height", "width", "shortest_edge", "longest_edge", "max_height", "max_width")


def size_fields(value) -> dict | None:
    """The set fields of a transformers size (``SizeDict`` or a plain dict), or None if ``value`` is none."""
    if isinstance(value, Mapping):
        fields = dict(value)
    elif all(hasattr(value, name) for name in ("height", "width", "shortest_edge")):  # SizeDict
        fields = {name: getattr(value, name, None) for name in _SIZE_FIELDS}
    else:
        return None
    return {key: item for key, item in fields.items() if item is not None}


def format_setting(value) -> str:
    """A processor setting as a person reads it: ``short side 256``, ``224 × 224``, ``0.45, 0.45, 0.45``,
    ``1/255``; strings and anything else unknown as ``str``."""
    size = size_fields(value)
    if size is not None:
        parts = []
        if "height" in size and "width" in size:
            parts.append(f"{size.pop('height')} × {size.pop('width')}")
        if "shortest_edge" in size:
            parts.append(f"short side {size.pop('shortest_edge')}")
        if "longest_edge" in size:
            parts.append(f"long side at most {size.pop('longest_edge')}")
        parts += [f"{key.replace('_', ' ')} {item}" for key, item in size.items()]
        return ", ".join(parts) or "unchanged"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_setting(item) for item in value)
    if isinstance(value, Integral):
        return str(value)
    if isinstance(value, Real):
        inverse = 1 / value if value else 0
        # a rescale factor of 8- or 16-bit pixels (1/255, 1/65535) reads better as a fraction
        if 100 <= inverse <= 65535 and abs(inverse - round(inverse)) < 1e-6:
            return f"1/{round(inverse)}"
        return f"{value:.6g}"
    return str(value)


def hub_base_model(source: str | os.PathLike | None) -> str | None:
    """``source`` if it names a Hub repository (``owner/name``), None for an existing local path or anything
    path-like (``./x``, ``/abs``, ``C:\\x``): the card's ``base_model`` field must be a Hub id."""
    if source is None:
        return None
    text = str(source)
    if os.path.exists(text) or not _HUB_REPO_ID.fullmatch(text) or ".." in text:
        return None
    return text


CLASSIFIER_USAGE = """```python
import hf_videomodels  # registers the architecture with the Auto classes
from transformers import pipeline

classifier = pipeline("video-classification", model="{model_id}")
classifier("video.mp4", top_k=5)
```"""


# The evaluation section sits between these markers, so `hf-videomodels evaluate --update-card` can replace it.
EVALUATION_START = "<!-- hf-videomodels evaluate: start -->"
EVALUATION_END = "<!-- hf-videomodels evaluate: end -->"
NOT_EVALUATED = (
    "_Not measured with hf_videomodels yet: `hf-videomodels evaluate DATA --model MODEL --update-card` writes the "
    "measured accuracies and the protocol here._"
)
VIEW_FUSION_WORDS = {"logits": "their logits averaged", "softmax": "their softmax probabilities averaged"}


def describe_protocol(num_clips: int, num_crops: int, view_fusion: str) -> str:
    """A multi-view test protocol as a person reads it: ``10 clips × 3 crops = 30 views, their softmax ...``."""
    views = num_clips * num_crops
    if views == 1:
        return "1 view (one clip, one crop)"
    return f"{num_clips} clip(s) × {num_crops} crop(s) = {views} views, {VIEW_FUSION_WORDS[view_fusion]}"


def evaluation_block(text: str) -> str:
    """``text`` between the evaluation markers."""
    return f"{EVALUATION_START}\n{text.strip()}\n{EVALUATION_END}"


def evaluation_section(protocol: str = "") -> str:
    """A new card's "## Evaluation" section: ``protocol`` (how the checkpoint is tested), then the markers around
    the place ``hf-videomodels evaluate --update-card`` writes the measured numbers."""
    intro = f"{protocol}\n\n" if protocol else ""
    return f"\n## Evaluation\n\n{intro}{evaluation_block(NOT_EVALUATED)}\n"


def replace_evaluation_section(card: str, text: str) -> str:
    """``card`` with its evaluation section's body replaced by ``text``; a card without one (written before the
    section existed) gets an "## Evaluation" section at its end. Running it again replaces, never appends."""
    start, end = card.find(EVALUATION_START), card.find(EVALUATION_END)
    if start != -1 and end > start:
        return card[:start] + evaluation_block(text) + card[end + len(EVALUATION_END) :]
    return f"{card.rstrip()}\n\n## Evaluation\n\n{evaluation_block(text)}\n"


def _table(rows: dict, header: tuple[str, str], format_value) -> str:
    if not rows:
        return "_none recorded_"
    lines = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    lines += [f"| {key} | {format_value(value)} |" for key, value in rows.items()]
    return "\n".join(lines)


def _format_metric(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_model_card(
    model_id: str,
    architecture: str,
    base_model: str | None,
    datasets: list[str],
    metrics: dict[str, float] | None,
    source: str,
    preprocessing: dict,
    notes: str = "",
    license: str = "apache-2.0",
    task_tag: str = "video-classification",
    pipeline_tag: str | None = "video-classification",
    summary: str = "video classifier",
    usage: str | None = None,
    evaluation_protocol: str = "",
) -> str:
    """Fill the card template: YAML metadata the Hub reads, usage, preprocessing and measured metrics.

    A model that does not classify videos (RAFT's optical flow) gives its own ``task_tag``, ``summary`` ("optical
    flow model") and ``usage`` (markdown), and ``pipeline_tag=None`` where no transformers pipeline runs it.

    ``base_model`` goes into the metadata only when it is a Hub repository id (a local folder would be a
    broken link there); say where a local model came from in ``source``. Preprocessing values may be
    processor settings as they are (sizes, mean/std tuples): they are written as a person reads them.
    ``evaluation_protocol`` (markdown) opens the evaluation section of a video classifier's card: the test protocol
    the processor saves and how the original code evaluates; ``hf-videomodels evaluate`` writes the measured
    numbers below it.
    """
    base_model = hub_base_model(base_model)
    datasets_block = "datasets:\n" + "".join(f"- {name}\n" for name in datasets) if datasets else ""
    if usage is None:
        usage = CLASSIFIER_USAGE.format(model_id=model_id)
    return TEMPLATE.read_text(encoding="utf-8").format(
        pipeline_tag_line=f"pipeline_tag: {pipeline_tag}\n" if pipeline_tag else "",
        task_tag=task_tag,
        summary=summary,
        usage=usage,
        license=license,
        architecture_tag=architecture.lower().replace(" ", "-"),
        base_model_line=f"base_model: {base_model}\n" if base_model else "",
        datasets_block=datasets_block,
        model_id=model_id,
        architecture=architecture,
        source=source,
        preprocessing_table=_table(preprocessing, ("setting", "value"), format_setting),
        metrics_table=_table(metrics or {}, ("metric", "value"), _format_metric),
        notes=notes,
        evaluation_section=evaluation_section(evaluation_protocol) if pipeline_tag == "video-classification" else "",
    )
