"""`lr_find`: the learning-rate range test (L. N. Smith, "Cyclical
Learning Rates for Training Neural Networks", 2017, §3.3).

From the same initial weights, the lr grows at every update from `start` to `end`,
exponentially or linearly, while the loss of each batch is recorded; the sweep stops
early once the smoothed loss passes `diverge` × its best so far. Each seed repeats the
sweep with its own data order and dropout masks.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from descend import checks, provenance
from descend.engine.backends import check_device
from descend.errors import DescendError
from descend.lrfind import copies, curves
from descend.lrfind.result import LRFindResult, SeedCurve

LossFn = Callable[[Any, Any], torch.Tensor]


def lr_find(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    optimizer: Any,
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    mode: str = "exp",
    smooth: float = 0.05,
    diverge: float | None = 5.0,
    seeds: int | Sequence[int] = 1,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    title: str = "",
) -> LRFindResult:
    """Sweep the lr over `steps` updates of a copy of `model`; returns the curves and
    the suggested lrs (`result.suggestion`, `result.suggestions`, `result.plot()`).

    data: tensors (x, y), a Dataset (both batched by `batch_size`, reshuffled per seed),
    or a DataLoader / iterable of (inputs, targets) batches. loss_fn(model(inputs),
    targets) -> scalar. optimizer: a descend rule, a torch.optim.Optimizer over
    `model.parameters()` (its state is copied), or a factory such as torch.optim.SGD
    (see `copies.optimizer_maker`). smooth: the smoothing factor in [0, 1), 0 for none.
    diverge: stop when the smoothed loss exceeds this multiple of its best (None: never).
    seeds: a count (0, 1, ...) or a list; each seed draws its own data order and dropout.
    `model` and `optimizer` are left exactly as they were, and so are the global RNGs.
    """
    settings = checked_settings(start, end, steps, mode, smooth, diverge, batch_size)
    seed_list = seed_list_of(seeds)
    where = check_device(device)
    if not isinstance(model, nn.Module):
        raise DescendError(f"Invalid model: {type(model).__name__} (allowed: an nn.Module).")
    if not callable(loss_fn):
        raise DescendError(f"Invalid loss_fn: {loss_fn!r} (allowed: loss_fn(output, target)).")
    copies.check_data(data)
    make_optimizer = copies.optimizer_maker(optimizer, model)
    lrs = curves.sweep(start, end, steps, mode)
    runs, records = [], []
    with copies.randomness_restored(where, data):
        for seed in seed_list:
            began = time.perf_counter()  # (each update reads its loss: the device is synced)
            runs.append(_one_seed(model, loss_fn, data, make_optimizer, lrs, settings, seed, where))
            records.append(provenance.record(
                device=str(where), dtype=_dtype(model), threads=torch.get_num_threads(),
                seed=seed, init_seed=None, wall_time=time.perf_counter() - began,
            ))  # fmt: skip
    return LRFindResult(
        lrs=lrs,
        curves=runs,
        mode=mode,
        smooth=smooth,
        diverge=diverge,
        title=title or f"Learning-rate range test: {optimizer_name(optimizer)}",
        what=_what(model, optimizer, data, batch_size, where),
        provenance=records,
    )


def _one_seed(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    make_optimizer: copies.MakeOptimizer,
    lrs: Any,
    settings: dict[str, Any],
    seed: int,
    device: torch.device,
) -> SeedCurve:
    """One sweep on a fresh copy; torch's global RNG (dropout, a DataLoader's shuffle)
    seeded by `seed` inside the caller's fork of it."""
    torch.manual_seed(seed)
    network = copy.deepcopy(model).to(device).train()
    optimizer = make_optimizer(network)
    batches = copies.batches_from(data, settings["batch_size"], seed, device)
    raw: list[float] = []
    smoothed: list[float] = []
    stop, previous = "", None
    with torch.enable_grad():
        for lr, (inputs, targets) in zip(lrs, batches, strict=False):  # batches never end
            copies.set_lr(optimizer, float(lr))
            optimizer.zero_grad(set_to_none=True)
            loss = _scalar(loss_fn(network(inputs), targets))
            raw.append(float(loss.detach()))
            previous = curves.smooth_next(previous, raw[-1], settings["smooth"])
            smoothed.append(previous)
            stop = _stop(smoothed, settings["diverge"])
            if stop:
                break
            loss.backward()
            optimizer.step()
    return SeedCurve(seed, np.array(raw, dtype=np.float64), np.array(smoothed), stop)


def _scalar(loss: Any) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise DescendError(
            f"Invalid loss_fn: it returned {shape} (allowed: a tensor with one value, e.g. "
            "a mean over the batch).",
            key="loss_fn",
        )
    return loss


def _stop(smoothed: list[float], diverge: float | None) -> str:
    """Why the sweep stops here ('' to go on): a non-finite loss, or a smoothed loss
    above `diverge` × the best so far (torch-lr-finder's test, the point kept)."""
    last = smoothed[-1]
    if not math.isfinite(last):
        return "non-finite loss"
    if diverge is not None and last > diverge * min(smoothed):
        return f"smoothed loss > {diverge:g} × its best"
    return ""


def checked_settings(
    start: Any, end: Any, steps: Any, mode: Any, smooth: Any, diverge: Any, batch_size: Any
) -> dict[str, Any]:
    """Every setting checked before any work (one message, naming the setting)."""
    checks.number("start", start, 0.0, low_open=True)
    checks.number("end", end, 0.0, low_open=True)
    if start >= end:
        raise DescendError(
            f"Invalid lr range: start {start:g} >= end {end:g} (allowed: 0 < start < end).",
            key="start",
        )
    checks.integer("steps", steps, low=2)
    checks.choice("mode", mode, curves.MODES)
    checks.number("smooth", smooth, 0.0)
    if smooth >= 1:
        raise checks.invalid("smooth", smooth, "a number in [0, 1); 0 for no smoothing")
    if diverge is not None:
        checks.number("diverge", diverge, 1.0, low_open=True)
    checks.integer("batch_size", batch_size, low=1)
    return {"smooth": float(smooth), "diverge": diverge, "batch_size": batch_size}


def seed_list_of(seeds: Any) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        return list(range(checks.integer("seeds", seeds, low=1)))
    try:
        chosen = [checks.integer("seeds", s) for s in seeds]
    except TypeError:
        chosen = []
    if not chosen or len(set(chosen)) != len(chosen):
        raise checks.invalid("seeds", seeds, "a count >= 1 or a list of distinct integers")
    return chosen


def optimizer_name(optimizer: Any) -> str:
    if isinstance(optimizer, torch.optim.Optimizer):
        return type(optimizer).__name__
    label = getattr(optimizer, "label", None)
    if isinstance(label, str):
        return label
    func = getattr(optimizer, "func", optimizer)  # a functools.partial: its class
    return getattr(func, "__name__", type(optimizer).__name__)


def _what(model: nn.Module, optimizer: Any, data: Any, batch_size: int, device: Any) -> str:
    size = sum(p.numel() for p in model.parameters())
    if copies.is_tensor_pair(data):
        n = len(data[0])
        feed = f"{n} examples in reshuffled batches of {min(batch_size, n)}"
    else:
        feed = f"batches from a {type(data).__name__}"
    return (
        f"Model: {type(model).__name__} ({size:,} parameters); optimizer: "
        f"{optimizer_name(optimizer)}; data: {feed}; device: {device}."
    )


def _dtype(model: nn.Module) -> str:
    first = next(iter(model.parameters()), None)
    return "?" if first is None else str(first.dtype).removeprefix("torch.")
