"""Does ``channels_last_3d`` pay? Every registered architecture whose model declares it
(``VideoPreTrainedModel.channels_last_3d``) is timed as it ships (weights in ``channels_last_3d``) against the
same weights in the contiguous layout, at its default config, on the CPU (fp32, bf16 autocast) and on CUDA
when present. Speedup = contiguous time / channels_last_3d time (above 1: the layout helps).

    uv run python benchmarks/bench_memory_format.py [--frames 16] [--size 224] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import time_pair  # noqa: E402

from hf_videomodels.registration import architectures  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, help="clip length (default: the model config's num_frames)")
    parser.add_argument("--size", type=int, help="frame size (default: the model config's image_size)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--dtype", nargs="+", default=["fp32", "bf16"], choices=sorted(DTYPES))
    parser.add_argument("--rounds", type=int, default=3, help="independent timing rounds (the machine may be busy)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    print("| model | device | dtype | contiguous | channels_last_3d | speedup (contiguous / channels_last_3d) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for arch in architectures():
        if arch.classification_class is None or not arch.classification_class.channels_last_3d:
            continue
        torch.manual_seed(0)
        shipped = arch.classification_class(arch.config_class(num_labels=400)).eval()
        contiguous = copy.deepcopy(shipped).to(memory_format=torch.contiguous_format)
        # Each model at its own clip size (C3D's fc6 takes only 16x112x112).
        frames = args.frames or shipped.config.num_frames
        size = args.size or shipped.config.image_size
        pixel_values = torch.randn(args.batch, frames, shipped.config.num_channels, size, size)
        for device in args.device:
            torch.backends.cudnn.benchmark = torch.device(device).type == "cuda"
            shipped, contiguous, x = shipped.to(device), contiguous.to(device), pixel_values.to(device)
            for dtype_name in args.dtype:
                for _ in range(args.rounds):
                    (t_last, _), (t_contiguous, _) = time_pair(
                        lambda: shipped(x).logits, lambda: contiguous(x).logits, device, DTYPES[dtype_name],
                        repeats=args.repeats,
                    )  # fmt: skip
                    print(
                        f"| {arch.name} {frames}x{size} | {device} | {dtype_name} | {t_contiguous * 1e3:.0f} ms "
                        f"| {t_last * 1e3:.0f} ms | {t_contiguous / t_last:.2f}× |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
