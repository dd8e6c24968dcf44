"""The whole command a user types, process start to exit, with every default output:

    descend surface rosenbrock --opt adam:lr=0.01 --starts 10000 --steps 1000 --out DIR

timed as a subprocess (median of 5), with the machine otherwise idle and with one core
kept busy by a CPU burner this benchmark starts; beside it, in this process, the engine
alone on the same runs, and the plain torch.optim loop (one torch.optim.Adam per start,
timed on a sample and scaled). The ratio is the loop's time over the whole command's
(idle): what the user waits for, against what the same runs cost the plain way.

    .venv/bin/python benchmarks/surface_command.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from descend.engine import OptimizerSpec, RunSpec, run
from descend.tasks import surfaces

COMMAND = ["surface", "rosenbrock", "--opt", "adam:lr=0.01", "--starts", "10000", "--steps", "1000"]


def command_seconds(repeats: int) -> list[float]:
    descend = Path(sys.executable).parent / "descend"
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            began = time.perf_counter()
            subprocess.run([str(descend), *COMMAND, "--out", out], check=True,
                           capture_output=True)  # fmt: skip
            times.append(time.perf_counter() - began)
    return times


def burn(stop) -> None:  # one core busy: what another user's job does to ours
    x = 0
    while not stop.is_set():
        x = (x * 1103515245 + 12345) % 2**31


def engine_seconds() -> float:
    rosenbrock = surfaces.get("rosenbrock")
    (x0, x1), (y0, y1) = rosenbrock.window
    side = 100
    xs, ys = torch.linspace(x0, x1, side + 2)[1:-1], torch.linspace(y0, y1, side + 2)[1:-1]
    adam = OptimizerSpec("adam", {"lr": 0.01})
    specs = [RunSpec(rosenbrock, adam, 1000, start=(float(a), float(b))) for b in ys for a in xs]
    began = time.perf_counter()
    run(specs)
    return time.perf_counter() - began


def loop_seconds(sample: int = 10) -> float:
    rosenbrock = surfaces.get("rosenbrock")
    began = time.perf_counter()
    for k in range(sample):
        w = torch.nn.Parameter(torch.tensor([-1.5 + 0.01 * k, 2.0], dtype=torch.float64))
        optimizer = torch.optim.Adam([w], lr=0.01)
        for _ in range(1000):
            optimizer.zero_grad()
            rosenbrock(w).backward()
            optimizer.step()
    return (time.perf_counter() - began) / sample * 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    idle = command_seconds(args.repeats)
    stop = multiprocessing.Event()
    burner = multiprocessing.Process(target=burn, args=(stop,))
    burner.start()
    try:
        busy = command_seconds(args.repeats)
    finally:
        stop.set()
        burner.join()
    engine, loop = engine_seconds(), loop_seconds()
    print("descend " + " ".join(COMMAND) + " --out DIR (every default output)")
    for name, times in (("idle", idle), ("one core busy", busy)):
        shown = sorted(round(t, 2) for t in times)
        print(f"  {name + ':':15} median {statistics.median(times):.2f} s of {shown}")
    print(f"the engine alone, in process: {engine:.2f} s")
    print(f"torch.optim.Adam loop, one start at a time: {loop:.0f} s (scaled from 10 starts)")
    print(f"ratio: {loop / statistics.median(idle):.1f}x")


if __name__ == "__main__":
    main()
