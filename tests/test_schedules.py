"""Schedules against torch.optim.lr_scheduler (the lr torch gives each optimizer.step(),
200 steps, float64), hand-computed values where torch has no equivalent, every quirk where
the two differ, run-wise tensor learning rates, pickling, repr, the registry, and every
validation error with its message."""

from __future__ import annotations

import inspect
import io
import math
import pickle
import re
import warnings
from collections.abc import Callable

import pytest
import torch
from torch.optim import lr_scheduler as ts

import descend
from descend import schedules
from descend.errors import HyperparameterError, UnknownNameError
from descend.schedules import (
    Schedule,
    constant,
    cosine,
    cosine_warm_restarts,
    cyclic,
    exponential,
    lambda_lr,
    linear,
    linear_decay,
    multistep,
    one_cycle,
    polynomial,
    sequential,
    step,
    warmup,
)

STEPS = 200
LR = 0.1
KNOWN = (
    "constant, cosine, cosine_warm_restarts, cyclic, exponential, lambda, linear, "
    "linear_decay, multistep, one_cycle, per_epoch, polynomial, reduce_on_plateau, "
    "sequential, step, warmup"
)
TorchFactory = Callable[[torch.optim.Optimizer], ts.LRScheduler]


def torch_lrs(make_scheduler: TorchFactory, steps: int = STEPS, lr: float = LR) -> list[float]:
    """The lr torch's scheduler gives each of `steps` optimizer steps, in order."""
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's warnings about its own deprecated paths
        scheduler = make_scheduler(optimizer)
        lrs = []
        for k in range(steps):
            if k > 0:  # the scheduler steps after each optimizer step, as torch asks
                optimizer.step()
                scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


def lrs_of(schedule: Callable[[int], float], steps: int = STEPS, start: int = 0) -> list[float]:
    return [float(schedule(k)) for k in range(start, steps)]


def assert_matches(ours: list[float], reference: list[float], lr: float = LR) -> None:
    """Equal to 1e-10 relative; near 0, to 1e-10 of a floor of lr/1000."""
    assert len(ours) == len(reference)
    for k, (a, b) in enumerate(zip(ours, reference, strict=True)):
        assert abs(a - b) <= 1e-10 * max(abs(b), 1e-3 * lr), f"step {k}: {a!r} vs {b!r}"


