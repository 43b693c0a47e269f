"""Timing and peak-memory measurement shared by the benchmark scripts (CPU and CUDA)."""

from __future__ import annotations

import statistics
import threading
import time
from contextlib import contextmanager, nullcontext

import torch


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


def time_forward(fn, device, dtype=None, warmup: int = 2, repeats: int = 5) -> tuple[float, int, torch.Tensor]:
    """Median seconds per call, peak extra memory of one call, and the last output."""
    device = torch.device(device)
    with torch.inference_mode(), autocast_for(device, dtype):
        for _ in range(warmup):
            with _sync(device):
                out = fn()
        with PeakMemory(device) as memory:
            with _sync(device):
                out = fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            with _sync(device):
                out = fn()
            times.append(time.perf_counter() - start)
    return statistics.median(times), memory.peak_bytes, out


def report_row(name: str, ours: tuple, peer: tuple) -> str:
    (t_ours, m_ours, y_ours), (t_peer, m_peer, y_peer) = ours, peer
    diff = (y_ours.float() - y_peer.float()).abs().max().item()
    return (
        f"{name:<38} ours {t_ours * 1e3:9.1f} ms  peer {t_peer * 1e3:9.1f} ms  "
        f"time ratio ours/peer {t_ours / t_peer:5.2f}  "
        f"peak mem ours {m_ours / 2**20:8.1f} MiB  peer {m_peer / 2**20:8.1f} MiB  "
        f"max|Δlogits| {diff:.2e}"
    )
