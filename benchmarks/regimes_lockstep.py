"""Many regression runs at once: the engine against DataLoader + torch.optim.SGD, one by one.

256 runs of seed 000's quadratic regression (16 learning rates × 16 seeds; 300 epochs of
minibatches of 25, reshuffled every epoch: 1 200 updates each) through `descend.engine.run`,
against the plain-PyTorch way: an nn.Linear(2, 1) on [x, x²], a DataLoader over a
TensorDataset with shuffle=True, torch.optim.SGD and MSELoss, one run after another. The
loop is timed on a sample of runs and scaled to 256. Same process, float32 both.

The sampled loop runs are given the engine's own data streams (one torch.randperm(n,
generator) per epoch) and initial weights, so their final parameters must equal the
engine's to float32 rounding: printed as a check. The loop runs on torch's default
threads, then again on one thread (the engine chooses per group; see engine/threads.py).

    .venv/bin/python benchmarks/regimes_lockstep.py [--sample 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler, TensorDataset

from descend.engine import OptimizerSpec, Regime, RunSpec, TaskSpec, run

EPOCHS, BATCH = 300, 25


def specs() -> list[RunSpec]:
    task, regime = TaskSpec("quadratic-regression"), Regime("minibatch", BATCH, "shuffle")
    lrs = torch.logspace(-4, -2.5, 16).tolist()
    return [
        RunSpec(task, OptimizerSpec("sgd", {"lr": lr}), epochs=EPOCHS, regime=regime, seed=s,
                dtype="float32")
        for lr in lrs
        for s in range(16)
    ]  # fmt: skip


class Reshuffled(Sampler[int]):
    """shuffle=True, drawing one permutation per epoch from the engine's data stream.
    (RandomSampler draws two per epoch — its tail call consumes one — and a generator
    given to the DataLoader also gives up a worker seed each epoch, so neither would
    reproduce the engine's order; the cost is the same.)"""

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator = n, generator

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.generator).tolist())

    def __len__(self) -> int:
        return self.n


def loop_run(spec: RunSpec) -> dict[str, float]:
    """One run the plain way; returns its final (a, b, c)."""
    task = spec.built_task
    features, targets = task.features.float(), task.targets.float()[:, None]  # [x, x²], y
    torch.manual_seed(spec.stream("init"))  # the task draws its weights as nn.Linear does
    model = nn.Linear(2, 1)
    data = TensorDataset(features, targets)
    order = Reshuffled(len(data), torch.Generator().manual_seed(spec.stream("data")))
    loader = DataLoader(data, batch_size=BATCH, sampler=order)  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.optimizer.hyperparams["lr"])
    loss_fn = nn.MSELoss()
    for _ in range(EPOCHS):
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
    (b, a), c = model.weight.detach()[0].tolist(), float(model.bias.detach())
    return {"a": a, "b": b, "c": c}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=8, help="runs timed for the loop")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32")
    all_specs = specs()
    before = peak_rss_mib()
    began = time.perf_counter()
    results = run(all_specs)
    seconds = time.perf_counter() - began
    extra_memory = peak_rss_mib() - before

    sample = all_specs[:: len(all_specs) // args.sample][: args.sample]
    began = time.perf_counter()
    finals = [loop_run(spec) for spec in sample]
    per_run = (time.perf_counter() - began) / len(sample)
    loop_total = per_run * len(all_specs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    began = time.perf_counter()
    for spec in sample:
        loop_run(spec)
    one_thread = (time.perf_counter() - began) / len(sample) * len(all_specs)
    torch.set_num_threads(threads)
    by_key = {r.spec.key: r for r in results}
    worst = max(
        abs(float(by_key[s.key].final_params[k]) - v) / max(abs(v), 1.0)
        for s, f in zip(sample, finals, strict=True)
        for k, v in f.items()
    )
    print(f"DataLoader + torch.optim.SGD loop: {per_run:.2f} s per run of 1200 updates")
    print(f"    {loop_total:.0f} s for 256 runs (scaled from {len(sample)} runs)")
    print(f"    {one_thread:.0f} s on one thread ({loop_total / one_thread:.1f}x faster)")
    print(f"descend engine: {seconds:.2f} s for 256 runs (one lockstep group)")
    print(f"peak memory of the engine run: +{extra_memory:.0f} MiB")
    print(f"largest difference of final (a, b, c), engine vs loop: {worst:.1e} (relative)")
    print(f"against the loop on one thread: {one_thread / seconds:.1f}x")
    print(f"ratio: {loop_total / seconds:.1f}x")


if __name__ == "__main__":
    main()
