"""Model folders and the Hub: writing a folder the way the Hub expects it, pushing it, and checking what a
``--model`` argument names (a model folder or a repo id)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import UserInputError, suggest


def save_model_folder(model, video_processor, output_dir, card_text: str, push_to_hub: str | None = None) -> Path:
    """Safetensors weights, config (with id2label), video processor and README model card; optionally pushed."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    video_processor.save_pretrained(output_dir)
    (output_dir / "README.md").write_text(card_text, encoding="utf-8")
    if push_to_hub:
        push_folder(output_dir, push_to_hub)
    return output_dir


def push_folder(folder, repo_id: str) -> str:
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message="Upload with hf_videomodels")
    return f"https://huggingface.co/{repo_id}"


# A Hub repo id: "name" or "namespace/name", letters, digits, "-", "_", "." (huggingface_hub's rule, simplified).
_REPO_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


def resolve_model_reference(reference: str | os.PathLike) -> str:
    """Check what a ``--model`` argument names and return it for ``from_pretrained`` / ``pipeline``.

    An existing folder must be a model folder (a ``config.json`` whose ``model_type`` transformers knows, the
    package's architectures included once ``hf_videomodels`` is imported). Anything that is clearly a path (it
    starts with ``./``, ``../``, ``/`` or ``~``, or is not shaped like a repo id) and does not exist is
    "no such folder"; the rest is passed on as a Hub repo id. Raises ``UserInputError`` with what is wrong.
    """
    text = os.fspath(reference)
    path = Path(text).expanduser()
    if path.is_dir():
        check_model_folder(path)
        return str(path)
    if path.exists():
        raise UserInputError(f"{text} is a file; a model is a folder (with config.json) or a Hub repo id")
    looks_like_path = text.startswith(("./", "../", "/", "~", ".\\", "..\\")) or not _REPO_ID.fullmatch(text)
    if looks_like_path:
        raise UserInputError(f"no such folder: {text}")
    return text


def check_model_folder(folder: Path) -> None:
    """Refuse a folder without a ``config.json``, or whose ``model_type`` is missing or not registered."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UserInputError(
            f"{folder} is not a model folder (no config.json); expected the output of save_pretrained, "
            "a converter or `hf-videomodels train`"
        )
    try:
        model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    except (json.JSONDecodeError, AttributeError) as error:
        raise UserInputError(f"{config_file} is not a JSON object: {error}") from None
    from transformers import CONFIG_MAPPING

    from .registration import ARCHITECTURES

    ours = [arch.config_class.model_type for arch in ARCHITECTURES]
    if model_type is None:
        raise UserInputError(f"{config_file} has no model_type; this package's model types are {', '.join(ours)}")
    if model_type not in CONFIG_MAPPING:
        raise UserInputError(
            f"{config_file} has model_type {model_type!r}{suggest(str(model_type), ours)}, which is neither one "
            f"of this package's ({', '.join(ours)}) nor one of transformers'"
        )
