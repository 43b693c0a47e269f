"""push_to_hub and from_pretrained through the real huggingface_hub client over HTTP, against the local Hub of
tests/hub_server.py: what ``model.push_to_hub``, ``hf-videomodels train --push-to-hub`` and a converter's
``--push-to-hub`` upload comes back byte for byte, loads to the same weights, config and processor, and classifies
the same; an upload cut off or refused half-way leaves the repo as it was, and pushing again succeeds."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from huggingface_hub import hf_hub_download
from transformers import AutoModelForVideoClassification, AutoVideoProcessor, pipeline

from hf_videomodels import demo
from hf_videomodels.cli import main as cli_main
from hf_videomodels.hub import PushFailed, push_folder, save_model_folder
from hf_videomodels.registration import find_architecture

from .hub_server import LocalHub, child_environment, point_client_at
from .utils import tiny_classifier

# huggingface_hub's own LFS upload passes a file as `data=`, which its HTTP client deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
# Written by save_pretrained / the card.
MODEL_FILES = ("config.json", "model.safetensors", "video_preprocessor_config.json", "README.md")
# Written by train beside them (its resumable checkpoints stay local).
TRAINING_FILES = ("training_log.json", "training_curve.png")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub() as server, pytest.MonkeyPatch.context() as monkeypatch:
        point_client_at(server, tmp_path_factory.mktemp("hf_home"), monkeypatch)
        yield server
    assert server.unhandled == [], "the client asked the local Hub for something it does not serve"


@pytest.fixture(scope="module")
def motion_folder(tmp_path_factory):
    return demo.make_motion_dataset(tmp_path_factory.mktemp("motion"), videos_per_class=2, seed=5)


def config_fields(model) -> dict:
    return {key: value for key, value in model.config.to_dict().items() if key != "_name_or_path"}


def assert_same_weights(a, b) -> None:
    a, b = a.state_dict(), b.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[key], b[key]) for key in a)


def assert_files_come_back(folder, repo_id: str, names) -> None:
    """Every named file of ``folder`` downloads from ``repo_id`` byte for byte."""
    for name in names:
        assert Path(hf_hub_download(repo_id, name)).read_bytes() == (folder / name).read_bytes(), name


def test_model_and_processor_push_to_hub(hub, tmp_path, motion_folder):
    model, processor = tiny_classifier("I3D")
    model.push_to_hub("me/i3d-pushed")
    processor.push_to_hub("me/i3d-pushed")

    stored = hub.head("me/i3d-pushed").files
    assert set(stored) == {".gitattributes", "README.md", *MODEL_FILES}
    assert stored["model.safetensors"].lfs_oid and stored["config.json"].lfs_oid is None  # LFS vs regular
    loaded = AutoModelForVideoClassification.from_pretrained("me/i3d-pushed")
    assert type(loaded) is type(model) and config_fields(loaded) == config_fields(model)
    assert_same_weights(loaded, model)
    assert AutoVideoProcessor.from_pretrained("me/i3d-pushed").to_dict() == processor.to_dict()
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert_files_come_back(tmp_path, "me/i3d-pushed", ("config.json", "video_preprocessor_config.json"))
    video = str(next(motion_folder.glob("left_to_right/*.mp4")))
    from_hub = pipeline("video-classification", model="me/i3d-pushed")(video, top_k=4)
    assert from_hub == pipeline("video-classification", model=str(tmp_path))(video, top_k=4)


def test_train_push_to_hub_comes_back_identical(hub, tmp_path, motion_folder):
    config, processor = demo.small_training_overrides(find_architecture("I3D"))
    out = tmp_path / "run"
    code = cli_main([
        "train", str(motion_folder), "--output", str(out), "--architecture", "I3D",
        "--config", json.dumps(config), "--processor", json.dumps(processor), "--max-steps", "2",
        "--batch-size", "2", "--val-fraction", "0", "--push-to-hub", "me/motion-i3d", "--with-code",
        "--save-checkpoints", "1", "--no-show-progress",
    ])  # fmt: skip
    assert code == 0
    code_files = sorted(path.name for path in out.glob("*.py"))
    assert "modeling_i3d.py" in code_files
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    assert set(hub.head("me/motion-i3d").files) == {".gitattributes", *MODEL_FILES, *TRAINING_FILES, *code_files}
    assert_files_come_back(out, "me/motion-i3d", (*MODEL_FILES, *TRAINING_FILES, *code_files))
    card = (out / "README.md").read_text()
    assert "# me/motion-i3d" in card and 'from_pretrained("me/motion-i3d", trust_remote_code=True)' in card

    loaded = AutoModelForVideoClassification.from_pretrained("me/motion-i3d")  # the package's class, no remote code
    assert type(loaded).__module__.startswith("hf_videomodels.")
    assert_same_weights(loaded, AutoModelForVideoClassification.from_pretrained(out))
    video = str(next(motion_folder.glob("top_to_bottom/*.mp4")))
    from_hub = pipeline("video-classification", model="me/motion-i3d")(video, top_k=4)
    assert from_hub == pipeline("video-classification", model=str(out))(video, top_k=4)


def test_converter_push_to_hub_from_a_hub_checkpoint(hub, tmp_path):
    """convert_timesformer_transformers reads transformers' TimeSformer from the Hub and pushes the port back."""
    from transformers import TimesformerConfig, TimesformerForVideoClassification, VideoMAEImageProcessor

    from conversion.convert_timesformer_transformers import main

    torch.manual_seed(0)
    tiny = {"image_size": 32, "patch_size": 8, "num_frames": 4, "hidden_size": 24, "num_hidden_layers": 1}
    theirs = TimesformerForVideoClassification(
        TimesformerConfig(**tiny, num_attention_heads=2, intermediate_size=48, num_labels=3)
    ).eval()
    theirs.push_to_hub("someone/timesformer-tiny")
    VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).push_to_hub(
        "someone/timesformer-tiny"
    )
    out = main([
        "--checkpoint", "someone/timesformer-tiny", "--output", str(tmp_path / "ours"),
        "--push-to-hub", "me/timesformer-converted", "--with-code",
    ])  # fmt: skip
    code_files = sorted(path.name for path in out.glob("*.py"))
    assert "modeling_timesformer.py" in code_files
    assert_files_come_back(out, "me/timesformer-converted", (*MODEL_FILES, *code_files))
    card = Path(hf_hub_download("me/timesformer-converted", "README.md")).read_text()
    assert "base_model: someone/timesformer-tiny" in card  # a Hub id, so the metadata names it
    ours = AutoModelForVideoClassification.from_pretrained("me/timesformer-converted").eval()
    pixel_values = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(ours(pixel_values).logits, theirs(pixel_values).logits, atol=1e-5)
    processor = AutoVideoProcessor.from_pretrained("me/timesformer-converted")
    assert processor.to_dict() == AutoVideoProcessor.from_pretrained(out).to_dict()


