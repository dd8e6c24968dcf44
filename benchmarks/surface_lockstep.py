"""Thousands of trajectories at once: the lockstep engine against a loop of torch.optim.

K = 10 000 starts (uniform over Rosenbrock's window, seeded) × 1 000 steps of Adam
(lr 1e-2) through `descend.engine.run`, against the plain-PyTorch way: one
torch.optim.Adam per start, run one after another. The loop is timed on a sample of
starts and scaled to K. Same process, same dtype; also the peak memory of the engine run
(process peak RSS above what the process held before it).

    .venv/bin/python benchmarks/surface_lockstep.py [--starts 10000] [--steps 1000]
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from descend.engine import OptimizerSpec, RunSpec, run
from descend.tasks import surfaces


def starts_in_window(surface: surfaces.Surface, count: int, seed: int = 0) -> torch.Tensor:
    (x0, x1), (y0, y1) = surface.window
    u = torch.rand(count, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.stack([x0 + (x1 - x0) * u[:, 0], y0 + (y1 - y0) * u[:, 1]], dim=1)


def engine_seconds(surface, starts: torch.Tensor, steps: int, dtype: torch.dtype):
    optimizer = OptimizerSpec("adam", {"lr": 1e-2})
    name = str(dtype).removeprefix("torch.")
    specs = [
        RunSpec(surface, optimizer, steps, start=(float(a), float(b)), dtype=name)
        for a, b in starts
    ]
    began = time.perf_counter()
    results = run(specs)
    return time.perf_counter() - began, results


def loop_seconds_per_run(surface, starts: torch.Tensor, steps: int, dtype: torch.dtype) -> float:
    """The plain way: a parameter, torch.optim.Adam, zero_grad / backward / step."""
    began = time.perf_counter()
    for start in starts:
        w = torch.nn.Parameter(start.to(dtype).clone())
        optimizer = torch.optim.Adam([w], lr=1e-2)
        for _ in range(steps):
            optimizer.zero_grad()
            surface(w).backward()
            optimizer.step()
    return (time.perf_counter() - began) / len(starts)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--sample", type=int, default=20, help="single runs timed for the loop")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    surface = surfaces.get("rosenbrock")
    starts = starts_in_window(surface, args.starts)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.dtype}")

    per_run = loop_seconds_per_run(surface, starts[: args.sample], args.steps, dtype)
    loop_total = per_run * args.starts
    before = peak_rss_mib()
    seconds, results = engine_seconds(surface, starts, args.steps, dtype)
    extra_memory = peak_rss_mib() - before

    converged = sum(float((r.final_point - 1).norm()) < 1e-3 for r in results)
    trajectory_steps = args.starts * args.steps
    runs = f"{args.starts} runs × {args.steps} steps"
    print(f"loop of torch.optim.Adam: {per_run * 1e3:.1f} ms per run of {args.steps} steps")
    print(f"                          {loop_total:.1f} s for {runs} (from {args.sample} runs)")
    print(f"descend engine:           {seconds:.2f} s for {runs}")
    rate, loop_rate = trajectory_steps / seconds, args.steps / per_run
    print(f"trajectory-steps per s:   {rate:.3g} (loop: {loop_rate:.3g})")
    peak = peak_rss_mib()
    print(f"peak memory of the run:   +{extra_memory:.0f} MiB (process peak {peak:.0f} MiB)")
    print(f"runs within 1e-3 of (1, 1): {converged}/{args.starts}")
    print(f"ratio: {loop_total / seconds:.1f}x")


if __name__ == "__main__":
    main()
