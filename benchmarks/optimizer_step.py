"""Optimizer step time: descend's `to_torch` against torch.optim, same process, every rule.

On the parameters of seed 002's ConvNet (300 426 parameters in 8 tensors), with fixed
random gradients, for every rule torch.optim also has (L-BFGS aside: its step evaluates
a closure 20 times, not a rule on given gradients; Muon on the two weight matrices
only, the parameters torch.optim.Muon takes): the time of one `step()` of torch.optim's
default implementation (on CPU: the single-tensor loop), of its foreach implementation
where it has one, and of descend's adapter, each with the rule's default
hyper-parameters.

Rounds are interleaved and each round times torch's default right before descend, so
the ratio of a round compares two neighbouring measurements; the median over rounds is
reported (machines shared with other work are noisy: look at ratios, not µs). The last
line is the worst ratio over the rules.

    .venv/bin/python benchmarks/optimizer_step.py [--device cuda] [--rules adam,sgd]
        [--steps 100] [--rounds 11] [--threads 1] [--heap]

On a machine whose cores are busy with other work, torch's intra-op threads wait for each
other at every operation and times swing tenfold: --threads 1 measures the work itself.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import math
import statistics
import time

import torch

import descend
from descend.tasks.networks import SeedConvNet

TORCH_CLASSES = {  # those this torch has (Muon came in 2.9, Adafactor in 2.5)
    name: getattr(torch.optim, cls)
    for name, cls in [
        ("adadelta", "Adadelta"), ("adafactor", "Adafactor"), ("adagrad", "Adagrad"),
        ("adam", "Adam"), ("adamax", "Adamax"), ("adamw", "AdamW"), ("asgd", "ASGD"),
        ("muon", "Muon"), ("nadam", "NAdam"), ("radam", "RAdam"), ("rmsprop", "RMSprop"),
        ("rprop", "Rprop"), ("sgd", "SGD"),
    ]
    if hasattr(torch.optim, cls)
}  # fmt: skip
WITHOUT_FOREACH = {"muon"}  # torch.optim.Muon refuses foreach=True
# A rule whose default has no momentum is timed with it too: that is the common use.
SETTINGS = {"sgd": dict(momentum=0.9)}


def make_parameters(device: str, rule: str) -> list[torch.nn.Parameter]:
    torch.manual_seed(0)
    params = list(SeedConvNet().to(device).parameters())
    if rule == "muon":  # torch.optim.Muon takes matrices only
        params = [p for p in params if p.ndim == 2]
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


def contenders(rule: str, device: str) -> dict[str, torch.optim.Optimizer]:
    torch_class, settings = TORCH_CLASSES[rule], SETTINGS.get(rule, {})

    def params() -> list[torch.nn.Parameter]:
        return make_parameters(device, rule)

    found = {"torch default": torch_class(params(), **settings)}
    if rule not in WITHOUT_FOREACH:
        found["torch foreach"] = torch_class(params(), foreach=True, **settings)
    found["descend to_torch"] = descend.optim.get(rule, **settings).to_torch(params())
    return found


def time_rule(rule: str, device: str, steps: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per step of each contender, one entry per round."""
    optimizers = contenders(rule, device)
    for optimizer in optimizers.values():  # warm-up: state allocation, caches
        seconds_per_step(optimizer, max(steps // 5, 5), device)
    times: dict[str, list[float]] = {label: [] for label in optimizers}
    for _ in range(rounds):
        for label, optimizer in optimizers.items():
            times[label].append(seconds_per_step(optimizer, steps, device))
    return times


def keep_large_blocks_on_the_heap() -> None:
    """glibc: serve blocks up to 64 MiB from the heap, and do not trim it back."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 64 << 20)
    libc.mallopt(m_trim_threshold, 256 << 20)


def median_ratio(ours: list[float], baseline: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(ours, baseline, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--rules", default=",".join(TORCH_CLASSES), help="comma-separated")
    parser.add_argument("--heap", action="store_true", help="large blocks from the heap (glibc)")
    parser.add_argument(
        "--threads", type=int, help="torch's intra-op threads (1: steadier on a busy machine)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.heap:
        keep_large_blocks_on_the_heap()
    allocator = "large blocks on the heap" if args.heap else "default allocator"
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}, "
        f"{allocator}; µs per step (median over {args.rounds} rounds of {args.steps} steps), "
        "ratio to torch's default"
    )
    ratios: dict[str, float] = {}
    for rule in args.rules.split(","):
        times = time_rule(rule, args.device, args.steps, args.rounds)
        baseline = times["torch default"]
        for label, measured in times.items():
            ratio = median_ratio(measured, baseline)
            microseconds = statistics.median(measured) * 1e6
            print(f"{rule:9s} {label:17s} {microseconds:9.1f} µs  {ratio:5.2f}")
        ratios[rule] = median_ratio(times["descend to_torch"], baseline)
    worst = max(ratios, key=ratios.__getitem__)
    geometric_mean = math.exp(statistics.fmean(math.log(r) for r in ratios.values()))
    print(f"descend to_torch / torch default: geometric mean {geometric_mean:.2f}x, worst {worst}")
    print(f"ratio: {ratios[worst]:.2f}x")


if __name__ == "__main__":
    main()
