"""64 small networks at once: digits-mlp runs in lockstep against a loop of single runs.

64 runs of an MLP (64 hidden units) on scikit-learn's digits (8 learning rates × 8 seeds,
Adam, minibatches of 32 reshuffled every epoch, 10 epochs, evaluation every epoch) through
`descend.engine.run` — one group, one batched forward per step — against the plain way:
the same nn.Sequential, a DataLoader over the preloaded tensors, torch.optim.Adam and an
evaluation per epoch, one run after another (a sample timed, scaled to 64). Same process.

Each sampled loop run starts from the engine's initial weights and draws the engine's
batch order, so its final test accuracy equals the engine's up to float32 rounding (the
engine's batched matrix products round differently from one run's; after 450 updates a
run or so of the sample ends a test image apart; in float64 the two agree to 1e-9:
tests/tasks/test_classifiers.py). Printed as a check.

    .venv/bin/python benchmarks/mlp_lockstep.py [--sample 8] [--epochs 10]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from descend.engine import OptimizerSpec, Regime, RunSpec, TaskSpec, run
from regimes_lockstep import Reshuffled  # the engine's order, as that benchmark draws it

BATCH = 32


def specs(epochs: int) -> list[RunSpec]:
    regime = Regime("minibatch", BATCH, "shuffle")
    lrs = torch.logspace(-3.5, -1.5, 8).tolist()
    return [
        RunSpec(TaskSpec("digits-mlp"), OptimizerSpec("adam", {"lr": lr}), epochs=epochs,
                regime=regime, seed=s, dtype="float32")
        for lr in lrs
        for s in range(8)
    ]  # fmt: skip


def loop_run(spec: RunSpec, epochs: int) -> float:
    """One run the plain way; returns its final test accuracy."""
    task = spec.built_task
    torch.manual_seed(spec.stream("init"))
    model = task.make_network()
    data = task.data
    order = Reshuffled(len(data.train_y), torch.Generator().manual_seed(spec.stream("data")))
    loader = DataLoader(TensorDataset(data.train_x, data.train_y), batch_size=BATCH, sampler=order)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.optimizer.hyperparams["lr"])
    accuracy = 0.0
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            torch.nn.functional.nll_loss(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(data.test_x).argmax(1) == data.test_y).float().mean())
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=8, help="single runs timed for the loop")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32")
    all_specs = specs(args.epochs)
    all_specs[0].built_task  # noqa: B018  (load digits before timing either side)
    began = time.perf_counter()
    results = run(all_specs)
    seconds = time.perf_counter() - began
    sample = all_specs[:: len(all_specs) // args.sample][: args.sample]
    began = time.perf_counter()
    accuracies = [loop_run(spec, args.epochs) for spec in sample]
    per_run = (time.perf_counter() - began) / len(sample)
    loop_total = per_run * len(all_specs)
    by_key = {r.spec.key: r for r in results}
    engine = [float(by_key[s.key].evaluations["test_accuracy"][-1]) for s in sample]
    differ = sum(abs(a - b) > 0.5 / 360 for a, b in zip(accuracies, engine, strict=True))
    print(f"loop of single runs: {per_run:.2f} s per run, {loop_total:.1f} s for 64 (scaled)")
    print(f"descend, one lockstep group of 64: {seconds:.2f} s (threads: {results[0].threads})")
    print(f"final test accuracy, engine vs loop, sampled runs differing: {differ}/{len(sample)}")
    print(f"ratio: {loop_total / seconds:.1f}x")


if __name__ == "__main__":
    main()
