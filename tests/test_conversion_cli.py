"""The conversion scripts as users run them: by path (``python conversion/convert_x.py``, transformers' habit)
and as modules (``python -m conversion.convert_x``), and the GoogLeNet inflation command line."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error

import pytest
import torch
import torchvision
from transformers import AutoModel, AutoModelForVideoClassification, AutoVideoProcessor

from conversion.common import ConversionError, run_script
from conversion.convert_i3d_googlenet import inflate_googlenet_state_dict, main
from hf_videomodels.errors import UserInputError
from hf_videomodels.models.i3d import I3DForVideoClassification, I3DModel

from .conftest import REPO_ROOT

SCRIPTS = sorted(path.stem for path in (REPO_ROOT / "conversion").glob("convert_*.py"))


def _environment() -> dict[str, str]:
    """This interpreter's environment without PYTHONPATH, so only the script itself can make `conversion`
    importable (pytest's own ``pythonpath`` setting does not reach a child process anyway)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("PYTHONPATH", None)
    return env


def _start(args: list[str], cwd) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args], cwd=cwd, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_scripts_run_by_path_and_as_module(tmp_path):
    """Each script by path, from another folder (only the script's own folder is on sys.path); and the guard's
    other side, ``-m`` from the repository root as the README shows it, once: in-process tests already import
    every script as ``conversion.<name>``. The GoogLeNet script's by-path run is the end-to-end test below.
    All at once, since each child pays for importing torch and transformers."""
    assert len(SCRIPTS) == 9  # i3d x2, timesformer x2, video swin x2, swin x3
    runs = {
        f"path {name}": _start([str(REPO_ROOT / "conversion" / f"{name}.py"), "--help"], cwd=tmp_path)
        for name in SCRIPTS
        if name != "convert_i3d_googlenet"
    }
    runs["-m convert_timesformer_transformers"] = _start(
        ["-m", "conversion.convert_timesformer_transformers", "--help"], cwd=REPO_ROOT
    )
    for what, process in runs.items():
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, f"{what}: {stderr[-2000:]}"
        assert "usage:" in stdout and "--output" in stdout, f"{what} printed no command line help"


def _random_googlenet_state_dict(aux_logits: bool = False) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    googlenet = torchvision.models.googlenet(weights=None, aux_logits=aux_logits, init_weights=False)
    with torch.no_grad():
        for name, buffer in googlenet.named_buffers():
            if name.endswith("running_var"):  # non-trivial BatchNorm statistics
                buffer.uniform_(0.5, 1.5)
    return googlenet.state_dict()


def test_googlenet_script_by_path_writes_a_backbone_folder(tmp_path):
    checkpoint = tmp_path / "googlenet.pth"
    source = _random_googlenet_state_dict()
    torch.save(source, checkpoint)
    output = tmp_path / "i3d-inflated"
    script = REPO_ROOT / "conversion" / "convert_i3d_googlenet.py"
    process = _start([str(script), "--checkpoint", str(checkpoint), "--output", str(output)], cwd=tmp_path)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-2000:]

    _, expected = inflate_googlenet_state_dict(source)
    backbone = AutoModel.from_pretrained(output)
    assert type(backbone) is I3DModel
    for key, tensor in backbone.state_dict().items():
        assert torch.equal(tensor, expected[key]), key
    # What training does with it: the backbone as is, plus a new classifier.
    classifier = AutoModelForVideoClassification.from_pretrained(output, num_labels=3)
    assert type(classifier) is I3DForVideoClassification and classifier.config.num_labels == 3
    assert torch.equal(classifier.i3d.mixed_5c.branch3_proj.conv.weight, expected["mixed_5c.branch3_proj.conv.weight"])
    processor = AutoVideoProcessor.from_pretrained(output)
    assert list(processor.image_mean) == [0.5] * 3 and list(processor.image_std) == [0.5] * 3  # [-1, 1] input
    card = (output / "README.md").read_text()
    assert "`googlenet.pth`" in card and "short side 256" in card and "SizeDict" not in card


def test_googlenet_torchvision_weights(tmp_path, monkeypatch):
    """--torchvision reads torchvision's ImageNet weights through its own loader (the torch hub cache); offline
    and not cached, that is a one-line user error naming the file to fetch."""
    import torchvision.models._api as torchvision_api

    downloads = []

    def cached_weights(url, *args, **kwargs):
        downloads.append(url)
        return _random_googlenet_state_dict(aux_logits=True)  # the file holds the auxiliary heads too

    monkeypatch.setattr(torchvision_api, "load_state_dict_from_url", cached_weights)
    output = main(["--torchvision", "--mode", "center", "--output", str(tmp_path / "tv")])
    assert downloads == [torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1.url]
    assert "torchvision's ImageNet GoogLeNet" in (output / "README.md").read_text()
    weight = I3DModel.from_pretrained(output).conv_1a.conv.weight  # centre inflation: zeros off the middle step
    assert weight[:, :, 3].abs().sum() > 0 and weight[:, :, :3].abs().sum() == 0

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision_api, "load_state_dict_from_url", offline)
    with pytest.raises(UserInputError, match="googlenet-.*--checkpoint"):
        main(["--torchvision", "--output", str(tmp_path / "offline")])


@pytest.mark.parametrize("args", [[], ["--torchvision", "--checkpoint", "x.pth"]], ids=["neither", "both"])
def test_googlenet_needs_exactly_one_source(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--output", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "exactly one of --checkpoint and --torchvision" in capsys.readouterr().err


@pytest.mark.parametrize("error", [UserInputError("bad flag"), ConversionError("2 tensors not consumed")])
def test_script_errors_are_one_line(error, capsys):
    def failing_main(argv):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        run_script(failing_main)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"error: {error}\n"