def relative_gap(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def half(k: int) -> float:
    return 0.5


def decay(k: int) -> float:
    return 0.95**k


def harmonic(k: int) -> float:
    return 1 / (1 + k)


def torch_cyclic(opt: torch.optim.Optimizer, *args: object, **kwargs: object) -> ts.CyclicLR:
    return ts.CyclicLR(opt, *args, cycle_momentum=False, **kwargs)  # type: ignore[arg-type]


def torch_one_cycle(opt: torch.optim.Optimizer, *args: object, **kwargs: object) -> ts.OneCycleLR:
    return ts.OneCycleLR(opt, *args, cycle_momentum=False, **kwargs)  # type: ignore[arg-type]


def warmup_in_torch(steps: int, start_factor: float, then: TorchFactory) -> TorchFactory:
    """Torch's way to write `warmup`: SequentialLR([LinearLR, then], [steps])."""
    return lambda opt: ts.SequentialLR(
        opt, [ts.LinearLR(opt, start_factor, total_iters=steps), then(opt)], milestones=[steps]
    )


# --- parity with torch: (ours, torch's scheduler on SGD(lr=LR), steps compared) ----------

PARITY = [
    (constant(LR), lambda o: ts.ConstantLR(o, factor=1.0, total_iters=0)),
    (constant(LR, factor=1 / 3, total_iters=5), lambda o: ts.ConstantLR(o)),
    (constant(LR, factor=0.5, total_iters=40), lambda o: ts.ConstantLR(o, 0.5, 40)),
    (linear(LR), lambda o: ts.LinearLR(o)),
    (linear(LR, 0.5, 0.1, 30), lambda o: ts.LinearLR(o, 0.5, 0.1, 30)),
    (linear(LR, 1.0, 0.0, 100), lambda o: ts.LinearLR(o, 1.0, 0.0, 100)),
    (linear(LR, 0.01, 1.0, 1), lambda o: ts.LinearLR(o, 0.01, 1.0, 1)),
    (step(LR, 7, 0.5), lambda o: ts.StepLR(o, 7, 0.5)),
    (step(LR, 30), lambda o: ts.StepLR(o, 30)),
    (step(LR, 1, 0.97), lambda o: ts.StepLR(o, 1, 0.97)),
    (multistep(LR, [10, 50, 120]), lambda o: ts.MultiStepLR(o, [10, 50, 120])),
    (multistep(LR, [0, 3, 3, 60], 0.5), lambda o: ts.MultiStepLR(o, [0, 3, 3, 60], 0.5)),
    (exponential(LR, 0.97), lambda o: ts.ExponentialLR(o, 0.97)),
    (exponential(LR, 0.5), lambda o: ts.ExponentialLR(o, 0.5)),
    (exponential(LR, 1.0), lambda o: ts.ExponentialLR(o, 1.0)),
    (polynomial(LR), lambda o: ts.PolynomialLR(o)),
    (polynomial(LR, 150, 2.0), lambda o: ts.PolynomialLR(o, 150, 2.0)),
    (polynomial(LR, 60, 0.5), lambda o: ts.PolynomialLR(o, 60, 0.5)),
    # cosine: T_max small enough to pass many half-periods (and so many minima) in 200 steps
    (cosine(LR, 10), lambda o: ts.CosineAnnealingLR(o, 10)),  # seed 003
    (cosine(LR, 1), lambda o: ts.CosineAnnealingLR(o, 1)),
    (cosine(LR, 3, 0.01), lambda o: ts.CosineAnnealingLR(o, 3, 0.01)),
    (cosine(LR, 7, 0.001), lambda o: ts.CosineAnnealingLR(o, 7, 0.001)),
    (cosine(LR, 25, 0.01), lambda o: ts.CosineAnnealingLR(o, 25, 0.01)),
    (
        cosine_warm_restarts(LR, 10, 1, 0.01),
        lambda o: ts.CosineAnnealingWarmRestarts(o, 10, 1, 0.01),
    ),
    (
        cosine_warm_restarts(LR, 10, 2, 0.01),
        lambda o: ts.CosineAnnealingWarmRestarts(o, 10, 2, 0.01),
    ),
    (cosine_warm_restarts(LR, 1), lambda o: ts.CosineAnnealingWarmRestarts(o, 1)),
    (cosine_warm_restarts(LR, 3, 3), lambda o: ts.CosineAnnealingWarmRestarts(o, 3, 3)),
    (
        cosine_warm_restarts(LR, 1, 2, 0.001),
        lambda o: ts.CosineAnnealingWarmRestarts(o, 1, 2, 0.001),
    ),
    (cyclic(0.01, LR, 10), lambda o: torch_cyclic(o, 0.01, LR, 10)),
    (cyclic(0.01, LR, 10, 15), lambda o: torch_cyclic(o, 0.01, LR, 10, 15)),
    (
        cyclic(0.01, LR, 7, 3, "triangular2"),
        lambda o: torch_cyclic(o, 0.01, LR, 7, 3, "triangular2"),
    ),
    (
        cyclic(0.01, LR, 1, 1, "triangular2"),
        lambda o: torch_cyclic(o, 0.01, LR, 1, 1, "triangular2"),
    ),
    (
        cyclic(0.01, LR, 20, mode="exp_range", gamma=0.99),
        lambda o: torch_cyclic(o, 0.01, LR, 20, mode="exp_range", gamma=0.99),
    ),
    (cyclic(0.01, LR, 5, 0), lambda o: torch_cyclic(o, 0.01, LR, 5, 0)),
    (one_cycle(LR, 200), lambda o: torch_one_cycle(o, LR, 200)),
    (
        one_cycle(LR, 200, 0.25, "linear"),
        lambda o: torch_one_cycle(o, LR, 200, pct_start=0.25, anneal_strategy="linear"),
    ),
    (one_cycle(LR, 200, three_phase=True), lambda o: torch_one_cycle(o, LR, 200, three_phase=True)),
    (
        one_cycle(LR, 200, 0.4, "linear", three_phase=True),
        lambda o: torch_one_cycle(
            o, LR, 200, pct_start=0.4, anneal_strategy="linear", three_phase=True
        ),
    ),
    (
        one_cycle(LR, 200, div_factor=10.0, final_div_factor=100.0),
        lambda o: torch_one_cycle(o, LR, 200, div_factor=10.0, final_div_factor=100.0),
    ),
    (one_cycle(LR, 200, 0.0), lambda o: torch_one_cycle(o, LR, 200, pct_start=0.0)),
    (
        one_cycle(LR, 200, 0.7, three_phase=True),
        lambda o: torch_one_cycle(o, LR, 200, pct_start=0.7, three_phase=True),
    ),
    (one_cycle(LR, 1), lambda o: torch_one_cycle(o, LR, 1)),
    (one_cycle(LR, 150, 0.1), lambda o: torch_one_cycle(o, LR, 150, pct_start=0.1)),
    (lambda_lr(LR, decay), lambda o: ts.LambdaLR(o, decay)),
    (lambda_lr(LR, harmonic), lambda o: ts.LambdaLR(o, harmonic)),
    (
        warmup(LR, 10, 0.01, then=cosine(LR, 50)),
        warmup_in_torch(10, 0.01, lambda o: ts.CosineAnnealingLR(o, 50)),
    ),
    (warmup(LR, 5, 0.1), warmup_in_torch(5, 0.1, lambda o: ts.ConstantLR(o, 1.0, 0))),
    (
        warmup(LR, 20, 0.25, then=exponential(LR, 0.98)),
        warmup_in_torch(20, 0.25, lambda o: ts.ExponentialLR(o, 0.98)),
    ),
    (
        warmup(LR, 7, 0.3, then=cosine_warm_restarts(LR, 10, 2, 0.001)),
        warmup_in_torch(7, 0.3, lambda o: ts.CosineAnnealingWarmRestarts(o, 10, 2, 0.001)),
    ),
    (
        warmup(LR, 7, 0.3, then=cyclic(LR, 0.2, 10)),
        warmup_in_torch(7, 0.3, lambda o: torch_cyclic(o, LR, 0.2, 10)),
    ),
    (
        sequential([linear(LR, 0.1, 1.0, 10), cosine(LR, 40)], [10]),
        lambda o: ts.SequentialLR(
            o, [ts.LinearLR(o, 0.1, 1.0, 10), ts.CosineAnnealingLR(o, 40)], [10]
        ),
    ),
    (
        sequential([step(LR, 5, 0.5), exponential(LR, 0.95), multistep(LR, [10, 20])], [30, 90]),
        lambda o: ts.SequentialLR(
            o,
            [ts.StepLR(o, 5, 0.5), ts.ExponentialLR(o, 0.95), ts.MultiStepLR(o, [10, 20])],
            [30, 90],
        ),
    ),
    (
        sequential([exponential(LR, 0.9), cosine(LR, 20, 0.001)], [15]),
        lambda o: ts.SequentialLR(
            o, [ts.ExponentialLR(o, 0.9), ts.CosineAnnealingLR(o, 20, 0.001)], [15]
        ),
    ),
    (
        sequential(
            [constant(LR, 0.5, 5), linear(LR, 0.5, 1.0, 5), polynomial(LR, 50, 2.0)], [10, 20]
        ),
        lambda o: ts.SequentialLR(
            o,
            [ts.ConstantLR(o, 0.5, 5), ts.LinearLR(o, 0.5, 1.0, 5), ts.PolynomialLR(o, 50, 2.0)],
            [10, 20],
        ),
    ),
    (
        sequential(
            [cosine_warm_restarts(LR, 5, 2, 0.01), lambda_lr(LR, harmonic), step(LR, 3)], [35, 80]
        ),
        lambda o: ts.SequentialLR(
            o,
            [
                ts.CosineAnnealingWarmRestarts(o, 5, 2, 0.01),
                ts.LambdaLR(o, harmonic),
                ts.StepLR(o, 3),
            ],
            [35, 80],
        ),
    ),
    (
        sequential(
            [linear(LR, 0.1, 1.0, 10), cyclic(0.01, LR, 10), exponential(LR, 0.9)], [10, 50]
        ),
        lambda o: ts.SequentialLR(
            o,
            [ts.LinearLR(o, 0.1, 1.0, 10), torch_cyclic(o, 0.01, LR, 10), ts.ExponentialLR(o, 0.9)],
            [10, 50],
        ),
    ),
    (
        sequential([cosine(LR, 10, 0.01), cosine(LR, 10, 0.01)], [10]),
        lambda o: ts.SequentialLR(
            o, [ts.CosineAnnealingLR(o, 10, 0.01), ts.CosineAnnealingLR(o, 10, 0.01)], [10]
        ),
    ),
]


@pytest.mark.parametrize(("ours", "make_torch"), PARITY, ids=[repr(s) for s, _ in PARITY])
def test_matches_torch_scheduler(ours: Schedule, make_torch: TorchFactory) -> None:
    # OneCycleLR is defined for total_steps updates (torch raises past them).
    steps = min(STEPS, ours.params.get("total_steps", STEPS))
    assert_matches(lrs_of(ours, steps), torch_lrs(make_torch, steps))


def test_parity_covers_every_schedule_with_a_torch_equivalent() -> None:
    covered = {ours.name for ours, _ in PARITY}
    # linear_decay: Goodfellow's, no torch one; per_epoch and reduce_on_plateau have their own
    # tests (tests/test_schedules_in_studies.py)
    assert covered == set(schedules.names()) - {"linear_decay", "per_epoch", "reduce_on_plateau"}


# --- where torch differs: each difference pinned down --------------------------------------


def test_cosine_closed_form_vs_torch_recursion_drift_after_a_minimum() -> None:
    """Torch's recursive cosine loses precision after each minimum when eta_min > 0 (see
    `cosine`): the drift is below 1e-12 before the first minimum, above 1e-10 after it for
    T_max = 10 000, while the closed form stays at the exact value."""
    mpmath = pytest.importorskip("mpmath")  # high-precision reference (ships with sympy/torch)
    mpmath.mp.dps = 40
    T_max, eta_min = 10_000, 0.01
    ours = cosine(LR, T_max, eta_min)
    theirs = torch_lrs(lambda o: ts.CosineAnnealingLR(o, T_max, eta_min), 2 * T_max + 1)

    def exact(k: int) -> float:
        eta = mpmath.mpf(eta_min)
        return float(eta + (mpmath.mpf(LR) - eta) * (1 + mpmath.cos(mpmath.pi * k / T_max)) / 2)

    before_minimum = max(relative_gap(theirs[k], ours(k)) for k in range(T_max + 1))
    after_minimum = max(relative_gap(theirs[k], ours(k)) for k in range(T_max + 1, 2 * T_max + 1))
    assert before_minimum < 1e-12
    assert 1e-10 < after_minimum < 1e-8
    assert max(relative_gap(ours(k), exact(k)) for k in range(0, 2 * T_max + 1, 7)) < 1e-14
    assert relative_gap(theirs[2 * T_max], exact(2 * T_max)) > 1e-10  # torch's is the one off


def test_cosine_without_eta_min_agrees_with_torch_for_long_periods() -> None:
    T_max = 10_000  # with eta_min = 0 the minimum is exactly 0 and the recursion restarts clean
    theirs = torch_lrs(lambda o: ts.CosineAnnealingLR(o, T_max), 2 * T_max + 1)
    gaps = [relative_gap(cosine(LR, T_max)(k), lr) for k, lr in enumerate(theirs) if lr != 0]
    assert max(gaps) < 1e-12
    assert theirs[T_max] == cosine(LR, T_max)(T_max) == 0.0


def test_constant_with_total_iters_0_is_lr_where_torch_keeps_the_factor() -> None:
    ours = constant(LR, factor=0.5, total_iters=0)
    assert lrs_of(ours, 20) == [LR] * 20
    assert torch_lrs(lambda o: ts.ConstantLR(o, 0.5, 0), 20) == [LR * 0.5] * 20  # torch's quirk


def test_constant_with_factor_0() -> None:
    assert lrs_of(constant(LR, factor=0.0, total_iters=3), 5) == [0.0, 0.0, 0.0, LR, LR]
    with pytest.raises(ZeroDivisionError):  # torch's recursion divides by the factor
        torch_lrs(lambda o: ts.ConstantLR(o, 0.0, 3), 5)


def test_linear_accepts_what_torch_linear_refuses() -> None:
    assert lrs_of(linear(LR, 0.0, 2.0, 4), 6) == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2, 0.2])
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        torch_lrs(lambda o: ts.LinearLR(o, 0.0, 1.0, 4), 1)


