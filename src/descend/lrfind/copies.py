"""What the range test trains, and how the user's things are left as they were.

The test trains a deep copy of the model with a copy of the optimizer, so the user's
model (parameters, buffers, gradients, mode) and optimizer (state, hyper-parameters) are
never touched. Randomness the test draws (data order, dropout) comes from generators
seeded per seed, inside a context that puts back the global RNGs it may move: torch's
(CPU, and the CUDA device used), Python's `random`, NumPy's, and a DataLoader's own
generator.
"""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from descend import optim
from descend.errors import DescendError
from descend.optim.lbfgs import LBFGSTorchOptimizer
from descend.optim.torch_adapter import ElementwiseTorchOptimizer

MakeOptimizer = Callable[[nn.Module], torch.optim.Optimizer]
Batch = tuple[Any, Any]


def optimizer_maker(optimizer: Any, model: nn.Module) -> MakeOptimizer:
    """A function giving a fresh optimizer for a copy of `model`, from any of:

    - a descend rule (`descend.optim.adam()`): `rule.to_torch(copy.parameters())`;
    - a torch.optim.Optimizer over `model`'s parameters: rebuilt as its class over the
      copy's parameters, group by group, with a deep copy of its state_dict loaded;
    - a factory, parameters -> torch.optim.Optimizer: a class (`torch.optim.SGD`) or a
      `functools.partial(torch.optim.SGD, momentum=0.9)`.
    Whatever lr they were given is replaced by the sweep's."""
    if isinstance(optimizer, optim.Optimizer):
        if not optimizer.lockstep:
            raise _line_search(optimizer.name)
        return lambda network: optimizer.to_torch(network.parameters())
    if isinstance(optimizer, torch.optim.Optimizer):
        _refuse_line_search(optimizer)
        names = _group_names(optimizer, model)
        state = copy.deepcopy(optimizer.state_dict())
        return lambda network: _rebuilt(optimizer, names, state, network)
    if callable(optimizer):
        return lambda network: _from_factory(optimizer, network)
    raise DescendError(
        f"Invalid optimizer: {optimizer!r} (allowed: a descend rule such as "
        "descend.optim.adam(), a torch.optim.Optimizer over the model's parameters, or a "
        "factory such as torch.optim.SGD or functools.partial(torch.optim.SGD, momentum=0.9)).",
        key="optimizer",
    )


def _group_names(optimizer: torch.optim.Optimizer, model: nn.Module) -> list[list[str]]:
    """The model's name of every parameter of every group (so the copy's can be found)."""
    name_of = {id(p): name for name, p in model.named_parameters()}
    names = [[name_of.get(id(p), "") for p in group["params"]] for group in optimizer.param_groups]
    if any("" in group for group in names):
        raise DescendError(
            "Invalid optimizer: it updates parameters that are not the model's (allowed: "
            "an optimizer made over model.parameters(), or a factory).",
            key="optimizer",
        )
    return names


def _rebuilt(
    optimizer: torch.optim.Optimizer,
    names: list[list[str]],
    state: dict[str, Any],
    network: nn.Module,
) -> torch.optim.Optimizer:
    params = dict(network.named_parameters())
    groups = [
        {**copy.deepcopy({k: v for k, v in group.items() if k != "params"}),
         "params": [params[name] for name in group_names]}
        for group, group_names in zip(optimizer.param_groups, names, strict=True)
    ]  # fmt: skip
    if isinstance(optimizer, ElementwiseTorchOptimizer):
        rebuilt = optimizer.rule.to_torch(groups)  # descend's adapter takes (params, rule)
    else:
        try:
            rebuilt = type(optimizer)(groups)
        except TypeError as problem:
            raise DescendError(
                f"Invalid optimizer: {type(optimizer).__name__} cannot be rebuilt from its "
                f"param_groups alone ({problem}); pass a factory instead, e.g. "
                f"functools.partial({type(optimizer).__name__}, ...).",
                key="optimizer",
            ) from None
    # load_state_dict keeps the tensors it is given: a fresh deep copy for every seed
    rebuilt.load_state_dict(copy.deepcopy(state))
    return rebuilt


