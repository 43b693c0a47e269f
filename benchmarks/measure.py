"""Timing and peak-memory measurement shared by the benchmark scripts (CPU and CUDA)."""

from __future__ import annotations

import os
import statistics
import threading
import time
from contextlib import contextmanager, nullcontext

import torch


def memory_probe_env() -> dict:
    """Environment for a child process that measures CPU peak memory: glibc serves large blocks by mmap, so a
    freed tensor leaves the resident set at once and RSS sampling sees each forward's real peak (otherwise
    freed memory is kept for reuse). Slower allocation, so timings are taken in the parent, not there."""
    return {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


class PeakMemory:
    """Peak memory added while the block runs: CUDA allocator statistics on a GPU; on the CPU the process's
    resident set, sampled every millisecond by a thread (PyTorch has no CPU allocator counters)."""

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self.peak_bytes = 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            self._base = _rss_bytes()
            self._peak = self._base
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(0.001)

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self._base
        else:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self._peak, _rss_bytes()) - self._base
        return False


def autocast_for(device: torch.device, dtype: torch.dtype | None):
    if dtype is None or dtype == torch.float32:
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


@contextmanager
def _sync(device):
    yield
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    with _sync(device):
        out = fn()
    return time.perf_counter() - start, out


def peak_memory_pair(fn_ours, fn_peer, device, dtype=None) -> tuple[int, int]:
    """Peak extra memory of one call of each (after one warm-up call)."""
    device = torch.device(device)
    memory = []
    with torch.inference_mode(), autocast_for(device, dtype):
        for fn in (fn_ours, fn_peer):
            _timed(fn, device)
            with PeakMemory(device) as peak:
                _timed(fn, device)
            memory.append(peak.peak_bytes)
    return memory[0], memory[1]


def time_call(fn, device="cpu", dtype=None, warmup: int = 1, repeats: int = 5) -> tuple[float, object]:
    """Median seconds per call and the last output."""
    device = torch.device(device)
    with torch.inference_mode(), autocast_for(device, dtype):
        for _ in range(warmup):
            _timed(fn, device)
        runs = [_timed(fn, device) for _ in range(repeats)]
    return statistics.median(seconds for seconds, _ in runs), runs[-1][1]


def time_pair(fn_ours, fn_peer, device, dtype=None, warmup: int = 2, repeats: int = 5):
    """Median seconds per call and the last output, for ours and the peer.

    Calls alternate between the two so that a change in background load hits both alike.
    """
    device = torch.device(device)
    results = []
    with torch.inference_mode(), autocast_for(device, dtype):
        for fn in (fn_ours, fn_peer):
            for _ in range(warmup):
                _timed(fn, device)
        times = ([], [])
        outputs = [None, None]
        for repeat in range(repeats):
            # Alternate which goes first, so neither always runs on caches the other warmed.
            order = (0, 1) if repeat % 2 == 0 else (1, 0)
            for k in order:
                seconds, outputs[k] = _timed((fn_ours, fn_peer)[k], device)
                times[k].append(seconds)
    for k in range(2):
        results.append((statistics.median(times[k]), outputs[k]))
    return tuple(results)


def report_row(name: str, ours: tuple, peer: tuple, memory: tuple[int, int]) -> str:
    (t_ours, y_ours), (t_peer, y_peer) = ours, peer
    m_ours, m_peer = memory
    diff = (y_ours.float() - y_peer.float()).abs().max().item()
    return (
        f"{name:<38} ours {t_ours * 1e3:9.1f} ms  peer {t_peer * 1e3:9.1f} ms  "
        f"time ratio ours/peer {t_ours / t_peer:5.2f}  "
        f"peak mem ours {m_ours / 2**20:8.1f} MiB  peer {m_peer / 2**20:8.1f} MiB  "
        f"max|Δlogits| {diff:.2e}"
    )
