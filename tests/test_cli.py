"""The ``hf-videomodels`` command at its edges: fast help, defaults shown, user errors as one line with exit
code 2 (bad --top-k, --model, --device, data folder, architecture), and the library errors behind them (model
folders, URLs, NaN input, I3D's minimum input)."""

from __future__ import annotations

import functools
import http.server
import json
import socket
import subprocess
import sys
import threading
from importlib.metadata import entry_points

import huggingface_hub.constants
import numpy as np
import pytest
import torch
from transformers import pipeline

from hf_videomodels import (
    I3DConfig,
    I3DForVideoClassification,
    I3DModel,
    TimeSformerConfig,
    TimeSformerForVideoClassification,
    TimeSformerModel,
    TimeSformerVideoProcessor,
)
from hf_videomodels.cli import build_parser, main
from hf_videomodels.errors import UserInputError
from hf_videomodels.hub import resolve_model_reference
from hf_videomodels.registration import find_architecture
from hf_videomodels.video_io import VideoDecodingError, read_video

from .test_i3d_modeling import TINY as TINY_I3D
from .test_timesformer_modeling import TINY

TINY_PROCESSOR = {
    "num_frames": TINY["num_frames"],
    "size": {"shortest_edge": 32},
    "crop_size": {"height": 32, "width": 32},
}


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A tiny TimeSformer classifier folder, as save_pretrained writes it."""
    folder = tmp_path_factory.mktemp("model")
    TimeSformerForVideoClassification(TimeSformerConfig(**TINY, num_labels=3)).save_pretrained(folder)
    TimeSformerVideoProcessor(**TINY_PROCESSOR).save_pretrained(folder)
    return folder


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, expected: str) -> None:
    assert err.startswith(f"error: {expected}")
    assert err.count("\n") == 1 and "Traceback" not in err


# ------------------------------------------------------------------------------------------ start-up, help

LIGHT_START = """
import sys, hf_videomodels_cli
for argv in (["--help"], ["classify", "--help"], ["classify", "v.mp4", "--model", "m", "--top-k", "0"]):
    try:
        hf_videomodels_cli.main(argv)
    except SystemExit as exit:
        print("exit", exit.code)
heavy = sorted(name for name in ("torch", "transformers", "hf_videomodels.models") if name in sys.modules)
print("heavy:", heavy)
"""


def test_help_and_argument_errors_answer_before_the_heavy_imports():
    result = subprocess.run(
        [sys.executable, "-c", LIGHT_START], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("exit 0") == 2 and "exit 2" in result.stdout
    assert "heavy: []" in result.stdout
    assert "--top-k: must be at least 1" in result.stderr


def test_the_command_is_the_light_launcher():
    (command,) = [entry for entry in entry_points(group="console_scripts") if entry.name == "hf-videomodels"]
    assert command.value == "hf_videomodels_cli:main"


def test_launcher_runs_the_package_after_parsing(model_folder, sample_gif):
    """End to end in a fresh process: the held-back ``__init__`` runs, so the Auto classes know the model."""
    argv = ["classify", sample_gif, "--model", model_folder, "--top-k", 2]
    result = subprocess.run(
        [sys.executable, "-m", "hf_videomodels_cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 2


def test_help_shows_defaults(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # no line breaks inside the help texts
    for command, expected in (("classify", "(default: 5)"), ("demo", "(default: demo_output)")):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        out = capsys.readouterr().out
        assert expected in out
        assert "(default: None)" not in out and "(default: False)" not in out


# ------------------------------------------------------------------------------------------------ --top-k


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_top_k_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["classify", "v.mp4", "--model", "m", "--top-k", value])
    assert exit.value.code == 2
    assert "argument --top-k" in capsys.readouterr().err


def test_top_k_above_the_class_count_prints_every_class(model_folder, sample_gif, capsys):
    code, out, _ = run_cli(capsys, "classify", sample_gif, "--model", model_folder, "--top-k", 10)
    assert code == 0
    assert len(out.strip().splitlines()) == 3


# ------------------------------------------------------------------------------------------------ --model


def test_missing_model_folder(sample_gif, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "classify", sample_gif, "--model", "./no_such_model")
    assert code == 2
    assert_one_line_error(err, "no such folder: ./no_such_model")
    for path in ("../x", "/no/such/model", "~/no_such_model", "a/b/c", "no such model"):
        with pytest.raises(UserInputError, match="no such folder"):
            resolve_model_reference(path)


def test_a_repo_id_is_passed_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_model_reference("someone/some-model_v1.2") == "someone/some-model_v1.2"
    assert resolve_model_reference("some-model") == "some-model"


def test_folder_without_config_is_not_a_model_folder(sample_gif, tmp_path, capsys):
    code, _, err = run_cli(capsys, "classify", sample_gif, "--model", tmp_path)
    assert code == 2
    assert_one_line_error(err, f"{tmp_path} is not a model folder (no config.json)")
    with pytest.raises(UserInputError, match="is a file"):
        resolve_model_reference(sample_gif)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model_type": "hfvm_i3dd"}, r"model_type 'hfvm_i3dd' \(did you mean 'hfvm_i3d'\?\), which is neither"),
        ({"num_labels": 2}, "has no model_type; this package's model types are hfvm_tsn, hfvm_c3d, .*hfvm_video_swin"),
        ([1, 2], "is not a JSON object"),
    ],
)
def test_unknown_model_type(config, message, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserInputError, match=message):
        resolve_model_reference(tmp_path)


def test_model_types_of_transformers_are_accepted(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "videomae"}))
    assert resolve_model_reference(tmp_path) == str(tmp_path)


# ----------------------------------------------------------------------------------------------- --device


def test_cuda_without_cuda(model_folder, sample_gif, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    code, out, err = run_cli(capsys, "classify", sample_gif, "--model", model_folder, "--device", "cuda")
    assert (code, out) == (2, "")
    assert_one_line_error(err, "--device cuda: this machine has no CUDA device; use --device cpu")

    code, _, err = run_cli(capsys, "classify", sample_gif, "--model", model_folder, "--device", "banana")
    assert code == 2
    assert_one_line_error(err, "--device 'banana' is not a device name")


# ------------------------------------------------------------------------------------ other user errors


def test_missing_video(model_folder, tmp_path, capsys):
    code, _, err = run_cli(capsys, "classify", tmp_path / "missing.mp4", "--model", model_folder)
    assert code == 2
    assert_one_line_error(err, f"video file not found: {tmp_path / 'missing.mp4'}")


def test_missing_data_folder(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", tmp_path / "missing", "--output", tmp_path / "out", "--architecture", "i3d")
    assert code == 2
    assert_one_line_error(err, "data folder not found")


def test_unknown_architecture():
    with pytest.raises(UserInputError, match=r"unknown architecture 'timesformr' \(did you mean 'TimeSformer'\?\)"):
        find_architecture("timesformr")


def test_bugs_keep_their_traceback(monkeypatch):
    """Only user errors become one line: anything else (a bug) is raised as it is."""
    from hf_videomodels import cli

    def broken(args):
        raise KeyError("bug")

    monkeypatch.setattr(cli, "_cmd_classify", broken)
    with pytest.raises(KeyError, match="bug"):
        main(["classify", "v.mp4", "--model", "m"])


# -------------------------------------------------------------------------------------------------- URLs


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nobody listens on it once the socket is closed


@pytest.fixture
def online(monkeypatch):
    """The test set-up is offline (and the Hub session then refuses every URL); these tests only reach 127.0.0.1."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def test_offline_mode_is_a_clear_error():
    with pytest.raises(VideoDecodingError, match="cannot download http://127.0.0.1:1/clip.mp4: .*offline mode"):
        read_video("http://127.0.0.1:1/clip.mp4")


