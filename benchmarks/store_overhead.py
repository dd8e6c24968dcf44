"""What keeping results costs: a study with the store against the same study without.

Two studies, each timed end to end (`descend.surface` / `descend.compare`) with a store
and without, alternately, `--repeat` times: a 64-run surface study (4 rules × 16 starts
on Rosenbrock, 500 steps) and a digits-mlp comparison (Adam, minibatches of 32, 3
epochs, 8 seeds). With the store every repetition uses new seeds, so its runs are all
missing: each pays the look-up, then writes every run (one transaction per run group,
committed). The store is made once beforehand, as a user's store is. Each study with
the store is paired with the one timed just before it without: the ratio is the median
of the paired ratios (a pair shares the machine's state of the moment; on a shared
machine the spread between processes is larger than the store's whole cost); their mean
(which counts the rare study that checkpoints: every 32 MiB written) and the best times
are printed too. The last line is the larger of the two studies' ratios. torch runs on
one thread (see main).

The store's cost is per run (some 0.1 ms for a 2-D run of 500 steps in the study's
thread: its spec's key, its tensors encoded; then its row written on the store's
thread), so the shorter the runs, the larger its share.

    .venv/bin/python benchmarks/store_overhead.py [--repeat 25]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import descend

SURFACE_RULES = ["sgd:lr=1e-3", "sgd:lr=1e-3,momentum=0.9", "adam:lr=0.05", "rmsprop:lr=0.01"]


def surface_study(seed: int, store: Any) -> Any:
    """64 runs: 4 rules × 16 starts (the seed only names the runs: no noise)."""
    return descend.surface(
        "rosenbrock", SURFACE_RULES, starts=16, steps=500, seed=seed, store=store
    )


def compare_study(seed: int, store: Any) -> Any:
    seeds = list(range(8 * seed, 8 * seed + 8))
    return descend.compare(
        "digits-mlp", ["adam:lr=1e-3"], regimes=["minibatch:32:shuffle"], epochs=3, seeds=seeds,
        store=store,
    )  # fmt: skip


def timed(study: Callable[[int, Any], Any], seed: int, store: Any) -> float:
    began = time.perf_counter()
    study(seed, store)
    return time.perf_counter() - began


def compare_times(
    study: Callable[[int, Any], Any], store: Any, repeat: int
) -> tuple[list[float], list[float]]:
    """(seconds without the store, with it), alternating; one warm-up of each."""
    timed(study, 10_000, None)
    timed(study, 10_001, store)
    without, with_store = [], []
    for i in range(repeat):
        without.append(timed(study, 2 * i + 1, None))
        with_store.append(timed(study, 2 * i + 2, store))
    return without, with_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()
    # One thread, chosen here: the engine then never changes it (descend.engine.threads),
    # so both sides run alike; its own per-group choice flips with the machine's load.
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread")
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite"
        store = descend.open_store(path, say=lambda message: None)
        for name, study in [
            ("surface, 64 runs", surface_study),
            ("digits-mlp, 8 runs", compare_study),
        ]:
            without, with_store = compare_times(study, store, args.repeat)
            ratios_each = [w / o for w, o in zip(with_store, without, strict=True)]
            paired = statistics.median(ratios_each)
            best = min(with_store) / min(without)
            ratios.append(paired)
            print(
                f"{name:20s} without store {min(without) * 1e3:7.1f} ms (best), with store "
                f"{min(with_store) * 1e3:7.1f} ms: {best:.3f}x; paired ratios: median "
                f"{paired:.3f}x, mean {statistics.fmean(ratios_each):.3f}x"
            )
        count = len(store.runs())
        store.close()  # (SQLite's last checkpoint: the file then holds every run)
        size = path.stat().st_size / 2**20
        print(f"store after the benchmark: {count} runs, {size:.1f} MiB")
    print(f"ratio: {max(ratios):.2f}x")


if __name__ == "__main__":
    main()