def _from_factory(factory: Callable[..., Any], network: nn.Module) -> torch.optim.Optimizer:
    made = factory(network.parameters())
    if not isinstance(made, torch.optim.Optimizer):
        raise DescendError(
            f"Invalid optimizer: the factory {factory!r} returned {type(made).__name__}, not "
            "a torch.optim.Optimizer.",
            key="optimizer",
        )
    _refuse_line_search(made)
    return made


def _refuse_line_search(optimizer: torch.optim.Optimizer) -> None:
    if isinstance(optimizer, torch.optim.LBFGS | LBFGSTorchOptimizer):
        raise _line_search(type(optimizer).__name__)


def _line_search(name: str) -> DescendError:
    return DescendError(
        f"Invalid optimizer: {name} takes its steps by a line search on a closure, so an lr "
        "sweep does not apply (allowed: a rule that steps on gradients, e.g. "
        "descend.optim.adam() or torch.optim.SGD).",
        key="optimizer",
    )


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every group's lr (in place where it is a tensor, as fused optimizers keep it)."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


# --- data ---------------------------------------------------------------------------


def batches_from(data: Any, batch_size: int, seed: int, device: torch.device) -> Iterator[Batch]:
    """Endless batches on `device`: reshuffled epochs of `batch_size` examples from
    tensors (x, y) (a last partial batch is dropped: every update sees as many examples)
    or from a map-style Dataset; else the batches of a DataLoader or iterable, again and
    again."""
    if is_tensor_pair(data):
        x, y = data
        return _tensor_batches(x.to(device), y.to(device), batch_size, seed)
    if isinstance(data, Dataset) and not isinstance(data, IterableDataset):
        data = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=False)
    return (_to_device(batch, device) for batch in _cycled(data))


def is_tensor_pair(data: Any) -> bool:
    return (
        isinstance(data, tuple | list)
        and len(data) == 2
        and all(isinstance(t, Tensor) for t in data)
    )


def check_data(data: Any) -> None:
    """Refuse, before any work, data that is neither tensors (x, y) nor batches."""
    if is_tensor_pair(data):
        x, y = data
        if x.ndim == 0 or y.ndim == 0 or len(x) != len(y) or len(x) == 0:
            raise DescendError(
                f"Invalid data: tensors of shapes {tuple(x.shape)} and {tuple(y.shape)} "
                "(allowed: inputs and targets with the same number of examples, at least 1).",
                key="data",
            )
        return
    if not isinstance(data, Iterable | Dataset):
        raise DescendError(
            f"Invalid data: {type(data).__name__} (allowed: tensors (x, y), a Dataset, or a "
            "DataLoader or other iterable of (inputs, targets) batches).",
            key="data",
        )


def _tensor_batches(x: Tensor, y: Tensor, batch_size: int, seed: int) -> Iterator[Batch]:
    n = len(x)
    size = min(batch_size, n)
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=generator).to(x.device)
        for first in range(0, n - size + 1, size):
            chosen = order[first : first + size]
            yield x[chosen], y[chosen]


def _cycled(data: Iterable[Any]) -> Iterator[Any]:
    while True:
        count = 0
        for batch in data:
            count += 1
            yield batch
        if count == 0:
            raise DescendError(
                "Invalid data: it gave no batches (a one-shot iterator already used up?); "
                "give a DataLoader or a list of batches, which can be read again.",
                key="data",
            )


def _to_device(batch: Any, device: torch.device) -> Batch:
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise DescendError(
            f"Invalid batch: a {type(batch).__name__} (allowed: a pair (inputs, targets)).",
            key="data",
        )
    return tuple(t.to(device) if isinstance(t, Tensor) else t for t in batch)  # type: ignore[return-value]


# --- randomness ---------------------------------------------------------------------


@contextlib.contextmanager
def randomness_restored(device: torch.device, data: Any) -> Iterator[None]:
    """Whatever the block draws, the global RNGs (and a DataLoader's generator) come back
    as they were."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    generators = _data_generators(data)
    saved = [g.get_state() for g in generators]
    cuda = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        for generator, state in zip(generators, saved, strict=True):
            generator.set_state(state)


def _data_generators(data: Any) -> list[torch.Generator]:
    found = [
        getattr(data, "generator", None),
        getattr(getattr(data, "sampler", None), "generator", None),
    ]
    unique: dict[int, torch.Generator] = {}
    for g in found:
        if isinstance(g, torch.Generator):
            unique[id(g)] = g
    return list(unique.values())