def test_one_cycle_holds_its_final_lr_after_total_steps() -> None:
    total = 50
    ours = one_cycle(LR, total)
    final = LR / 25 / 1e4
    theirs = torch_lrs(lambda o: torch_one_cycle(o, LR, total), total + 1)
    assert_matches(lrs_of(ours, total), theirs[:total])
    assert ours(total - 1) == pytest.approx(final, rel=1e-12)
    assert [ours(k) for k in (total, total + 1, 10 * total)] == [pytest.approx(final)] * 3
    assert relative_gap(theirs[total], final) > 1e-3  # torch extrapolates one step past it
    with pytest.raises(ValueError, match="Tried to step 51 times"):  # ... and then raises
        torch_lrs(lambda o: torch_one_cycle(o, LR, total), total + 2)


def test_one_cycle_phase_of_zero_length_is_at_its_end() -> None:
    ours = one_cycle(LR, 10, pct_start=0.1)  # warm-up phase ends where it starts: at step 0
    assert ours(0) == LR
    assert ours(9) == pytest.approx(LR / 25 / 1e4)
    with pytest.raises(ZeroDivisionError):
        torch_lrs(lambda o: torch_one_cycle(o, LR, 10, pct_start=0.1), 1)


def test_sequential_vs_torch_when_a_one_cycle_child_rewrites_initial_lr() -> None:
    # Torch's OneCycleLR sets the group's initial_lr to max_lr/div_factor when constructed,
    # and SequentialLR restarts the LinearLR before it from that lr: 25 times too small.
    ours = sequential([linear(LR, 0.1, 1.0, 10), one_cycle(LR, 190)], [10])
    theirs = torch_lrs(
        lambda o: ts.SequentialLR(
            o, [ts.LinearLR(o, 0.1, 1.0, 10), torch_one_cycle(o, LR, 190)], [10]
        )
    )
    assert_matches([lr / 25 for lr in lrs_of(ours, 10)], theirs[:10])
    assert_matches(lrs_of(ours, STEPS, start=10), theirs[10:])


