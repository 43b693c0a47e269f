"""Writing a model folder the way the Hub expects it, and pushing it."""

from __future__ import annotations

from pathlib import Path


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
