"""--with-code: a model folder or Hub repo that transformers alone loads with ``trust_remote_code=True``.

The bundle is checked with transformers' own dynamic-module functions, and loaded for real in a child process
where ``import hf_videomodels`` fails: a CNN (I3D) and a transformer (TimeSformer), from the local Hub of
tests/hub_server.py and from folders, give the package's logits, and the pipeline classifies real files. The same
child records what plain transformers says about a repo pushed without the code, which the model card quotes.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from packaging.requirements import Requirement
from transformers import AutoModelForVideoClassification, AutoVideoProcessor
from transformers.dynamic_module_utils import get_imports, get_relative_import_files

from hf_videomodels import demo
from hf_videomodels.errors import UserInputError
from hf_videomodels.hub import save_model_folder
from hf_videomodels.model_card import render_model_card
from hf_videomodels.registration import ARCHITECTURES
from hf_videomodels.remote_code import OPTIONAL_IMPORTS, check_bundlable, flat_names
from hf_videomodels.video_io import write_video

from .conftest import REPO_ROOT
from .hub_server import LocalHub, child_environment, point_client_at
from .utils import tiny_classifier

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # huggingface_hub's own


def test_every_architecture_bundles_but_two_stream():
    for arch in ARCHITECTURES:
        if arch.name == "TwoStream":  # its processor looks its streams up in the registration table
            with pytest.raises(UserInputError, match=r"imports hf_videomodels\.registration.*without --with-code"):
                check_bundlable(arch.config_class.model_type)
        else:
            check_bundlable(arch.config_class.model_type)


def test_flat_names_are_short_and_unique():
    modules = ["hf_videomodels.layers", "hf_videomodels.layers.mlp", "hf_videomodels.models.a.mlp", "hf_videomodels.x"]
    assert flat_names(modules) == {
        "hf_videomodels.layers": "layers",
        "hf_videomodels.layers.mlp": "layers_mlp",
        "hf_videomodels.models.a.mlp": "a_mlp",
        "hf_videomodels.x": "x",
    }


def test_optional_imports_are_extras_of_the_package():
    """A bundled module may import an optional package only if the package declares it as an extra (training's
    extras, such as tensorboard, are never bundled)."""
    extras = {
        Requirement(line).name.replace("-", "_")
        for line in importlib.metadata.requires("hf_videomodels")
        if "extra ==" in line
    }
    assert OPTIONAL_IMPORTS <= extras


def test_bundle_is_what_transformers_loader_reads(tmp_path):
    """Read with transformers' own functions: the auto_map files exist, every relative import is a file of the
    folder, nothing imports the package, and the optional torchcodec is not a requirement."""
    model, processor = tiny_classifier("TimeSformer")
    save_model_folder(model, processor, tmp_path, "# card\n", with_code=True)
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    processor_map = json.loads((tmp_path / "video_preprocessor_config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_timesformer.TimeSformerConfig",
        "AutoModel": "modeling_timesformer.TimeSformerModel",
        "AutoModelForVideoClassification": "modeling_timesformer.TimeSformerForVideoClassification",
    }
    assert processor_map == {"AutoVideoProcessor": "video_processing_timesformer.TimeSformerVideoProcessor"}
    code = {path.name for path in tmp_path.glob("*.py")}
    for reference in (*auto_map.values(), *processor_map.values()):
        entry = tmp_path / (reference.split(".")[0] + ".py")
        assert {os.path.basename(path) for path in get_relative_import_files(entry)} <= code
    for name in code:
        imported = get_imports(tmp_path / name)
        assert "hf_videomodels" not in imported and "torchcodec" not in imported, name
    card = (tmp_path / "README.md").read_text()
    assert "pip install av huggingface_hub numpy pillow torch torchvision transformers" in card


def test_the_package_loads_a_with_code_folder_with_its_own_classes(tmp_path):
    """With hf_videomodels imported, its classes win over the bundled copies, and a folder saved again without
    --with-code drops the auto_map that would point at files it does not have."""
    save_model_folder(*tiny_classifier("I3D"), tmp_path / "with_code", "# card\n", with_code=True)
    for trust in (None, True):
        model = AutoModelForVideoClassification.from_pretrained(tmp_path / "with_code", trust_remote_code=trust)
        processor = AutoVideoProcessor.from_pretrained(tmp_path / "with_code", trust_remote_code=trust)
        assert type(model).__module__.startswith("hf_videomodels.") and type(processor).__module__.startswith(
            "hf_videomodels."
        )
    save_model_folder(model, processor, tmp_path / "again", "# card\n")
    assert "auto_map" not in json.loads((tmp_path / "again" / "config.json").read_text())
    assert "auto_map" not in json.loads((tmp_path / "again" / "video_preprocessor_config.json").read_text())
    assert not list((tmp_path / "again").glob("*.py"))


# Runs with the repository's interpreter, but `import hf_videomodels` fails: None in sys.modules stops the import
# and the editable install's src/ folder is taken off sys.path. Everything it learns is printed as one JSON line.
WITHOUT_PACKAGE = """
import json, sys
sys.modules["hf_videomodels"] = None
sys.path[:] = [entry for entry in sys.path if entry != {src!r}]
try:
    import hf_videomodels
    raise SystemExit("hf_videomodels is importable")
except ImportError:
    pass

import torch
from transformers import AutoModelForVideoClassification, AutoVideoProcessor, pipeline