def test_sequential_vs_torch_when_a_cyclic_child_comes_first() -> None:
    # Torch's CyclicLR sets the group's lr to its base_lr before torch records initial_lr:
    # the LinearLR after it then scales 0.01 instead of the optimizer's 0.1.
    ours = sequential([cyclic(0.01, LR, 10), linear(LR, 0.1, 1.0, 10)], [30])
    theirs = torch_lrs(
        lambda o: ts.SequentialLR(
            o, [torch_cyclic(o, 0.01, LR, 10), ts.LinearLR(o, 0.1, 1.0, 10)], [30]
        )
    )
    assert_matches(lrs_of(ours, 30), theirs[:30])
    assert_matches(lrs_of(linear(0.01, 0.1, 1.0, 10), STEPS - 30), theirs[30:])


def test_nested_sequential_where_torch_skips_a_step_or_raises() -> None:
    inner = sequential([exponential(LR, 0.9), cosine(LR, 20)], [5])
    ours = sequential([inner, linear(LR, 0.1, 1.0, 10)], [30])
    assert lrs_of(ours, 30) == lrs_of(inner, 30)
    assert_matches(lrs_of(ours, STEPS, start=30), lrs_of(linear(LR, 0.1, 1.0, 10), STEPS - 30))

    def torch_inner(o: torch.optim.Optimizer) -> ts.SequentialLR:
        return ts.SequentialLR(o, [ts.ExponentialLR(o, 0.9), ts.CosineAnnealingLR(o, 20)], [5])

    theirs = torch_lrs(
        lambda o: ts.SequentialLR(o, [torch_inner(o), ts.LinearLR(o, 0.1, 1.0, 10)], [30])
    )
    assert_matches(lrs_of(inner, 31, start=1), theirs[:30])  # torch's inner one step ahead
    assert_matches(lrs_of(ours, STEPS, start=30), theirs[30:])
    with pytest.raises(NotImplementedError):  # as a later child, torch fails at its milestone
        torch_lrs(lambda o: ts.SequentialLR(o, [ts.LinearLR(o, 0.1), torch_inner(o)], [10]), 11)


