"""Model cards for converted and fine-tuned models, rendered from ``model_cards/TEMPLATE.md``'s layout."""

from __future__ import annotations

from importlib import resources

TEMPLATE = resources.files("hf_videomodels").joinpath("model_card_template.md")


def _table(rows: dict, header: tuple[str, str]) -> str:
    if not rows:
        return "_none recorded_"
    lines = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    for key, value in rows.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        lines.append(f"| {key} | {value} |")
    return "\n".join(lines)


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
) -> str:
    """Fill the card template: YAML metadata the Hub reads, usage, preprocessing and measured metrics."""
    datasets_block = "datasets:\n" + "".join(f"- {name}\n" for name in datasets) if datasets else ""
    return TEMPLATE.read_text(encoding="utf-8").format(
        license=license,
        architecture_tag=architecture.lower().replace(" ", "-"),
        base_model_line=f"base_model: {base_model}\n" if base_model else "",
        datasets_block=datasets_block,
        model_id=model_id,
        architecture=architecture,
        source=source,
        preprocessing_table=_table(preprocessing, ("setting", "value")),
        metrics_table=_table(metrics or {}, ("metric", "value")),
        notes=notes,
    )