references, videos, plain_repo = json.loads(sys.argv[1])
found = {{"models": {{}}, "errors": {{}}}}
for reference in references:
    model = AutoModelForVideoClassification.from_pretrained(reference, trust_remote_code=True).eval()
    processor = AutoVideoProcessor.from_pretrained(reference, trust_remote_code=True)
    classifier = pipeline("video-classification", model=reference, trust_remote_code=True)
    with torch.no_grad():
        logits = [model(**processor(video, return_tensors="pt")).logits[0].tolist() for video in videos]
    found["models"][reference] = {{
        "class": type(model).__module__ + "." + type(model).__name__,
        "logits": logits,
        "pipeline": classifier(videos[-1], top_k=2),
    }}
for name, reference, trust in (("plain", plain_repo, None), ("untrusted", references[0], None)):
    try:
        AutoModelForVideoClassification.from_pretrained(reference, trust_remote_code=trust)
        found["errors"][name] = None
    except ValueError as error:
        found["errors"][name] = str(error)
print("RESULT " + json.dumps(found))
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub() as server, pytest.MonkeyPatch.context() as monkeypatch:
        point_client_at(server, tmp_path_factory.mktemp("hf_home"), monkeypatch)
        yield server
    assert server.unhandled == []


def test_transformers_alone_loads_what_with_code_pushed(hub, tmp_path, sample_gif):
    clip = demo.motion_clip("left_to_right", np.random.default_rng(0))
    mp4 = write_video(clip, tmp_path / "left_to_right.mp4", fps=demo.DEMO_FPS)
    videos = [str(sample_gif), str(mp4)]
    models, references = {}, []
    for name in ("I3D", "TimeSformer"):
        model, processor = models[name] = tiny_classifier(name, num_labels=4)
        model.config.id2label = dict(enumerate(demo.DIRECTIONS))
        model.config.label2id = {label: index for index, label in model.config.id2label.items()}
        folder, repo = tmp_path / name, f"me/{name.lower()}-with-code"
        save_model_folder(model, processor, folder, render_card(repo, name), push_to_hub=repo, with_code=True)
        references += [repo, str(folder)]
    plain = "me/i3d-plain"
    save_model_folder(*models["I3D"], tmp_path / "plain", render_card(plain, "I3D"), push_to_hub=plain)

    env = child_environment(hub, tmp_path / "child_home", os.environ)
    script = WITHOUT_PACKAGE.format(src=str(REPO_ROOT / "src"))
    arguments = json.dumps([references, videos, plain])
    child = subprocess.run(  # no stdin: transformers' "run the custom code? [y/N]" prompt fails at once
        [sys.executable, "-c", script, arguments],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    found = json.loads(child.stdout.rpartition("RESULT ")[2])  # after transformers' prompt and messages

    for reference in references:
        name = "I3D" if "i3d" in reference.lower() else "TimeSformer"
        model, processor = models[name]
        loaded = found["models"][reference]
        assert loaded["class"].startswith("transformers_modules.")  # the bundled code, not the package
        for video, logits in zip(videos, loaded["logits"]):
            with torch.no_grad():
                expected = model(**processor(video, return_tensors="pt")).logits[0]
            torch.testing.assert_close(torch.tensor(logits), expected, rtol=0, atol=1e-5)
        top = loaded["pipeline"]
        probabilities = torch.tensor(loaded["logits"][-1]).softmax(-1)
        assert [entry["label"] for entry in top] == [
            demo_label(int(i)) for i in probabilities.argsort(descending=True)[:2]
        ]
        assert top[0]["score"] == pytest.approx(probabilities.max().item(), abs=1e-5)

    # Without the code, plain transformers does not know the model type; the card quotes its message.
    quoted = "The checkpoint you are trying to load has model type `hfvm_...` but Transformers does not recognize"
    assert quoted.replace("hfvm_...", "hfvm_i3d") in found["errors"]["plain"]
    assert quoted in (tmp_path / "plain" / "README.md").read_text()
    assert "pip install hf-videomodels" in (tmp_path / "plain" / "README.md").read_text()
    # With the code but without trust, transformers asks for trust_remote_code=True.
    assert "trust_remote_code=True" in found["errors"]["untrusted"]


def demo_label(index: int) -> str:
    return list(demo.DIRECTIONS)[index]


def render_card(model_id: str, architecture: str) -> str:
    return render_model_card(
        model_id=model_id,
        architecture=architecture,
        base_model=None,
        datasets=[],
        metrics=None,
        source="Random weights, for a test.",
        preprocessing={},
    )


def test_card_says_how_to_load_with_and_without_the_package(tmp_path):
    save_model_folder(*tiny_classifier("I3D"), tmp_path / "plain" / "m", render_card("m", "I3D"))
    save_model_folder(*tiny_classifier("I3D"), tmp_path / "code" / "m", render_card("m", "I3D"), with_code=True)
    plain, code = ((tmp_path / name / "m" / "README.md").read_text() for name in ("plain", "code"))
    for card in (plain, code):
        assert "pip install hf-videomodels" in card and "import hf_videomodels" in card
    assert "trust_remote_code=True)" not in plain and "## Without hf_videomodels" not in plain
    assert code.startswith(plain.rstrip("\n"))  # the same card, and a section on the code at its end
    assert 'AutoModelForVideoClassification.from_pretrained("m", trust_remote_code=True)' in code
    assert "`AutoConfig`, `AutoModel`, `AutoModelForVideoClassification` and `AutoVideoProcessor`" in code
