"""Model folders and the Hub: writing a folder the way the Hub expects it, pushing it, and checking what a
``--model`` argument names (a model folder or a repo id)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import UserInputError, suggest


def save_model_folder(
    model, video_processor, output_dir, card_text: str, push_to_hub: str | None = None, with_code: bool = False
) -> Path:
    """Safetensors weights, config (with id2label), video processor and README model card; optionally pushed.

    ``with_code`` also writes the model's code into the folder, named by ``auto_map`` in the config and the video
    processor config, so that transformers alone loads it with ``trust_remote_code=True`` (see
    :mod:`hf_videomodels.remote_code`); the card then says how, and which pip packages that needs.
    """
    from .remote_code import remove_auto_map, write_model_code

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    video_processor.save_pretrained(output_dir)
    if with_code:
        bundle = write_model_code(output_dir, model.config, video_processor)
        card_text = card_text.rstrip("\n") + "\n\n" + remote_code_card_section(push_to_hub or output_dir.name, bundle)
    else:
        remove_auto_map(output_dir)
    (output_dir / "README.md").write_text(card_text, encoding="utf-8")
    if push_to_hub:
        push_folder(output_dir, push_to_hub)
    return output_dir


def remote_code_card_section(model_id: str, bundle) -> str:
    """The model card's account of a folder saved with its code: how to load it without this package."""
    if "AutoModelForVideoClassification" in bundle.auto_map:
        loading = REMOTE_CODE_CLASSIFIER.format(model_id=model_id)
    else:  # RAFT: a bare model, no pipeline
        loading = REMOTE_CODE_MODEL.format(model_id=model_id)
    return REMOTE_CODE_SECTION.format(
        count=len(bundle.files),
        classes=", ".join(f"`{auto}`" for auto in bundle.auto_map),
        requirements=" ".join(bundle.requirements),
        loading=loading,
    )


REMOTE_CODE_SECTION = """## Without hf_videomodels: the code in this repository

This repository also holds the model's code ({count} Python files, pushed with `--with-code`), named by `auto_map`
for {classes} and `AutoVideoProcessor`, so transformers loads it without hf_videomodels when you trust that code:

```bash
pip install {requirements}
```

{loading}
"""
REMOTE_CODE_CLASSIFIER = """```python
from transformers import AutoModelForVideoClassification, AutoVideoProcessor, pipeline

model = AutoModelForVideoClassification.from_pretrained("{model_id}", trust_remote_code=True)
processor = AutoVideoProcessor.from_pretrained("{model_id}", trust_remote_code=True)
classifier = pipeline("video-classification", model="{model_id}", trust_remote_code=True)
```

transformers' own pipeline passes the config's `num_frames` to the processor; with `import hf_videomodels` the
pipeline keeps the saved processor's settings as they are."""
REMOTE_CODE_MODEL = """```python
from transformers import AutoModel, AutoVideoProcessor

model = AutoModel.from_pretrained("{model_id}", trust_remote_code=True)
processor = AutoVideoProcessor.from_pretrained("{model_id}", trust_remote_code=True)
```"""


class PushFailed(UserInputError):
    """An upload to the Hub that did not complete (no network, no token or write access, a failed transfer).
    Reported like a user error, in one line: the fix lies outside the code."""


# Training's resumable checkpoints (optimizer states, several copies of the weights) stay on the disk.
LOCAL_ONLY_PATTERNS = ["checkpoints/*"]


def push_folder(folder, repo_id: str) -> str:
    """Upload ``folder`` to the Hub repo ``repo_id`` (created if needed) in one commit; returns the repo's URL.

    The Hub moves the branch only when the final commit request succeeds, so a failed upload leaves the repo as
    it was; ``PushFailed`` then says so, and how to push the saved folder again.
    """
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        url = api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            commit_message="Upload with hf_videomodels",
            ignore_patterns=LOCAL_ONLY_PATTERNS,
        )
    except (OSError, RuntimeError) as error:
        cause = _transfer_failure(error)
        if cause is None:
            raise
        raise PushFailed(
            f"pushing {folder} to {repo_id} failed ({type(cause).__name__}: {str(cause).strip().splitlines()[0]}); "
            f"nothing was committed. The folder is saved: push it again with `hf upload {repo_id} {folder}`"
        ) from error
    return str(url)


def _transfer_failure(error: BaseException) -> BaseException | None:
    """The network or Hub error behind ``error`` (huggingface_hub wraps a failed file upload in a RuntimeError),
    or None for anything else, which is a bug to keep its traceback."""
    while error is not None:
        if isinstance(error, OSError):
            return error
        error = error.__cause__
    return None


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
