"""Ours vs. the peer implementation of the same architecture, in one process, with the same weights.

The rows come from ``benchmarks/peers/*.py``: each module defines ``benchmark_pairs() -> {row name: builder}``,
where ``builder(device)`` returns ``(call, ours, peer, example_input)``, both models in eval mode with the same
weights, and ``call(model)`` returns a zero-argument closure computing that model's logits on
``example_input``. ``--batch`` (and batch 8 on CUDA) grows ``example_input`` in place, which reaches the models
when the closures derive their inputs from it as they run (``lambda: peer(x.transpose(1, 2))``, not a copy made
by the builder); a row whose closures keep their own copy runs at the builder's batch, with a warning. A
builder that cannot run here (peer library not installed, original code or fixture missing) raises
``ImportError`` / ``FileNotFoundError`` and its row is listed as skipped.

Settings per row: CPU fp32 and bf16 autocast at batch 1; CUDA bf16 autocast at batch 8 when a GPU is present
(``--device``, ``--dtype`` and ``--batch`` change them); ``--compile`` adds ``torch.compile`` runs (with
``--freezing``, inductor's freezing, which CPU inference wants: without it compiled bf16 3D convs run in the
contiguous layout); ``--fuse`` folds the BatchNorms into the convs first, ours with ``fuse_conv_bn()`` and the
peer's conv + BatchNorm pairs the same way (:func:`fold_peer_batch_norms`), and says so in the row name. Reported:
median time of a forward (calls of ours and the peer alternate, and which goes first alternates too), the
**speedup = peer time / our time** (above 1: ours is faster), the peak memory of one forward (CPU: the resident
set, measured in a child process, see ``measure.memory_probe_env``; CUDA: allocator statistics) and the max
abs difference of the logits.

The peer is tuned as its users would: ``torch.backends.cudnn.benchmark`` on CUDA, and a CNN peer's convs in
``channels_last_3d`` (3D) or ``channels_last`` (2D) (``--no-peer-channels-last`` keeps its own layout, and so does
a peer whose own code needs it: ``benchmark_keeps_layout``). Our
models bring their own layout (see ``VideoPreTrainedModel.channels_last_3d``).

    uv run python benchmarks/bench_models.py [--only NAME ...] [--pytorch-i3d PATH] [--device cpu cuda]
        [--batch N] [--threads 2] [--compile [--freezing]] [--fuse] [--json results.json] [--markdown results.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
sys.path[:0] = [str(REPO), str(BENCHMARKS)]

from measure import memory_probe_env, peak_memory_pair, time_pair  # noqa: E402

import hf_videomodels  # noqa: E402,F401  (registers the architectures)
from hf_videomodels.layers import fold_batch_norm_into_conv  # noqa: E402

PEERS = BENCHMARKS / "peers"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
DEFAULT_DTYPES = {"cpu": ["fp32", "bf16"], "cuda": ["bf16"]}
DEFAULT_BATCH = {"cpu": 1, "cuda": 8}
UNAVAILABLE = (ImportError, FileNotFoundError)


@dataclass
class Result:
    row: str
    device: str
    dtype: str
    batch: int
    mode: str  # "eager" or "compiled"
    ours_ms: float
    peer_ms: float
    speedup: float  # peer time / our time
    ours_peak_mib: float | None
    peer_peak_mib: float | None
    max_abs_logit_diff: float

    @property
    def label(self) -> str:
        return setting_label(self.row, self.device, self.dtype, self.batch, self.mode)


def setting_label(row: str, device: str, dtype: str, batch: int, mode: str) -> str:
    return f"{row} | {device} {dtype} batch {batch} {mode}"


def discover_pairs(peers_dir: Path = PEERS) -> tuple[dict, dict[str, str]]:
    """Row name -> builder from every ``peers/*.py`` module, and module name -> why it was skipped."""
    builders, skipped = {}, {}
    for path in sorted(peers_dir.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"benchmark_peers_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except UNAVAILABLE as error:
            skipped[path.stem] = f"{type(error).__name__}: {error}"
            continue
        for name, builder in module.benchmark_pairs().items():
            if name in builders:
                raise RuntimeError(f"benchmark row {name!r} is defined twice (peers/{path.name})")
            builders[name] = builder
    return builders, skipped


def select_rows(builders: dict, only: list[str] | None) -> dict:
    """Rows whose name contains one of ``only`` (case-blind); all rows without ``only``."""
    if not only:
        return builders
    chosen = {name: b for name, b in builders.items() if any(o.lower() in name.lower() for o in only)}
    if not chosen:
        raise SystemExit(f"--only {' '.join(only)} matches no row; rows: {', '.join(builders)}")
    return chosen


def tune_peer(peer: nn.Module) -> str:
    """Put a CNN peer (more than one conv: a transformer's patch embedding alone does not count) in the layout
    its users would choose, convs of 3D CNNs in ``channels_last_3d``, of 2D ones in ``channels_last``; returns
    the layout. A peer that sets ``benchmark_keeps_layout = True`` runs as built: its own code needs that layout
    (the C3D port's ``view`` before fc6 fails on a channels_last_3d tensor), so its users cannot change it."""
    if getattr(peer, "benchmark_keeps_layout", False):
        return "as built"
    convs = {nn.Conv2d: torch.channels_last, nn.Conv3d: torch.channels_last_3d}
    found = {kind: [m for m in peer.modules() if type(m) is kind] for kind in convs}
    if sum(len(modules) for modules in found.values()) <= 1:
        return "as built"
    for kind, modules in found.items():
        for module in modules:
            module.to(memory_format=convs[kind])
    return "channels_last_3d" if found[nn.Conv3d] else "channels_last"


def _last_conv(module: nn.Module) -> nn.modules.conv._ConvNd | None:
    """``module`` if it is a conv, else the last child of an ``nn.Sequential`` ending in a conv (torchvision's
    ``Conv2Plus1D``), else None."""
    while isinstance(module, nn.Sequential) and len(module):
        module = module[-1]
    return module if isinstance(module, nn.modules.conv._ConvNd) else None


def fold_peer_batch_norms(peer: nn.Module) -> tuple[int, int]:
    """Fold each BatchNorm of a peer that directly follows a conv among its parent's children (registration
    order: torchvision's ``conv1, bn1``, pytorchvideo's ``conv_a, norm_a`` and ``conv_fast_to_slow, norm``, a
    Sequential's ``Conv3d, BatchNorm3d``) into that conv, as ``fuse_conv_bn`` does ours; returns (folded, total
    BatchNorms). The peers' code has no such method and torch.fx cannot trace every peer (pytorchvideo's list input);
    the row's logit difference checks that the registration order was the forward's."""
    total = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in peer.modules())
    folded = 0
    for parent in list(peer.modules()):
        children = list(parent.named_children())
        for (_, before), (name, module) in zip(children, children[1:]):
            conv = _last_conv(before)
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and conv is not None:
                fold_batch_norm_into_conv(conv, module)
                setattr(parent, name, nn.Identity())
                folded += 1
    return folded, total


def fuse_pair(ours: nn.Module, peer: nn.Module) -> str:
    """``--fuse``: ours by ``fuse_conv_bn()``, the peer by :func:`fold_peer_batch_norms`; the row-name suffix."""
    ours.fuse_conv_bn()
    folded, total = fold_peer_batch_norms(peer)
    if folded == total:
        return " [conv+BN folded, both]"
    return f" [conv+BN folded: ours all, peer {folded} of {total}]"


def with_batch(example_input: torch.Tensor, batch: int) -> None:
    """Grow (or cut) ``example_input`` to ``batch`` clips in place, so the row's closures see the new batch."""
    if example_input.shape[0] == batch:
        return
    repeats = -(-batch // example_input.shape[0])
    bigger = example_input.repeat(repeats, *([1] * (example_input.ndim - 1)))[:batch].contiguous()
    with torch.no_grad():
        example_input.set_(bigger)


def build(builder, device: torch.device, batch: int, peer_channels_last: bool, fuse: bool = False):
    """The row's ``(call, ours, peer)`` at ``batch`` clips if its closures read ``example_input`` when they run,
    the batch both models then see (otherwise the builder's own batch, with a warning), and the row-name suffix
    (``--fuse``: what was folded)."""
    call, ours, peer, example_input = builder(device)
    suffix = fuse_pair(ours, peer) if fuse else ""
    if peer_channels_last:
        tune_peer(peer)
    built = example_input.detach()  # keeps the builder's tensor when example_input is grown in place
    with_batch(example_input, batch)
    if batch != built.shape[0]:
        with torch.inference_mode():
            batches = {call(model)().shape[0] for model in (ours, peer)}
        if batches != {batch}:
            with torch.no_grad():
                example_input.set_(built)
            print(
                f"warning: a closure keeps its own copy of example_input (batches {sorted(batches)} after growing "
                f"it to {batch}), so this row runs at the builder's batch {built.shape[0]}",
                file=sys.stderr,
            )
            return call, ours, peer, built.shape[0], suffix
    return call, ours, peer, batch, suffix


def settings(args) -> list[tuple[str, str, int]]:
    """(device, dtype, batch) to run, in order."""
    found = []
    for device in args.device:
        kind = torch.device(device).type
        for dtype in args.dtype or DEFAULT_DTYPES[kind]:
            found.append((device, dtype, args.batch or DEFAULT_BATCH[kind]))
    return found


def cpu_peak_memory(argv: list[str]) -> dict[str, tuple[int, int]]:
    """CPU peak memory per setting label, measured by this script in a child process (``--memory-probe``)."""
    command = [sys.executable, __file__, *argv, "--memory-probe", "--device", "cpu"]
    probe = subprocess.run(command, env=memory_probe_env(), capture_output=True, text=True, check=False)
    if probe.returncode:  # the timings are still worth having: memory is then reported as n/a
        print(f"CPU memory probe failed (exit code {probe.returncode}):\n{probe.stderr[-2000:]}", file=sys.stderr)
    found = {}
    for line in probe.stdout.splitlines():
        if line.startswith("{"):
            found.update({label: tuple(pair) for label, pair in json.loads(line).items()})
    return found


def markdown_table(results: list[Result]) -> str:
    lines = [
        (
            "| model | device | dtype | batch | mode | ours | peer | speedup (peer / ours) | peak memory ours / peer "
            "| max abs diff of logits |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        memory = "n/a" if r.ours_peak_mib is None else f"{r.ours_peak_mib:.0f} / {r.peer_peak_mib:.0f} MiB"
        lines.append(
            f"| {r.row} | {r.device} | {r.dtype} | {r.batch} | {r.mode} | {r.ours_ms:.1f} ms | {r.peer_ms:.1f} ms "
            f"| {r.speedup:.2f}× | {memory} | {r.max_abs_logit_diff:.1e} |"
        )
    return "\n".join(lines)


def run_row(name, builder, args, memory_of) -> list[Result]:
    results = []
    for device_name, dtype_name, batch in settings(args):
        device = torch.device(device_name)
        torch.backends.cudnn.benchmark = device.type == "cuda"
        call, ours, peer, batch, suffix = build(builder, device, batch, args.peer_channels_last, args.fuse)
        row = name + suffix
        compiled = "compiled+freezing" if args.freezing else "compiled"
        modes = ["eager"] + ([compiled] if args.compile else [])
        for mode in modes:
            if mode == compiled:  # in place, so a call() that tells the models apart by identity still can
                ours.compile()
                peer.compile()
            label = setting_label(row, device_name, dtype_name, batch, mode)
            fns = call(ours), call(peer)
            dtype = DTYPES[dtype_name]
            if args.memory_probe:
                print(json.dumps({label: peak_memory_pair(*fns, device, dtype)}), flush=True)
                continue
            (t_ours, y_ours), (t_peer, y_peer) = time_pair(*fns, device, dtype, repeats=args.repeats)
            memory = memory_of.get(label) if device.type == "cpu" else peak_memory_pair(*fns, device, dtype)
            result = Result(
                row=row,
                device=device_name,
                dtype=dtype_name,
                batch=batch,
                mode=mode,
                ours_ms=t_ours * 1e3,
                peer_ms=t_peer * 1e3,
                speedup=t_peer / t_ours,
                ours_peak_mib=memory[0] / 2**20 if memory else None,
                peer_peak_mib=memory[1] / 2**20 if memory else None,
                max_abs_logit_diff=(y_ours.float() - y_peer.float()).abs().max().item(),
            )
            print(f"{label}: speedup {result.speedup:.2f}, |Δlogits| {result.max_abs_logit_diff:.1e}", flush=True)
            results.append(result)
        del call, ours, peer
    return results


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="rows whose name contains NAME (case-blind)")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument("--peers-dir", type=Path, default=PEERS, help="folder of the peer modules")
    parser.add_argument("--pytorch-i3d", type=Path, help="the original pytorch_i3d.py (sets PYTORCH_I3D)")
    parser.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--dtype", nargs="+", choices=sorted(DTYPES), help="default: fp32 bf16 on CPU, bf16 on CUDA")
    parser.add_argument("--batch", type=int, help="clips per forward (default: 1 on CPU, 8 on CUDA)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--peer-channels-last", action=argparse.BooleanOptionalAction, default=True,
        help="CNN peers in channels_last(_3d), as their users would run them",
    )  # fmt: skip
    parser.add_argument("--compile", action="store_true", help="also time both under torch.compile")
    parser.add_argument(
        "--freezing", action="store_true",
        help="with --compile: inductor freezing (torch._inductor.config.freezing: weights as constants, oneDNN "
        "weight prepacking and conv + pointwise fusion; the row's mode reads 'compiled+freezing')",
    )  # fmt: skip
    parser.add_argument(
        "--fuse", action="store_true",
        help="fold BatchNorm into the convs before timing: ours by fuse_conv_bn(), the peer's conv + BatchNorm pairs "
        "the same way (the row name says what was folded)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    parser.add_argument("--markdown", type=Path, help="write the table to this markdown file")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.pytorch_i3d:
        os.environ["PYTORCH_I3D"] = str(args.pytorch_i3d.resolve())
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.freezing:
        if not args.compile:
            raise SystemExit("--freezing is a torch.compile setting: add --compile")
        import torch._inductor.config as inductor_config  # binds only the alias: `torch` stays the global

        # Without it, compiled bf16 3D CNNs convolve in the contiguous layout (inductor writes the bf16 casts of
        # channels_last_3d activations and weights contiguously), where oneDNN is about half as fast.
        inductor_config.freezing = True
    builders, skipped = discover_pairs(args.peers_dir)
    if args.list:
        print("\n".join(builders))
        return
    rows = select_rows(builders, args.only)
    memory_of = {}
    if not args.memory_probe:
        print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
        if torch.cuda.is_available() and any(torch.device(d).type == "cuda" for d in args.device):
            print(f"GPU: {torch.cuda.get_device_name()}")
        if "cpu" in args.device:
            memory_of = cpu_peak_memory(argv)
    results = []
    for name, builder in rows.items():
        try:
            results += run_row(name, builder, args, memory_of)
        except UNAVAILABLE as error:
            skipped[name] = f"{type(error).__name__}: {error}"
    if args.memory_probe:
        return
    table = markdown_table(results)
    notes = [f"- skipped {name}: {why}" for name, why in skipped.items()]
    print("\n" + table + ("\n\n" + "\n".join(notes) if notes else ""))
    if args.markdown:
        args.markdown.write_text(table + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else ""), encoding="utf-8")
    if args.json:
        payload = {
            "torch": torch.__version__,
            "cpu_threads": torch.get_num_threads(),
            "results": [asdict(r) for r in results],
            "skipped": skipped,
        }
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