# --- hand-computed values --------------------------------------------------------------


def test_linear_decay_goodfellow_by_hand() -> None:
    # ε_k = (1 − k/τ)·ε_0 + (k/τ)·ε_τ, ε_τ = ε_0/100 by default, constant from k = τ.
    lr_at = linear_decay(lr=0.1, tau=100)
    assert lr_at(0) == 0.1
    assert lr_at(25) == pytest.approx(0.75 * 0.1 + 0.25 * 0.001, rel=1e-14)  # 0.07525
    assert lr_at(50) == pytest.approx(0.0505, rel=1e-14)
    assert lr_at(99) == pytest.approx(0.00199, rel=1e-14)
    assert [lr_at(k) for k in (100, 101, 10_000)] == [pytest.approx(0.001, rel=1e-15)] * 3
    short = linear_decay(lr=0.1, tau=4, final_lr=0.02)
    assert lrs_of(short, 7) == pytest.approx([0.1, 0.08, 0.06, 0.04, 0.02, 0.02, 0.02])


def test_warmup_from_zero_by_hand() -> None:
    assert lrs_of(warmup(LR, 4), 6) == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1, 0.1])
    then = exponential(LR, 0.5)
    assert lrs_of(warmup(LR, 2, then=then), 5) == pytest.approx([0.0, 0.05, 0.1, 0.05, 0.025])
    assert lrs_of(warmup(LR, 0, then=then), 5) == lrs_of(then, 5)  # no warm-up at all


def test_warm_restarts_cycles_are_exact_for_huge_steps() -> None:
    # Restarts at k = T_0·(2^n − 1): lr exactly; just before each, the cycle's last step.
    lr_at = cosine_warm_restarts(LR, T_0=10, T_mult=2, eta_min=0.01)
    for n in (1, 10, 40, 70):
        restart, last_length = 10 * (2**n - 1), 10 * 2 ** (n - 1)
        assert lr_at(restart) == LR
        last_cycle = cosine(LR, T_max=last_length, eta_min=0.01)
        assert lr_at(restart - 1) == last_cycle(last_length - 1)
        assert lr_at(restart - last_length) == LR  # that cycle's own restart


def test_cyclic_triangular2_halves_the_amplitude_each_cycle() -> None:
    lr_at = cyclic(0.0, 1.0, step_size_up=2, step_size_down=2, mode="triangular2")
    assert lrs_of(lr_at, 12) == [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5, 0.25, 0.0, 0.125, 0.25, 0.125]
    assert lr_at(4 * 1000 + 2) == 0.5**1000  # peak of cycle 1000, integer bookkeeping


# --- run-wise tensor learning rates -------------------------------------------------------

LRS = (0.1, 0.05, 0.2)
TENSOR_CASES: dict[str, Callable[[float | torch.Tensor, float | torch.Tensor], Schedule]] = {
    "constant": lambda lr, low: constant(lr, 0.5, 3),
    "linear": lambda lr, low: linear(lr, 0.2, 0.9, 7),
    "linear_decay": lambda lr, low: linear_decay(lr, 9, final_lr=low),
    "linear_decay_default": lambda lr, low: linear_decay(lr, 9),
    "step": lambda lr, low: step(lr, 3, 0.5),
    "multistep": lambda lr, low: multistep(lr, [2, 5, 5]),
    "exponential": lambda lr, low: exponential(lr, 0.9),
    "polynomial": lambda lr, low: polynomial(lr, 8, 2.0),
    "cosine": lambda lr, low: cosine(lr, 6, eta_min=low),
    "cosine_warm_restarts": lambda lr, low: cosine_warm_restarts(lr, 3, 2, eta_min=low),
    "cyclic": lambda lr, low: cyclic(low, max_lr=lr, step_size_up=4, mode="triangular2"),
    "cyclic_exp_range": lambda lr, low: cyclic(low, lr, 3, 5, "exp_range", 0.9),
    "one_cycle": lambda lr, low: one_cycle(lr, 20, three_phase=True),
    "one_cycle_linear": lambda lr, low: one_cycle(lr, 20, anneal_strategy="linear"),
    "lambda": lambda lr, low: lambda_lr(lr, decay),
    "warmup": lambda lr, low: warmup(lr, 4, then=cosine(lr, 5, low)),
    "sequential": lambda lr, low: sequential([constant(lr, 0.1, 2), step(lr, 2)], [3]),
    "per_epoch": lambda lr, low: schedules.per_epoch(cosine(lr, 4, low), 3),
}


