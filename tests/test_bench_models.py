"""benchmarks/bench_models.py: peer modules are discovered, rows selected, a row whose peer is missing is
skipped, --batch reaches the models, and the markdown table and JSON are written (tiny models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from .utils import load_benchmark_script

PEER_MODULE = '''
import copy
import torch
from hf_videomodels import I3DConfig, I3DForVideoClassification
from tests.test_i3d_modeling import TINY


def tiny_i3d(device):
    torch.manual_seed(0)
    ours = I3DForVideoClassification(I3DConfig(**TINY, num_labels=3)).eval()
    peer = copy.deepcopy(ours).to(memory_format=torch.contiguous_format)
    pixel_values = torch.randn(1, 16, 3, 64, 64)

    def call(model):
        return lambda: model(pixel_values).logits

    return call, ours, peer, pixel_values


def input_copied_by_the_builder(device):
    call, ours, peer, pixel_values = tiny_i3d(device)
    copy_for_peer = pixel_values.clone()
    return (lambda model: lambda: model(pixel_values if model is ours else copy_for_peer).logits), ours, peer, pixel_values


def missing_peer(device):
    import not_a_real_peer_library  # noqa: F401


def benchmark_pairs():
    return {"tiny I3D vs itself": tiny_i3d, "tiny copied input": input_copied_by_the_builder, "tiny missing": missing_peer}
'''


@pytest.fixture(scope="module")
def bench_models():
    return load_benchmark_script("bench_models")


def test_every_peer_module_defines_rows(bench_models):
    builders, skipped = bench_models.discover_pairs()
    assert "i3d" not in skipped and "timesformer" not in skipped
    assert any(name.startswith("I3D") for name in builders)
    assert any(name.startswith("TimeSformer") for name in builders)
    assert set(bench_models.select_rows(builders, ["timesformer"])) == {n for n in builders if "TimeSformer" in n}
    with pytest.raises(SystemExit, match="matches no row"):
        bench_models.select_rows(builders, ["no such model"])


def test_table_and_json(bench_models, tmp_path, capsys, monkeypatch):
    peers = tmp_path / "peers"
    peers.mkdir()
    (peers / "tiny.py").write_text(PEER_MODULE)
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    argv = ["--peers-dir", str(peers), "--device", "cpu", "--dtype", "fp32", "--batch", "2", "--repeats", "1",
            "--threads", "1", "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")]  # fmt: skip
    bench_models.main(argv)
    results = json.loads((tmp_path / "r.json").read_text())
    row, copied = results["results"]
    assert row["row"] == "tiny I3D vs itself" and row["batch"] == 2 and row["dtype"] == "fp32"
    assert copied["row"] == "tiny copied input" and copied["batch"] == 1  # --batch cannot reach a copy
    assert row["speedup"] == pytest.approx(row["peer_ms"] / row["ours_ms"])
    assert row["max_abs_logit_diff"] < 1e-5  # the same weights in both layouts
    assert row["ours_peak_mib"] is not None and row["peer_peak_mib"] is not None
    assert "not_a_real_peer_library" in results["skipped"]["tiny missing"]
    table = (tmp_path / "r.md").read_text()
    assert "| tiny I3D vs itself | cpu | fp32 | 2 | eager |" in table
    assert "speedup (peer / ours)" in table and "skipped tiny missing" in table


def test_cnn_peers_are_tuned_transformers_left_alone(bench_models):
    from torch import nn

    cnn_3d = nn.Sequential(nn.Conv3d(3, 8, 3), nn.ReLU(), nn.Conv3d(8, 8, 3))
    assert bench_models.tune_peer(cnn_3d) == "channels_last_3d"
    assert cnn_3d[2].weight.is_contiguous(memory_format=torch.channels_last_3d)
    cnn_2d = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3), nn.Linear(8, 2))
    assert bench_models.tune_peer(cnn_2d) == "channels_last"
    assert cnn_2d[1].weight.is_contiguous(memory_format=torch.channels_last)
    patch_embedding_only = nn.Sequential(nn.Conv2d(3, 8, 4, stride=4), nn.Linear(8, 2))
    assert bench_models.tune_peer(patch_embedding_only) == "as built"
    assert patch_embedding_only[0].weight.is_contiguous()


def test_a_peer_whose_code_needs_its_layout_keeps_it(bench_models):
    from torch import nn

    pinned = nn.Sequential(nn.Conv3d(3, 8, 3), nn.Conv3d(8, 8, 3))
    pinned.benchmark_keeps_layout = True
    assert bench_models.tune_peer(pinned) == "as built"
    assert pinned[1].weight.is_contiguous()


def test_fuse_folds_both_sides_and_names_it(bench_models, tmp_path, monkeypatch):
    peers = tmp_path / "peers"
    peers.mkdir()
    (peers / "tiny.py").write_text(PEER_MODULE)
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    builders, _ = bench_models.discover_pairs(peers)
    builder = builders["tiny I3D vs itself"]
    call, ours, peer, _, suffix = bench_models.build(builder, torch.device("cpu"), 1, True, fuse=True)
    assert suffix == " [conv+BN folded, both]"
    assert not [m for m in (*ours.modules(), *peer.modules()) if isinstance(m, torch.nn.BatchNorm3d)]
    with torch.no_grad():
        torch.testing.assert_close(call(ours)(), call(peer)(), rtol=0, atol=1e-5)


def test_peer_batch_norms_folded_in_registration_order(bench_models):
    from torchvision.models.video import r2plus1d_18

    from .utils import randomize_batch_norm

    torch.manual_seed(0)
    peer = r2plus1d_18(num_classes=3).eval()  # BatchNorms after Sequential(conv, BN, ReLU, conv) blocks too
    randomize_batch_norm(peer)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        expected = peer(x)
        assert bench_models.fold_peer_batch_norms(peer) == (37, 37)
        torch.testing.assert_close(peer(x), expected, rtol=1e-5, atol=1e-5)


def test_freezing_needs_compile(bench_models):
    with pytest.raises(SystemExit, match="add --compile"):
        bench_models.main(["--freezing", "--only", "SlowFast"])
