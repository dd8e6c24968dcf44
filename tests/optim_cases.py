"""Shared test material for the optimizer tests: problems, runners, comparisons.

Every runner returns the trajectory as a list of snapshots, one per step:
(params: dict[str, Tensor], state: dict[str, dict[str, Any]]), all cloned.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

import descend

Snapshot = tuple[dict[str, Tensor], dict[str, dict[str, Any]]]


@contextmanager
def float64() -> Iterator[None]:
    """torch.optim keeps some scalar state in the default dtype: make it float64 too."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@dataclass
class Problem:
    name: str
    start: dict[str, Tensor]
    loss: Callable[[dict[str, Tensor]], Tensor]


def ill_conditioned_quadratic(dim: int = 10, condition: float = 1e3, seed: int = 0) -> Problem:
    """½ wᵀHw − bᵀw with a random rotation and eigenvalues from 1/condition to 1."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    eigenvalues = torch.logspace(-math.log10(condition), 0, dim, dtype=torch.float64)
    hessian = q @ torch.diag(eigenvalues) @ q.T
    b = torch.randn(dim, generator=g, dtype=torch.float64)
    start = {"w": torch.randn(dim, generator=g, dtype=torch.float64)}

    def loss(p: dict[str, Tensor]) -> Tensor:
        w = p["w"]
        return 0.5 * w @ hessian @ w - b @ w

    return Problem("quadratic", start, loss)


def small_mlp(seed: int = 0) -> Problem:
    """MSE of a 5-8-1 tanh MLP on 32 fixed random points: four parameter tensors."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape: int, scale: float = 1.0) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=torch.float64)

    x, y = randn(32, 5), randn(32, 1)
    start = {
        "W1": randn(5, 8, scale=0.5),
        "b1": randn(8, scale=0.1),
        "W2": randn(8, 1, scale=0.5),
        "b2": randn(1, scale=0.1),
    }

    def loss(p: dict[str, Tensor]) -> Tensor:
        hidden = torch.tanh(x @ p["W1"] + p["b1"])
        return ((hidden @ p["W2"] + p["b2"] - y) ** 2).mean()

    return Problem("mlp", start, loss)


def matrix_mlp(seed: int = 0) -> Problem:
    """small_mlp's network with only matrices, biases as one-row matrices (1, n): the
    problem for rules that take matrices only (torch.optim.Muon). The 5 × 8 and 1 × 8
    matrices are wide, the 8 × 1 tall, so both orientations are exercised."""
    mlp = small_mlp(seed)
    start = {k: v.reshape(1, -1) if v.ndim == 1 else v for k, v in mlp.start.items()}
    return Problem("matrix-mlp", start, mlp.loss)