@pytest.mark.parametrize("name", TENSOR_CASES)
def test_tensor_lr_gives_the_runs_their_scalar_schedules(name: str) -> None:
    make = TENSOR_CASES[name]
    lrs = torch.tensor(LRS, dtype=torch.float64)
    run_wise = make(lrs, lrs / 10)
    one_by_one = [make(lr, lr / 10) for lr in LRS]
    for k in range(40):
        values = run_wise(k)
        assert isinstance(values, torch.Tensor) and values.shape == (3,)
        expected = torch.tensor([float(s(k)) for s in one_by_one], dtype=torch.float64)
        torch.testing.assert_close(values, expected, rtol=1e-14, atol=1e-18)


@pytest.mark.parametrize("name", TENSOR_CASES)
def test_integer_tensor_lr_keeps_every_digit_under_a_float32_default(name: str) -> None:
    """Integer tensors times Python floats would give the default dtype (float32 here)."""
    make = TENSOR_CASES[name]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        run_wise = make(torch.tensor([1, 2, 3]), torch.tensor([0, 0, 0]))
        one_by_one = [make(float(lr), 0.0) for lr in (1, 2, 3)]
        for k in range(40):
            values = run_wise(k)
            assert values.dtype == torch.float64, f"step {k}: {values.dtype}"
            expected = torch.tensor([float(s(k)) for s in one_by_one], dtype=torch.float64)
            torch.testing.assert_close(values, expected, rtol=1e-14, atol=1e-18)
    finally:
        torch.set_default_dtype(previous)


def test_tensor_cases_cover_every_schedule() -> None:
    names = {make(0.1, 0.01).name for make in TENSOR_CASES.values()}
    # reduce_on_plateau: run-wise through its PlateauState (tests/test_schedules_in_studies.py)
    assert names == set(schedules.names()) - {"reduce_on_plateau"}


# --- pickling, repr, registry -----------------------------------------------------------


def test_pickle_round_trip() -> None:
    nested = warmup(
        LR, 5, then=sequential([cosine_warm_restarts(LR, 10, 2, 0.01), step(LR, 3)], [50])
    )
    for schedule in (cosine_warm_restarts(LR, 10, 2, 0.01), nested, lambda_lr(LR, decay)):
        copy = pickle.loads(pickle.dumps(schedule))
        assert copy == schedule and copy is not schedule
        assert lrs_of(copy, 120) == lrs_of(schedule, 120)


def test_torch_save_of_an_optimizer_holding_a_schedule() -> None:
    schedule = cosine_warm_restarts(LR, 10, 2, 0.01)
    param = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = descend.optim.sgd(lr=schedule, momentum=0.9).to_torch([param])
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert loaded["param_groups"][0]["lr"] == schedule
    assert loaded["param_groups"][0]["lr"](17) == schedule(17)


def test_a_lambda_lr_with_a_lambda_does_not_pickle() -> None:
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(lambda_lr(LR, lambda k: 0.5))


def test_schedule_is_frozen() -> None:
    with pytest.raises(AttributeError):
        cosine(LR, 10).name = "step"  # type: ignore[misc]


def test_repr() -> None:
    assert (
        repr(cosine_warm_restarts(lr=0.1, T_0=10, T_mult=2, eta_min=0.01))
        == "cosine_warm_restarts(lr=0.1, T_0=10, T_mult=2, eta_min=0.01)"
    )
    assert repr(cosine(0.1, 10)) == "cosine(lr=0.1, T_max=10, eta_min=0.0)"
    run_wise = cosine(torch.tensor([0.1, 0.2], dtype=torch.float64), 10)
    assert repr(run_wise) == "cosine(lr=tensor([0.1, 0.2]), T_max=10, eta_min=0.0)"
    assert repr(lambda_lr(0.1, half)) == "lambda(lr=0.1, lr_lambda=half)"
    assert repr(sequential([warmup(0.1, 5), multistep(0.1, (3, 6))], [5])) == (
        "sequential(schedules=[warmup(lr=0.1, warmup_steps=5, start_factor=0.0, then=None), "
        "multistep(lr=0.1, milestones=[3, 6], gamma=0.1)], milestones=[5])"
    )


@pytest.mark.parametrize(
    "schedule",
    [
        cosine_warm_restarts(0.1, 10, 2, 0.01),
        sequential([warmup(0.1, 5), multistep(0.1, [3, 6])], [5]),
        one_cycle(0.3, 100, three_phase=True),
    ],
    ids=repr,
)
def test_repr_reads_back(schedule: Schedule) -> None:
    assert eval(repr(schedule), vars(schedules)) == schedule


