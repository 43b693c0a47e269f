"""Ours vs. the peer implementation of the same architecture, in one process, with the same weights.

- TimeSformer (divided space-time, base 8x224): ours vs. transformers' ``TimesformerForVideoClassification``
  (random weights in theirs, converted to ours with ``conversion/convert_timesformer_transformers.py``).
- I3D (full Inception-V1, 16x224 RGB): ours vs. the original pytorch-i3d ``InceptionI3d``, both loaded from the
  reference parity checkpoint in ``../shared/reference/i3d``. The original code is not part of this package:
  pass its ``pytorch_i3d.py`` with ``--pytorch-i3d PATH`` (from github.com/piergiaj/pytorch-i3d); without it the
  I3D rows are skipped.

Reports median forward time, the ratio ours/peer (below 1 means ours is faster), peak memory of one forward and
the max abs difference of the logits, for fp32 and bf16 autocast, on the CPU and on CUDA when available.
Optionally also under ``torch.compile`` (``--compile``).

    uv run python benchmarks/bench_models.py [--pytorch-i3d PATH] [--device cpu cuda] [--threads 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import memory_probe_env, peak_memory_pair, report_row, time_pair  # noqa: E402

import hf_videomodels  # noqa: E402,F401
from conversion.convert_i3d_pytorch_i3d import convert_pytorch_i3d_state_dict  # noqa: E402
from conversion.convert_timesformer_transformers import convert_transformers_timesformer  # noqa: E402
from hf_videomodels import I3DForVideoClassification, TimeSformerForVideoClassification  # noqa: E402

SHARED = Path(REPO.parent / "shared")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def timesformer_pair(device, attn_implementation: str):
    from transformers import TimesformerConfig, TimesformerForVideoClassification

    torch.manual_seed(0)
    theirs = TimesformerForVideoClassification(
        TimesformerConfig(num_labels=400, num_frames=8, image_size=224, attention_type="divided_space_time")
    ).eval()
    config, state_dict = convert_transformers_timesformer(theirs.state_dict(), theirs.config)
    ours = TimeSformerForVideoClassification._from_config(config, attn_implementation=attn_implementation).eval()
    ours.load_state_dict(state_dict, strict=True)
    pixel_values = torch.randn(1, 8, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    ours, theirs, pixel_values = ours.to(device), theirs.to(device), pixel_values.to(device)
    return (lambda model: (lambda: model(pixel_values).logits)), ours, theirs


def i3d_pair(device, pytorch_i3d: Path, channels_last: bool):
    spec = importlib.util.spec_from_file_location("pytorch_i3d", pytorch_i3d)
    original_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(original_module)
    checkpoint = torch.load(SHARED / "reference/i3d/rgb_imagenet_parity.pt", map_location="cpu", weights_only=True)
    theirs = original_module.InceptionI3d(400, in_channels=3)
    theirs.load_state_dict(checkpoint)
    theirs.eval()
    config, state_dict = convert_pytorch_i3d_state_dict(checkpoint)
    ours = I3DForVideoClassification(config).eval()
    ours.load_state_dict(state_dict, strict=True)
    from safetensors.torch import load_file

    clip = load_file(SHARED / "reference/i3d/inputs.safetensors")["rgb"].float()  # (B, C, T, H, W)
    ours_input = clip.permute(0, 2, 1, 3, 4).contiguous().to(device)
    theirs_input = clip.to(device)
    ours, theirs = ours.to(device), theirs.to(device)
    if channels_last:
        ours = ours.to(memory_format=torch.channels_last_3d)

    def run_ours(model):
        return lambda: model(ours_input).logits

    def run_theirs(model):
        return lambda: model(theirs_input).mean(dim=2)  # per-time logits averaged, as ours does

    return run_ours, run_theirs, ours, theirs


def cpu_peak_memory(argv: list[str]) -> dict[str, tuple[int, int]]:
    """CPU peak memory per row, measured by this script in a child process (see ``memory_probe_env``)."""
    command = [sys.executable, __file__, *argv, "--memory-probe", "--device", "cpu"]
    output = subprocess.run(command, env=memory_probe_env(), capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in output.splitlines():
        if line.startswith("{"):
            rows.update({label: tuple(pair) for label, pair in json.loads(line).items()})
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pytorch-i3d", type=Path, help="path to the original pytorch_i3d.py")
    parser.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--dtype", nargs="+", default=["fp32", "bf16"], choices=sorted(DTYPES))
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--channels-last", action=argparse.BooleanOptionalAction, default=True, help="ours in channels_last_3d"
    )
    parser.add_argument(
        "--attn-implementation", nargs="+", default=["sdpa", "eager"], choices=["sdpa", "eager"],
        help="our TimeSformer's attention path(s) to time",
    )
    parser.add_argument("--compile", action="store_true", help="also time both under torch.compile")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    memory_of = {}
    if not args.memory_probe:
        print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
        if "cpu" in args.device:
            memory_of = cpu_peak_memory(argv if argv is not None else sys.argv[1:])
    for device_name in args.device:
        device = torch.device(device_name)
        if device.type == "cuda":
            print(f"device: {torch.cuda.get_device_name(device)}")
        pairs = []
        for attn in args.attn_implementation:
            run, ours, theirs = timesformer_pair(device, attn)
            pairs.append((f"TimeSformer divST 8x224 ({attn})", run, run, ours, theirs))
        if args.pytorch_i3d:
            layout = "channels_last_3d" if args.channels_last else "contiguous"
            pairs.append((f"I3D rgb 16x224 ({layout})", *i3d_pair(device, args.pytorch_i3d, args.channels_last)))
        else:
            print("I3D rows skipped: pass --pytorch-i3d PATH/TO/pytorch_i3d.py")
        for name, make_ours, make_theirs, ours, theirs in pairs:
            variants = [("eager", ours, theirs)]
            if args.compile:
                variants.append(("compiled", torch.compile(ours), torch.compile(theirs)))
            for mode, model_ours, model_theirs in variants:
                for dtype_name in args.dtype:
                    dtype = DTYPES[dtype_name]
                    label = f"{name} {device.type} {dtype_name} {mode}"
                    fns = make_ours(model_ours), make_theirs(model_theirs)
                    if args.memory_probe:
                        print(json.dumps({label: peak_memory_pair(*fns, device, dtype)}), flush=True)
                        continue
                    row_ours, row_theirs = time_pair(*fns, device, dtype, repeats=args.repeats)
                    memory = memory_of[label] if device.type == "cpu" else peak_memory_pair(*fns, device, dtype)
                    print(report_row(label, row_ours, row_theirs, memory), flush=True)


if __name__ == "__main__":
    main()