def mixed_tensors(seed: int = 0) -> Problem:
    """Parameters of every rank a rule may treat differently: a scalar, a vector, a wide
    and a tall matrix, and a stack of matrices (2, 3, 4); a smooth non-quadratic loss."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    x, y = randn(16, 5), randn(16, 3)
    start = {
        "scale": torch.tensor(0.7, dtype=torch.float64),
        "bias": 0.1 * randn(3),
        "W1": 0.5 * randn(5, 8),
        "W2": 0.5 * randn(8, 3),
        "T": randn(2, 3, 4),
    }

    def loss(p: dict[str, Tensor]) -> Tensor:
        out = p["scale"] * torch.tanh(x @ p["W1"]) @ p["W2"] + p["bias"]  # (16, 3)
        stack = torch.sin(p["T"]).sum() + 0.1 * (p["T"] ** 2).sum()
        return ((out - y) ** 2).mean() + 0.1 * stack + 0.5 * (p["scale"] - 1) ** 2

    return Problem("mixed", start, loss)


# torch.optim.Muon refuses anything but matrices: its problems keep to matrices.
MATRIX_ONLY = {"muon"}


def mlp_for(rule: str) -> Problem:
    return matrix_mlp() if rule in MATRIX_ONLY else small_mlp()


# The torch.optim class implementing the same rule, for every rule torch has.
TORCH_EQUIVALENT = {
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adamax": torch.optim.Adamax,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "rprop": torch.optim.Rprop,
    "asgd": torch.optim.ASGD,
    "lbfgs": torch.optim.LBFGS,
    "adafactor": torch.optim.Adafactor,
    "muon": torch.optim.Muon,
}

PROBLEMS = {"quadratic": ill_conditioned_quadratic, "mlp": small_mlp}


def problem_for(name: str, settings: dict) -> Problem:
    """The named problem; negated when the rule is asked to maximize, so that ascent is as
    stable as descent (ascending the MSE itself would amplify every rounding difference)."""
    problem = PROBLEMS[name]()
    if settings.get("maximize"):
        loss = problem.loss
        return Problem(f"-{problem.name}", problem.start, lambda p: -loss(p))
    return problem


def gradients(loss: Callable[[dict[str, Tensor]], Tensor], params: dict[str, Tensor]):
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    value = loss(leaves)
    grads = torch.autograd.grad(value, list(leaves.values()))
    return dict(zip(leaves, grads, strict=True))


def run_functional(opt: descend.optim.Optimizer, problem: Problem, steps: int) -> list[Snapshot]:
    params = {k: v.clone() for k, v in problem.start.items()}
    state = opt.init(params)
    trajectory = []
    for _ in range(steps):
        updates, state = opt.update(gradients(problem.loss, params), state, params)
        params = descend.optim.apply_updates(params, updates)
        trajectory.append(({k: v.clone() for k, v in params.items()}, copy.deepcopy(state)))
    return trajectory


def run_step(opt: descend.optim.Optimizer, problem: Problem, steps: int) -> list[Snapshot]:
    """`opt.step` as the engine calls it: new parameters at once, the state overwritten."""
    params = {k: v.clone() for k, v in problem.start.items()}
    state = opt.init(params)
    trajectory = []
    for _ in range(steps):
        grads = gradients(problem.loss, params)
        params, state = opt.step(grads, state, params, value_fn=problem.loss, reuse_state=True)
        trajectory.append(({k: v.clone() for k, v in params.items()}, copy.deepcopy(state)))
    return trajectory


def _torch_run(make_optimizer, problem: Problem, steps: int, make_scheduler=None):
    leaves = {k: torch.nn.Parameter(v.clone()) for k, v in problem.start.items()}
    optimizer = make_optimizer(list(leaves.values()))
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        problem.loss(leaves).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        params = {k: v.detach().clone() for k, v in leaves.items()}
        state = {k: copy.deepcopy(optimizer.state[v]) for k, v in leaves.items()}
        trajectory.append((params, state))
    return trajectory


def run_torch(torch_class, kwargs: dict, problem: Problem, steps: int, make_scheduler=None):
    return _torch_run(lambda p: torch_class(p, **kwargs), problem, steps, make_scheduler)


def run_adapter(opt: descend.optim.Optimizer, problem: Problem, steps: int, make_scheduler=None):
    return _torch_run(opt.to_torch, problem, steps, make_scheduler)


def as_tensor(value: Any) -> Tensor:
    return torch.as_tensor(value, dtype=torch.float64).detach().clone()


class Comparison:
    """|a − b| <= rtol·scale, where scale is the largest |b| this quantity has had so far:
    relative to the quantity's size, so that a state decaying towards 0 is compared
    against the size it had, not against its own vanishing values."""

    def __init__(self, rtol: float = 1e-10):
        self.rtol = rtol
        self.scale: dict[str, float] = {}
        self.worst = 0.0

    def check(self, key: str, actual: Any, expected: Any, where: str) -> None:
        a, b = as_tensor(actual), as_tensor(expected)
        assert a.shape == b.shape or a.numel() == b.numel(), f"{where} {key}: shapes differ"
        a, b = a.reshape(-1), b.reshape(-1)
        scale = max(self.scale.get(key, 0.0), float(b.abs().max()) if b.numel() else 0.0)
        self.scale[key] = scale
        error = (a - b).abs() / torch.clamp(b.abs(), min=scale)
        worst = float(error.max()) if error.numel() else 0.0
        self.worst = max(self.worst, worst)
        assert worst <= self.rtol, f"{where} {key}: relative difference {worst:.3g}"


def compare_trajectories(
    ours: list[Snapshot], reference: list[Snapshot], rtol: float = 1e-10, skip: tuple[str, ...] = ()
) -> float:
    """Compare params and every state entry the reference has, at every step."""
    assert len(ours) == len(reference)
    comparison = Comparison(rtol)
    for step, ((p_ours, s_ours), (p_ref, s_ref)) in enumerate(zip(ours, reference, strict=True)):
        for name in p_ref:
            comparison.check(f"param {name}", p_ours[name], p_ref[name], f"step {step + 1}")
            for key, value in s_ref[name].items():
                if key in skip:
                    continue
                assert key in s_ours[name], f"state {key!r} missing for {name}"
                comparison.check(f"{name}.{key}", s_ours[name][key], value, f"step {step + 1}")
    return comparison.worst
