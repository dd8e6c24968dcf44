"""Optimizer step time: descend's `to_torch` against torch.optim, same process.

On the parameters of seed 002's ConvNet (300 426 parameters in 8 tensors), with fixed
random gradients, for Adam (lr 1e-3) and Adadelta (lr 0.5): the time of one `step()` of
torch.optim's default implementation (on CPU: the single-tensor loop), of its foreach
implementation, and of descend's adapter. Rounds are interleaved; the best round of each
is kept (the least disturbed by the machine and by the allocator, whose state the others
change), and the median is shown beside it.

    .venv/bin/python benchmarks/optimizer_step.py [--device cuda] [--steps 200]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import statistics
import time

import torch

import descend
from descend.tasks.networks import SeedConvNet


def make_parameters(device: str) -> list[torch.nn.Parameter]:
    torch.manual_seed(0)
    params = list(SeedConvNet().to(device).parameters())
    for p in params:
        p.grad = torch.randn_like(p) * 1e-2
    return params


def seconds_per_step(optimizer: torch.optim.Optimizer, steps: int, device: str) -> float:
    synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    synchronize()
    return (time.perf_counter() - start) / steps


def contenders(name: str, lr: float, device: str):
    torch_class = {"adam": torch.optim.Adam, "adadelta": torch.optim.Adadelta}[name]
    return {
        "torch default": torch_class(make_parameters(device), lr=lr),
        "torch foreach": torch_class(make_parameters(device), lr=lr, foreach=True),
        "descend to_torch": descend.optim.get(name, lr=lr).to_torch(make_parameters(device)),
    }


def keep_large_blocks_on_the_heap() -> None:
    """glibc: serve blocks up to 64 MiB from the heap, and do not trim it back."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 64 << 20)
    libc.mallopt(m_trim_threshold, 256 << 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--heap", action="store_true", help="large blocks from the heap (glibc)")
    args = parser.parse_args()
    if args.heap:
        keep_large_blocks_on_the_heap()
    allocator = "large blocks on the heap" if args.heap else "default allocator"
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}, {allocator}"
    )
    for name, lr in [("adam", 1e-3), ("adadelta", 0.5)]:
        optimizers = contenders(name, lr, args.device)
        for optimizer in optimizers.values():  # warm-up: state allocation, caches
            seconds_per_step(optimizer, 20, args.device)
        times: dict[str, list[float]] = {label: [] for label in optimizers}
        for _ in range(args.rounds):
            for label, optimizer in optimizers.items():
                times[label].append(seconds_per_step(optimizer, args.steps, args.device))
        medians = {label: statistics.median(t) for label, t in times.items()}
        baseline = medians["torch default"]
        for label, median in medians.items():
            print(
                f"{name:9s} {label:17s} {median * 1e6:9.1f} µs/step  ratio {median / baseline:5.2f}"
            )


if __name__ == "__main__":
    main()