def test_unreachable_url_is_a_clear_error(model_folder, online):
    url = f"http://127.0.0.1:{closed_port()}/clip.mp4"
    with pytest.raises(VideoDecodingError, match=f"cannot download {url}: ConnectError"):
        read_video(url)
    classifier = pipeline("video-classification", model=str(model_folder))
    with pytest.raises(VideoDecodingError, match=f"cannot download {url}"):
        classifier(url)


def test_http_error_status_is_a_clear_error(tmp_path, online):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/missing.mp4"
        try:
            with pytest.raises(VideoDecodingError, match=f"cannot download {url}: HTTP 404"):
                read_video(url)
        finally:
            server.shutdown()


# --------------------------------------------------------------------------------------- model input checks


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_is_refused(bad, model_folder):
    model = TimeSformerForVideoClassification.from_pretrained(model_folder).eval()
    pixel_values = torch.zeros(1, TINY["num_frames"], 3, 32, 32)
    pixel_values[0, 1, 2, 3, 4] = bad
    with pytest.raises(ValueError, match="pixel_values contains NaN or infinite values"):
        model(pixel_values)


def test_nan_video_in_the_pipeline_is_refused(model_folder):
    video = np.full((TINY["num_frames"], 32, 32, 3), 0.5, dtype=np.float32)
    video[0, 0, 0, 0] = np.nan  # passes the processor's [0, 1] range check (NaN compares false)
    classifier = pipeline("video-classification", model=str(model_folder))
    with pytest.raises(ValueError, match="NaN or infinite"):
        classifier(video)


def test_i3d_too_small_names_the_settings():
    with pytest.raises(Exception, match=r"Raise num_frames / image_size, or lower pooler_kernel_size"):
        I3DConfig(num_frames=8)  # huggingface_hub's strict dataclass wraps the ValueError
    model = I3DModel(I3DConfig(**TINY_I3D)).eval()
    minimum = model.config.min_input_size
    too_few = torch.zeros(1, minimum[0], 3, minimum[1] - 1, minimum[2])
    with pytest.raises(ValueError, match=r"video processor a larger num_frames / crop_size, .* pooler_kernel_size"):
        model(too_few)


# ------------------------------------------------------------------------------------------------- docs


@pytest.mark.parametrize(
    "model_class", [I3DModel, I3DForVideoClassification, TimeSformerModel, TimeSformerForVideoClassification]
)
def test_forward_documents_its_arguments(model_class):
    import inspect

    doc = inspect.getdoc(model_class.forward) or ""
    for name in inspect.signature(model_class.forward).parameters:
        if name not in ("self", "kwargs"):
            assert f"{name} (" in doc, f"{model_class.__name__}.forward does not document {name}"
    assert "Returns:" in doc


def test_unknown_architecture_suggestion_ignores_case():
    with pytest.raises(UserInputError, match=r"unknown architecture 'i3dd' \(did you mean 'I3D'\?\)"):
        find_architecture("i3dd")
