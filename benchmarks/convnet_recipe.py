"""Seed 002's work: descend against the seed's way, on MNIST-shaped data.

The recipe's work: 2 optimizers (Adadelta lr 0.5, Adam lr 1e-3) × 3 seeds × 1 epoch of
the ConvNet at batch 32, with a test evaluation at the end of the epoch. descend runs it
as `descend.compare` does (data held as tensors, batches by index; ConvNets one run at a
time on the CPU, the runs spread over worker processes, one per core, one thread each).
The seed's way runs the six one after another in this process: a Dataset turning each
image into a PIL image, then a tensor, then normalising it (torchvision's ToTensor and
Normalize, written out: torchvision does not install beside this torch), a shuffled
DataLoader, torch.optim, `loss.item()` every batch, and a test DataLoader of batch 500.
The seed's way is timed on a sample of steps and of one evaluation, scaled to the work,
once before descend's runs and once after; the faster of the two counts.

Also printed: descend's epoch time as a fraction of this machine's floor (the epoch's
FLOPs, counted by torch.utils.flop_counter, over the matmul rate measured here), and a
profile of where one descend step spends its time.

Uses real MNIST when $DESCEND_DATA has it, else random images of MNIST's shape.

    .venv/bin/python benchmarks/convnet_recipe.py [--sample-steps 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

import descend
from descend.engine import OptimizerSpec, Regime, RunSpec, Step, TaskSpec
from descend.errors import DescendError
from descend.tasks import datasets, idx
from descend.tasks.networks import SeedConvNet

MEAN, STD = 0.1302, 0.3069


def mnist_folder() -> str:
    """Real MNIST if it can be found; else a temporary folder of random MNIST-shaped files."""
    try:
        datasets.find_idx_files("mnist")
        return os.environ.get("DESCEND_DATA", "")
    except DescendError:
        pass
    folder = Path(tempfile.mkdtemp()) / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for stem, count in (("train", 60_000), ("t10k", 10_000)):
        idx.write_idx(
            folder / f"{stem}-images-idx3-ubyte",
            rng.integers(0, 256, (count, 28, 28), dtype=np.uint8),
        )
        labels = np.tile(np.arange(10, dtype=np.uint8), count // 10)
        idx.write_idx(folder / f"{stem}-labels-idx1-ubyte", labels)
    print(f"(no MNIST found: random images of its shape in {folder})")
    return str(folder.parent)


class SeedStyleImages(Dataset):
    """Per sample: array -> PIL image -> [0, 1] tensor -> normalised (ToTensor + Normalize)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        image = Image.fromarray(self.images[i], mode="L")
        x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)[None]
        return (x - MEAN) / STD, int(self.labels[i])


def seed_style_seconds(data_dir: str, sample_steps: int) -> tuple[float, float]:
    """(seconds per training step, seconds per test evaluation) of the seed's way."""
    files = datasets.find_idx_files("mnist", data_dir or None)
    train = SeedStyleImages(
        idx.read_idx(files["train_images"]), idx.read_idx(files["train_labels"])
    )
    test = SeedStyleImages(idx.read_idx(files["test_images"]), idx.read_idx(files["test_labels"]))
    torch.manual_seed(0)
    model = SeedConvNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    loader = iter(DataLoader(train, batch_size=32, shuffle=True))
    for step in range(sample_steps + 10):
        if step == 10:  # after a warm-up
            began = time.perf_counter()
        x, y = next(loader)
        optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    per_step = (time.perf_counter() - began) / sample_steps
    began = time.perf_counter()
    model.eval()
    total = correct = 0.0
    with torch.no_grad():
        for x, y in DataLoader(test, batch_size=500):
            out = model(x)
            total += float(torch.nn.functional.nll_loss(out, y, reduction="sum"))
            correct += float((out.argmax(1) == y).sum())
    return per_step, time.perf_counter() - began