def test_names_and_get() -> None:
    assert ", ".join(schedules.names()) == KNOWN
    assert schedules.get("cosine", lr=0.1, T_max=10) == cosine(0.1, 10)
    assert schedules.get("lambda", lr=0.1, lr_lambda=half) == lambda_lr(0.1, half)
    assert schedules.get("linear_decay", lr=0.1, tau=5)(5) == pytest.approx(0.001)


def test_factories_show_their_parameters_and_formula() -> None:
    parameters = list(inspect.signature(cosine_warm_restarts).parameters)
    assert parameters == ["lr", "T_0", "T_mult", "eta_min"]
    assert "cos(π·T_cur / T_i)" in (cosine_warm_restarts.__doc__ or "")


# --- bad input ---------------------------------------------------------------------------

LR_ALLOWED = (
    "(allowed: a finite number >= 0 or a 1-D tensor of them; to chain schedules, use "
    "warmup or sequential)."
)
ERRORS = [
    (lambda: cosine_warm_restarts(0.1, T_0=0), "Invalid T_0: 0 (allowed: an integer >= 1)."),
    (lambda: cosine_warm_restarts(0.1, T_0=2.5), "Invalid T_0: 2.5 (allowed: an integer >= 1)."),
    (
        lambda: cosine_warm_restarts(0.1, 10, T_mult=0),
        "Invalid T_mult: 0 (allowed: an integer >= 1).",
    ),
    (
        lambda: cosine_warm_restarts(0.1, 10, T_mult=1.5),
        "Invalid T_mult: 1.5 (allowed: an integer >= 1).",
    ),
    (lambda: cosine(-0.1, 10), f"Invalid learning rate lr=-0.1 {LR_ALLOWED}"),
    (lambda: cosine(math.nan, 10), f"Invalid learning rate lr=nan {LR_ALLOWED}"),
    (lambda: cosine(math.inf, 10), f"Invalid learning rate lr=inf {LR_ALLOWED}"),
    (
        lambda: cosine(torch.tensor([0.1, -0.2]), 10),
        "Invalid learning rate lr=tensor([ 0.1000, -0.2000])",
    ),
    (lambda: cosine(0.1, 10, eta_min=-0.01), f"Invalid learning rate eta_min=-0.01 {LR_ALLOWED}"),
    (
        lambda: cosine(cosine(0.1, 3), 10),
        f"Invalid learning rate lr=cosine(lr=0.1, T_max=3, eta_min=0.0) {LR_ALLOWED}",
    ),
    (lambda: cosine(0.1, T_max=0), "Invalid T_max: 0 (allowed: an integer >= 1)."),
    (lambda: cosine(0.1, T_max=True), "Invalid T_max: True (allowed: an integer >= 1)."),
    (
        lambda: schedules.get("cosine_warm_restarts", lr=0.1, T_O=10),
        "Schedule 'cosine_warm_restarts' has no parameter 'T_O'. Did you mean 'T_0'? "
        "Allowed: lr, T_0, T_mult, eta_min.",
    ),
    (
        lambda: cosine_warm_restarts(lr=0.1, T_O=10),
        "Schedule 'cosine_warm_restarts' has no parameter 'T_O'. Did you mean 'T_0'? "
        "Allowed: lr, T_0, T_mult, eta_min.",
    ),
    (
        lambda: schedules.get("cosine", lr=0.1, etamin=0.0, T_max=3),
        "Schedule 'cosine' has no parameter 'etamin'. Did you mean 'eta_min'? "
        "Allowed: lr, T_max, eta_min.",
    ),
    (
        lambda: schedules.get("cosine", lr=0.1),
        "Schedule 'cosine': missing a required argument: 'T_max'.",
    ),
    (lambda: cosine(0.1, 10, 0.0, 5), "Schedule 'cosine': too many positional arguments."),
    (lambda: constant(0.1, factor=math.nan), "Invalid factor: nan (allowed: 0 <= factor < inf)."),
    (lambda: constant(0.1, total_iters=-1), "Invalid total_iters: -1 (allowed: an integer >= 0)."),
    (
        lambda: linear(0.1, start_factor=-0.5),
        "Invalid start_factor: -0.5 (allowed: 0 <= start_factor < inf).",
    ),
    (
        lambda: linear(0.1, end_factor=math.inf),
        "Invalid end_factor: inf (allowed: 0 <= end_factor < inf).",
    ),
    (lambda: linear(0.1, total_iters=0), "Invalid total_iters: 0 (allowed: an integer >= 1)."),
    (lambda: linear_decay(0.1, tau=0), "Invalid tau: 0 (allowed: an integer >= 1)."),
    (
        lambda: linear_decay(0.1, tau=10, final_lr=-1.0),
        f"Invalid learning rate final_lr=-1.0 {LR_ALLOWED}",
    ),
    (lambda: step(0.1, step_size=0), "Invalid step_size: 0 (allowed: an integer >= 1)."),
    (lambda: step(0.1, 5, gamma=-0.5), "Invalid gamma: -0.5 (allowed: 0 <= gamma < inf)."),
    (lambda: exponential(0.1, gamma=math.nan), "Invalid gamma: nan (allowed: 0 <= gamma < inf)."),
    (
        lambda: multistep(0.1, [30, 10]),
        "Invalid milestones: [30, 10] (allowed: a non-decreasing list of integers >= 0).",
    ),
    (
        lambda: multistep(0.1, [-1, 10]),
        "Invalid milestones: [-1, 10] (allowed: a non-decreasing list of integers >= 0).",
    ),
    (
        lambda: multistep(0.1, [1.5]),
        "Invalid milestones: [1.5] (allowed: a non-decreasing list of integers >= 0).",
    ),
    (
        lambda: multistep(0.1, 10),
        "Invalid milestones: 10 (allowed: a non-decreasing list of integers >= 0).",
    ),
    (lambda: polynomial(0.1, total_iters=0), "Invalid total_iters: 0 (allowed: an integer >= 1)."),
    (lambda: polynomial(0.1, power=-1.0), "Invalid power: -1.0 (allowed: 0 <= power < inf)."),
    (
        lambda: cyclic(0.01, 0.1, mode="triangle"),
        "Invalid mode: 'triangle' (allowed: 'triangular', 'triangular2', 'exp_range').",
    ),
    (
        lambda: cyclic(0.01, 0.1, step_size_up=0),
        "Invalid step_size_up: 0 (allowed: an integer >= 1).",
    ),
    (
        lambda: cyclic(0.01, 0.1, step_size_down=-1),
        "Invalid step_size_down: -1 (allowed: an integer >= 0).",
    ),
    (lambda: cyclic(0.01, max_lr=-0.1), f"Invalid learning rate max_lr=-0.1 {LR_ALLOWED}"),
    (
        lambda: one_cycle(0.1, 100, anneal_strategy="cosine"),
        "Invalid anneal_strategy: 'cosine' (allowed: 'cos', 'linear').",
    ),
    (lambda: one_cycle(0.1, total_steps=0), "Invalid total_steps: 0 (allowed: an integer >= 1)."),
    (
        lambda: one_cycle(0.1, 100, pct_start=1.5),
        "Invalid pct_start: 1.5 (allowed: 0 <= pct_start <= 1).",
    ),
    (
        lambda: one_cycle(0.1, 100, div_factor=0.0),
        "Invalid div_factor: 0.0 (allowed: 0 < div_factor < inf).",
    ),
    (
        lambda: one_cycle(0.1, 100, final_div_factor=-1.0),
        "Invalid final_div_factor: -1.0 (allowed: 0 < final_div_factor < inf).",
    ),
    (
        lambda: one_cycle(0.1, 100, three_phase="yes"),
        "Invalid three_phase: 'yes' (allowed: True or False).",
    ),
    (
        lambda: lambda_lr(0.1, lr_lambda=0.5),
        "Invalid lr_lambda: 0.5 (allowed: a function step -> factor).",
    ),
    (lambda: warmup(0.1, warmup_steps=-1), "Invalid warmup_steps: -1 (allowed: an integer >= 0)."),
    (
        lambda: warmup(0.1, 5, start_factor=-0.1),
        "Invalid start_factor: -0.1 (allowed: 0 <= start_factor < inf).",
    ),
    (lambda: warmup(0.1, 5, then=0.1), "Invalid then: 0.1 (allowed: a function step -> lr)."),
    (lambda: sequential([], []), "Invalid schedules: [] (allowed: a non-empty list of schedules)."),
    (
        lambda: sequential(cosine(0.1, 3), []),
        "Invalid schedules: cosine(lr=0.1, T_max=3, eta_min=0.0) "
        "(allowed: a non-empty list of schedules).",
    ),
    (
        lambda: sequential([cosine(0.1, 3), 0.1], [5]),
        "Invalid schedules[1]: 0.1 (allowed: a function step -> lr).",
    ),
    (
        lambda: sequential([cosine(0.1, 3)] * 3, [10, 10]),
        "Invalid milestones: [10, 10] (allowed: a strictly increasing list of integers >= 1).",
    ),
    (
        lambda: sequential([cosine(0.1, 3)] * 3, [20, 10]),
        "Invalid milestones: [20, 10] (allowed: a strictly increasing list of integers >= 1).",
    ),
    (
        lambda: sequential([cosine(0.1, 3)] * 2, [0]),
        "Invalid milestones: [0] (allowed: a strictly increasing list of integers >= 1).",
    ),
    (
        lambda: sequential([cosine(0.1, 3)] * 3, [10]),
        "Invalid milestones: [10] "
        "(allowed: 2 for 3 schedules, the steps where the second, third, ... begins).",
    ),
]


@pytest.mark.parametrize(("make", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_bad_input_is_refused_with_its_message(make: Callable[[], Schedule], message: str) -> None:
    with pytest.raises(HyperparameterError, match=f"^{re.escape(message)}"):
        make()


def test_unknown_name_suggests_and_lists() -> None:
    message = f"Unknown schedule 'cosinee'. Did you mean 'cosine'? Known schedules: {KNOWN}."
    with pytest.raises(UnknownNameError, match=f"^{re.escape(message)}$"):
        schedules.get("cosinee", lr=0.1, T_max=10)