# A client that dies mid-upload: only huggingface_hub is imported, so the child starts in about a second.
UPLOAD_IN_CHILD = """
import sys
from huggingface_hub import HfApi

HfApi().upload_folder(repo_id=sys.argv[1], folder_path=sys.argv[2], commit_message="never completes")
"""


def test_upload_killed_half_way_leaves_no_revision_and_a_retry_succeeds(hub, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, seed in ((first, 0), (second, 1)):
        save_model_folder(*tiny_classifier("I3D", seed), folder, f"# seed {seed}\n")
    push_folder(first, "me/interrupted")
    before = hub.head("me/interrupted")

    hub.stall_next_upload()
    child = subprocess.Popen(
        [sys.executable, "-c", UPLOAD_IN_CHILD, "me/interrupted", str(second)],
        env=child_environment(hub, tmp_path / "child_home", os.environ),
        stderr=subprocess.DEVNULL,
    )
    try:
        while not hub.upload_stalled.wait(timeout=0.2):
            assert child.poll() is None, "the child ended before it reached the LFS upload"
    finally:
        child.kill()
        child.wait()
    hub.release_stalled_upload()
    assert hub.upload_dropped.wait(timeout=10)

    stalled = hashlib.sha256((second / "model.safetensors").read_bytes()).hexdigest()
    assert stalled not in hub.objects  # the half that arrived was dropped, not stored
    assert hub.head("me/interrupted") == before  # no commit: main still serves the first model, whole
    assert Path(hf_hub_download("me/interrupted", "README.md")).read_text() == "# seed 0\n"

    push_folder(second, "me/interrupted")
    after = hub.head("me/interrupted")
    assert after.parent == before.oid and after.files["model.safetensors"].lfs_oid == stalled
    assert_files_come_back(second, "me/interrupted", MODEL_FILES)


def test_refused_upload_raises_one_line_and_commits_nothing(hub, tmp_path):
    save_model_folder(*tiny_classifier("I3D", 2), tmp_path, "# first\n")
    push_folder(tmp_path, "me/refused")
    before = hub.head("me/refused")
    save_model_folder(*tiny_classifier("I3D", 3), tmp_path, "# second\n")

    hub.fail_uploads(1, status=403)
    with pytest.raises(PushFailed, match="nothing was committed") as raised:
        push_folder(tmp_path, "me/refused")
    assert f"hf upload me/refused {tmp_path}" in str(raised.value) and "\n" not in str(raised.value)
    assert hub.head("me/refused") == before
    assert Path(hf_hub_download("me/refused", "README.md")).read_text() == "# first\n"

    push_folder(tmp_path, "me/refused")
    assert hub.head("me/refused").parent == before.oid
    assert_files_come_back(tmp_path, "me/refused", MODEL_FILES)


def test_a_commit_naming_a_missing_upload_changes_nothing(hub):
    """Server side: a commit is checked whole before the branch moves, so its regular files do not appear either."""
    hub.create_repo("me/atomic")
    before = hub.head("me/atomic")
    lines = [
        {"key": "header", "value": {"summary": "half a commit"}},
        {"key": "file", "value": {"path": "notes.txt", "content": "aGVsbG8=", "encoding": "base64"}},
        {"key": "lfsFile", "value": {"path": "model.safetensors", "algo": "sha256", "oid": "0" * 64, "size": 9}},
    ]
    request = urllib.request.Request(
        f"{hub.endpoint}/api/models/me/atomic/commit/main",
        data=b"".join(json.dumps(line).encode() + b"\n" for line in lines),
        headers={"Content-Type": "application/x-ndjson"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 422
    assert hub.head("me/atomic") == before and "notes.txt" not in before.files