def flop_floor(seconds_per_epoch: float) -> str:
    from torch.utils.flop_counter import FlopCounterMode

    model = SeedConvNet()
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.nll_loss(model(x), y).backward()
    epoch_flops = counter.get_total_flops() * 1875
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    began = time.perf_counter()
    for _ in range(10):
        a @ b
    rate = 10 * 2 * 2048**3 / (time.perf_counter() - began)
    floor = epoch_flops / rate
    return (
        f"epoch: {epoch_flops / 1e12:.2f} TFLOP; matmul rate here {rate / 1e9:.0f} GFLOP/s "
        f"({torch.get_num_threads()} threads): floor {floor:.1f} s; descend's epoch per run "
        f"{seconds_per_epoch:.1f} s of one core, i.e. {floor * 2 / seconds_per_epoch:.0%} of the "
        "two-core floor per core-second"
    )


def profile(data_dir: str, steps: int = 20) -> str:
    """Where one descend training step spends its time (self CPU time by op, one thread)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    params = {"data_dir": data_dir} if data_dir else {}
    regime = Regime.parse("minibatch:32:shuffle")
    adam = OptimizerSpec("adam", {"lr": 1e-3})
    spec = RunSpec(TaskSpec("mnist-convnet", params), adam, steps, regime=regime, dtype="float32")
    task = spec.built_task
    start = task.initial_params(spec, torch.Generator())
    weights = {k: v[None].clone() for k, v in start.items()}
    rule = spec.optimizer.build()
    state = rule.init(weights)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with profiler(activities=[ProfilerActivity.CPU]) as prof:
        for t in range(steps):
            leaves = {k: v.requires_grad_() for k, v in weights.items()}
            batch = torch.randint(0, task.examples, (1, 32))
            loss = task.losses(leaves, batch, Step(t, (1,)))
            grads = torch.autograd.grad(loss.sum(), list(leaves.values()))
            updates, state = rule.update(dict(zip(leaves, grads, strict=True)), state, weights)
            weights = {k: (v + updates[k]).detach() for k, v in weights.items()}
    torch.set_num_threads(threads)
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in ops)
    shown = ", ".join(f"{e.key} {e.self_cpu_time_total / total:.0%}" for e in ops[:6])
    return f"profile of {steps} steps (one thread, {total / steps / 1e3:.1f} ms a step): {shown}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-steps", type=int, default=200)
    args = parser.parse_args()
    data_dir = mnist_folder()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    before = seed_style_seconds(data_dir, args.sample_steps)
    began = time.perf_counter()
    study = descend.compare(
        "mnist-convnet", ["adadelta:lr=0.5", "adam:lr=1e-3"], regimes=["minibatch:32:shuffle"],
        epochs=1, seeds=3, data_dir=data_dir or None,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    after = seed_style_seconds(data_dir, args.sample_steps)
    # the seed's way sampled before and after descend's runs (a shared machine's speed
    # drifts over minutes): the faster of the two, the less flattering ratio for descend
    per_step, evaluation = min(before[0], after[0]), min(before[1], after[1])
    seed_total = 6 * (1875 * per_step + evaluation)
    epoch = float(study.results[0].epoch_seconds[0])
    accuracy = [f"{float(r.evaluations['test_accuracy'][-1]):.4f}" for r in study.results]
    print(f"the seed's way: {per_step * 1e3:.2f} ms a step, {evaluation:.1f} s a test "
          f"evaluation: {seed_total:.0f} s for 6 runs of 1 epoch (scaled)")  # fmt: skip
    print(f"descend: {seconds:.0f} s for the 6 runs (workers: one per core), epoch time per "
          f"run {epoch:.1f} s; test accuracies {', '.join(accuracy)}")  # fmt: skip
    print(flop_floor(epoch))
    print(profile(data_dir))
    print(f"ratio: {seed_total / seconds:.2f}x")


if __name__ == "__main__":
    main()
