"""Seed 002's recipe on a CUDA GPU: descend against the seed's way, and K seeds in lockstep.

1. The recipe as `descend run adam-vs-adadelta --set seeds=1` runs it on the GPU: Adadelta
   (lr 0.5) and Adam (lr 1e-3), 5 epochs of the ConvNet at batch 32, test evaluation
   after each epoch; its wall time and test accuracies.
2. The seed's way on the same GPU: a Dataset turning each image into a PIL image, then a
   normalised tensor, a shuffled DataLoader, each batch copied to the GPU, torch.optim,
   `loss.item()` every batch; timed on a sample of steps and one evaluation, scaled to
   the recipe's work (2 runs × 5 epochs).
3. K = 8 seeds of Adam in lockstep (one stacked computation) against one seed, 1 epoch
   each: how many more runs an epoch of GPU time gives.

Needs real MNIST ($DESCEND_DATA, or --data-dir) and a GPU.

    python benchmarks/gpu_recipe.py --data-dir DIR [--epochs 5] [--seeds 8]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader

import descend
from convnet_recipe import SeedStyleImages
from descend.tasks import datasets, idx
from descend.tasks.networks import SeedConvNet


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def synchronised_seconds(work) -> tuple[float, object]:
    synchronize()
    began = time.perf_counter()
    value = work()
    synchronize()
    return time.perf_counter() - began, value


def seed_style_seconds(data_dir: str | None, sample_steps: int, device: str) -> tuple[float, float]:
    """(seconds per training step, seconds per test evaluation) of the seed's way."""
    files = datasets.find_idx_files("mnist", data_dir)
    train = SeedStyleImages(
        idx.read_idx(files["train_images"]), idx.read_idx(files["train_labels"])
    )
    test = SeedStyleImages(idx.read_idx(files["test_images"]), idx.read_idx(files["test_labels"]))
    torch.manual_seed(0)
    model = SeedConvNet().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = iter(DataLoader(train, batch_size=32, shuffle=True))
    for step in range(sample_steps + 20):
        if step == 20:  # after a warm-up (cuDNN's choice of kernels)
            synchronize()
            began = time.perf_counter()
        x, y = next(loader)
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(model(x), y)
        loss.backward()
        optimizer.step()
        loss.item()
    synchronize()
    per_step = (time.perf_counter() - began) / sample_steps
    model.eval()
    began = time.perf_counter()
    with torch.no_grad():
        correct = 0.0
        for x, y in DataLoader(test, batch_size=500):
            correct += float((model(x.to(device)).argmax(1) == y.to(device)).sum())
    return per_step, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--sample-steps", type=int, default=300)
    parser.add_argument("--device", default="cuda", help="cpu: to try the script itself")
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"torch {torch.__version__}, {name}")
    common = dict(regimes=["minibatch:32:shuffle"], data_dir=args.data_dir, device=args.device)

    # 1. the recipe through descend
    recipe, study = synchronised_seconds(
        lambda: descend.compare(
            "mnist-convnet", ["adadelta:lr=0.5", "adam:lr=1e-3"], epochs=args.epochs,
            seeds=1, **common,
        )
    )  # fmt: skip
    for run in study.results:
        accuracy = run.evaluations["test_accuracy"]
        print(f"descend {run.label}: test accuracy by epoch "
              f"{', '.join(f'{float(a):.4f}' for a in accuracy[1:])}; "
              f"epoch {float(run.epoch_seconds.median()):.2f} s")  # fmt: skip
    print(f"descend: the recipe (2 runs × {args.epochs} epochs) in {recipe:.1f} s")

    # 2. the seed's way, scaled to the same work
    per_step, evaluation = seed_style_seconds(args.data_dir, args.sample_steps, args.device)
    seed_total = 2 * args.epochs * (1875 * per_step + evaluation)
    print(f"the seed's way: {per_step * 1e3:.2f} ms a step, {evaluation:.1f} s a test "
          f"evaluation: {seed_total:.1f} s for the recipe (scaled)")  # fmt: skip

    # 3. K seeds in lockstep against one
    one, _ = synchronised_seconds(
        lambda: descend.compare("mnist-convnet", ["adam:lr=1e-3"], epochs=1, seeds=1, **common)
    )
    many, study = synchronised_seconds(
        lambda: descend.compare(
            "mnist-convnet", ["adam:lr=1e-3"], epochs=1, seeds=args.seeds, **common
        )
    )
    sizes = sorted({r.group_size for r in study.results})
    print(f"1 seed: {one:.1f} s; {args.seeds} seeds (groups of {sizes}): {many:.1f} s: "
          f"lockstep ratio {args.seeds * one / many:.2f}x runs per second")  # fmt: skip
    print(f"ratio: {seed_total / recipe:.2f}x")


if __name__ == "__main__":
    main()
