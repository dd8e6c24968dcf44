"""Learning-rate schedules: plain functions of the step, `lr_at(k)`, k = 0 the first update.

Each schedule below is written once, as its formula `f(k, lr, ...)`; what the module
exports under its name is a factory: `cosine(lr=0.1, T_max=10)` checks the parameters and
returns a `Schedule`, a small frozen, picklable callable with a readable repr. Schedules
never touch an optimizer. Where torch.optim.lr_scheduler has the same schedule, the
parameters carry torch's names (the base learning rate is always `lr`) and `lr_at(k)` is
the lr torch's scheduler gives the (k+1)-th `optimizer.step()`. Learning rates (lr,
eta_min, max_lr, final_lr) may be 1-D tensors of K run-wise values: the step-derived
factors are computed in Python and only multiply or add them, so `lr_at(k)` is then a
tensor of K learning rates.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from descend.errors import HyperparameterError
from descend.optim.hyper import check_choice, check_flag, check_int, check_lr, check_range
from descend.registry import Registry

LR = float | Tensor  # a number, or a 1-D tensor of K run-wise learning rates
Check = Callable[[str, Any], Any]  # (name, value) -> the value to keep, or raises


@dataclass(frozen=True, repr=False)
class Schedule:
    """`schedule(k)`: the lr of update k. The formula is looked up by name when called,
    so a schedule pickles (in an optimizer's param group, with torch.save, ...)."""

    name: str
    params: dict[str, Any]

    def __call__(self, step: int) -> LR:
        try:
            return _FORMULAS[self.name](step, **self.params)
        except OverflowError:  # (gamma ** k in Python numbers): past float's range
            return math.inf

    def __repr__(self) -> str:
        shown = {
            k: v
            for k, v in self.params.items()
            if not (v is None and k in _ONE_OF.get(self.name, ()))
        }
        return f"{self.name}({', '.join(f'{k}={_show(v)}' for k, v in shown.items())})"


_ONE_OF = {"lambda": ("lr_lambda", "factor")}  # alternatives: the one not given is not shown


_FORMULAS: dict[str, Callable[..., LR]] = {}
SCHEDULES = Registry("schedule")


def _schedule(
    name: str | None = None, /, *, together: Callable[[dict], None] | None = None, **checks: Check
) -> Callable[[Callable[..., LR]], Callable[..., Schedule]]:
    """Register `formula(k, **params)` under `name` (default: its own) and return its
    factory `(**params) -> Schedule`, which checks every parameter (`together` checks them
    jointly) and refuses unknown or missing ones, naming the allowed ones."""

    def decorate(formula: Callable[..., LR]) -> Callable[..., Schedule]:
        key = name or formula.__name__
        params = list(inspect.signature(formula).parameters.values())[1:]  # all but k
        signature = inspect.Signature(params, return_annotation="Schedule")
        allowed = [p.name for p in params]
        assert set(checks) == set(allowed), f"{key}: one check per parameter"

        @functools.wraps(formula)
        def factory(*args: Any, **kwargs: Any) -> Schedule:
            SCHEDULES.check(key, kwargs)
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as problem:
                raise HyperparameterError(f"Schedule {key!r}: {problem}.") from None
            bound.apply_defaults()
            values = {param: checks[param](param, v) for param, v in bound.arguments.items()}
            if together is not None:
                together(values)
            return Schedule(key, values)

        factory.__signature__ = signature  # type: ignore[attr-defined]  # the formula's, less k
        _FORMULAS[key] = formula
        SCHEDULES.add(key, factory)
        return factory

    return decorate


def names() -> list[str]:
    """The names of every registered schedule, sorted."""
    return SCHEDULES.names()


def get(name: str, **params: Any) -> Schedule:
    """The schedule registered as `name`, with the given parameters."""
    return SCHEDULES.get(name, **params)


# --- parameter checks: each returns the value to keep ---------------------------------------


def _lr(name: str, value: Any) -> Any:
    """A learning rate given as a value: a number or a 1-D tensor, not itself a schedule.

    A tensor of integers is kept as float64: times a Python float it would otherwise
    become a tensor of the *default* dtype, float32 unless set, and lose digits."""
    try:
        if callable(value) and not isinstance(value, Tensor):
            raise HyperparameterError  # (check_lr would accept a schedule)
        check_lr(value, name)
    except HyperparameterError:
        raise HyperparameterError(
            f"Invalid learning rate {name}={value!r} (allowed: a finite number >= 0 or a 1-D "
            "tensor of them; to chain schedules, use warmup or sequential)."
        ) from None
    if isinstance(value, Tensor) and not value.is_floating_point():
        return value.to(torch.float64)
    return value


def _kept(validate: Callable[[str, Any], None]) -> Check:
    """A check from one of hyper.py's validators, which return nothing: keep the value."""

    def check(name: str, value: Any) -> Any:
        validate(name, value)
        return value

    return check


_factor = _kept(functools.partial(check_range, low=0.0, high=math.inf, high_open=True))
_divisor = _kept(
    functools.partial(check_range, low=0.0, high=math.inf, low_open=True, high_open=True)
)
_fraction = _kept(functools.partial(check_range, low=0.0, high=1.0))
_flag = _kept(check_flag)


def _at_least(low: int) -> Check:
    return _kept(functools.partial(check_int, low=low))


def _one_of(*allowed: str) -> Check:
    return _kept(functools.partial(check_choice, allowed=allowed))


def _function(returns: str) -> Check:
    def check(name: str, value: Any) -> Any:
        if not callable(value) or isinstance(value, Tensor):
            raise HyperparameterError(
                f"Invalid {name}: {value!r} (allowed: a function step -> {returns})."
            )
        return value

    return check


def _optional(check: Check) -> Check:
    return lambda name, value: None if value is None else check(name, value)


def _milestones(*, strictly: bool, low: int) -> Check:
    def check(name: str, value: Any) -> tuple[int, ...]:
        is_list = isinstance(value, Sequence) and not isinstance(value, str | bytes)
        steps = tuple(value) if is_list else ()
        valid = is_list and all(type(m) is int and m >= low for m in steps)
        in_order = all(a < b if strictly else a <= b for a, b in itertools.pairwise(steps))
        if not (valid and in_order):
            order = "strictly increasing" if strictly else "non-decreasing"
            raise HyperparameterError(
                f"Invalid {name}: {value!r} (allowed: a {order} list of integers >= {low})."
            )
        return steps

    return check


def _schedule_list(name: str, value: Any) -> tuple[Callable[[int], LR], ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise HyperparameterError(
            f"Invalid {name}: {value!r} (allowed: a non-empty list of schedules)."
        )
    return tuple(_function("lr")(f"{name}[{i}]", s) for i, s in enumerate(value))


# --- piecewise constant and linear ----------------------------------------------------------


@_schedule(lr=_lr, factor=_factor, total_iters=_at_least(0))
def constant(k: int, lr: LR, factor: float = 1.0, total_iters: int = 0) -> LR:
    """lr_k = lr·factor for k < total_iters, then lr: torch's ConstantLR.

    Constant by default: torch's defaults (factor 1/3 for 5 steps) are not copied. Torch
    steps it recursively, so with total_iters = 0 it keeps lr·factor forever (its own closed
    form gives lr, as here), and with factor = 0 it divides by zero at total_iters."""
    return lr * factor if k < total_iters else lr


@_schedule(lr=_lr, start_factor=_factor, end_factor=_factor, total_iters=_at_least(1))
def linear(
    k: int, lr: LR, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5
) -> LR:
    """lr_k = lr·(s + (e − s)·min(k, T)/T), s = start_factor, e = end_factor, T =
    total_iters: torch's LinearLR, in closed form. Torch's recursion divides by the factor,
    so it refuses start_factor = 0 and factors above 1; here they are fine."""
    return lr * (start_factor + (end_factor - start_factor) * min(k, total_iters) / total_iters)


@_schedule(lr=_lr, tau=_at_least(1), final_lr=_optional(_lr))
def linear_decay(k: int, lr: LR, tau: int, final_lr: LR | None = None) -> LR:
    """SGD's linear decay (Goodfellow et al. 2016, §8.3.1; seed 003), no torch equivalent:

        ε_k = (1 − k/τ)·ε_0 + (k/τ)·ε_τ  for k < τ,   ε_k = ε_τ  for k >= τ,

    with ε_0 = lr and ε_τ = final_lr, by default lr/100 ("ε_τ ≈ 1 % of ε_0")."""
    final_lr = lr / 100 if final_lr is None else final_lr
    if k >= tau:
        return final_lr
    return (1 - k / tau) * lr + (k / tau) * final_lr


@_schedule(lr=_lr, step_size=_at_least(1), gamma=_factor)
def step(k: int, lr: LR, step_size: int, gamma: float = 0.1) -> LR:
    """lr_k = lr·γ^⌊k / step_size⌋: torch's StepLR."""
    return lr * gamma ** (k // step_size)


@_schedule(lr=_lr, milestones=_milestones(strictly=False, low=0), gamma=_factor)
def multistep(k: int, lr: LR, milestones: Sequence[int], gamma: float = 0.1) -> LR:
    """lr_k = lr·γ^(number of milestones <= k): torch's MultiStepLR. As in torch, a
    milestone given twice multiplies by γ twice; milestones must not decrease."""
    return lr * gamma ** bisect_right(milestones, k)


@_schedule(lr=_lr, gamma=_factor)
def exponential(k: int, lr: LR, gamma: float) -> LR:
    """lr_k = lr·γ^k: torch's ExponentialLR."""
    return lr * gamma**k


@_schedule(lr=_lr, total_iters=_at_least(1), power=_factor)
def polynomial(k: int, lr: LR, total_iters: int = 5, power: float = 1.0) -> LR:
    """lr_k = lr·(1 − min(k, T)/T)^power, T = total_iters: torch's PolynomialLR."""
    return lr * (1 - min(k, total_iters) / total_iters) ** power


# --- cosine and cyclic ------------------------------------------------------------------------


@_schedule(lr=_lr, T_max=_at_least(1), eta_min=_lr)
def cosine(k: int, lr: LR, T_max: int, eta_min: LR = 0.0) -> LR:
    """Cosine annealing (Loshchilov & Hutter 2017, without restarts), in closed form:

        lr_k = eta_min + (lr − eta_min)·(1 + cos(π·k / T_max)) / 2,

    rising back to lr at 2·T_max, as torch's CosineAnnealingLR. Torch computes it by a
    recursion, lr_k − eta_min = ratio_k·(lr_(k−1) − eta_min), that agrees to ~1e-13
    relative, except after a minimum when eta_min > 0: there lr_k − eta_min is tiny,
    ~(lr − eta_min)·(π/T_max)²/4, and storing eta_min + it rounds it to eta_min's
    precision, an error the recursion then carries through the next half-period. It grows
    as T_max²: for eta_min = lr/10, torch is off by ~3e-12 relative over (T_max, 2·T_max]
    with T_max = 1000 and by ~3e-10 with T_max = 10 000, where this form stays within
    2e-15 of the exact value."""
    return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * k / T_max)) / 2


def _position_in_cycle(k: int, T_0: int, T_mult: int) -> tuple[int, int]:
    """(T_cur, T_i): the step within the current cycle, and that cycle's length."""
    if T_mult == 1:
        return k % T_0, T_0
    length = T_0
    while k >= length:  # exact integers, no float log: right for any k
        k, length = k - length, length * T_mult
    return k, length


@_schedule(lr=_lr, T_0=_at_least(1), T_mult=_at_least(1), eta_min=_lr)
def cosine_warm_restarts(k: int, lr: LR, T_0: int, T_mult: int = 1, eta_min: LR = 0.0) -> LR:
    """SGDR (Loshchilov & Hutter 2017): torch's CosineAnnealingWarmRestarts stepped once
    per update. Cycle i lasts T_i = T_0·T_mult^i updates, T_cur counts within it:

        lr_k = eta_min + (lr − eta_min)·(1 + cos(π·T_cur / T_i)) / 2."""
    T_cur, T_i = _position_in_cycle(k, T_0, T_mult)
    return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2


@_schedule(
    lr=_lr,
    max_lr=_lr,
    step_size_up=_at_least(1),
    step_size_down=_optional(_at_least(0)),
    mode=_one_of("triangular", "triangular2", "exp_range"),
    gamma=_factor,
)
def cyclic(
    k: int,
    lr: LR,
    max_lr: LR,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> LR:
    """Cyclical learning rates (Smith 2017): torch's CyclicLR with base_lr = lr, stepped
    once per update, cycle_momentum=False (only the lr is scheduled). The lr rises
    linearly from lr towards max_lr over step_size_up updates and falls back over
    step_size_down (default: step_size_up), the rise scaled by

        1 ("triangular"),   1/2^c in cycle c = 0, 1, ... ("triangular2"),   γ^k ("exp_range")."""
    down = step_size_up if step_size_down is None else step_size_down
    cycle, position = divmod(k, step_size_up + down)  # exact integers
    if position <= step_size_up:
        rise = position / step_size_up
    else:
        rise = (step_size_up + down - position) / down
    if mode == "triangular":
        scale = 1.0
    elif mode == "triangular2":
        scale = 0.5**cycle  # the amplitude halves every cycle
    else:
        scale = gamma**k  # exp_range: it decays every update
    return lr + (max_lr - lr) * rise * scale


@_schedule(
    lr=_lr,
    total_steps=_at_least(1),
    pct_start=_fraction,
    anneal_strategy=_one_of("cos", "linear"),
    div_factor=_divisor,
    final_div_factor=_divisor,
    three_phase=_flag,
)
def one_cycle(
    k: int,
    lr: LR,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> LR:
    """1cycle (Smith & Topin 2019): torch's OneCycleLR, with lr the peak (torch's max_lr).
    From lr/div_factor up to lr in pct_start·total_steps updates, then annealed ("cos" or
    "linear") down to lr/(div_factor·final_div_factor); with three_phase, first back to
    lr/div_factor symmetrically. After total_steps updates the lr stays at its final value
    (torch extrapolates one more step, then raises); a phase of zero length (e.g.
    pct_start·total_steps = 1) is at its end value (torch divides by zero)."""
    initial_lr = lr / div_factor
    peak = pct_start * total_steps - 1  # torch's phase ends, in (float) steps
    phases = [(peak, initial_lr, lr)]  # (end step, start lr, end lr)
    if three_phase:
        phases.append((2 * pct_start * total_steps - 2, lr, initial_lr))
    phases.append((total_steps - 1, phases[-1][2], initial_lr / final_div_factor))
    start = 0.0
    for i, (end, start_lr, end_lr) in enumerate(phases):
        if k <= end or i == len(phases) - 1:
            progress = min(1.0, (k - start) / (end - start)) if end > start else 1.0
            if anneal_strategy == "cos":
                return end_lr + (start_lr - end_lr) / 2 * (math.cos(math.pi * progress) + 1)
            return (end_lr - start_lr) * progress + start_lr
        start = end
    raise AssertionError("unreachable: the last phase always returns")


# --- user functions and composition -------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """A factor written as a formula of the step k, e.g. "0.95**k" or "1/(1 + k/10)": read
    by the same safe parser as surface formulas (descend.expressions: no eval, ever), and
    plain data (its text), so a schedule holding one can be saved and compared."""

    text: str

    def __post_init__(self) -> None:
        self.function  # noqa: B018  (refused now, if it is not a formula of k)

    @functools.cached_property
    def function(self) -> Callable[[Any], Any]:
        from descend.expressions import compile_formula

        return compile_formula(self.text, ("k",), " in k, e.g. '0.95**k'")

    def __call__(self, k: int) -> float:
        return float(self.function((torch.tensor(float(k), dtype=torch.float64),)))

    def __repr__(self) -> str:
        return repr(self.text)


def _factor_function(name: str, value: Any) -> Any:
    """A factor: a function step -> factor, or a formula of k written as text."""
    if isinstance(value, str):
        return Factor(value)
    return _function("factor")(name, value)


@_schedule(schedule=_function("lr"), updates=_at_least(1))
def per_epoch(k: int, schedule: Schedule, updates: int) -> LR:
    """A schedule stepped once an epoch of `updates` updates, as torch's schedulers are
    when scheduler.step() is called after each epoch: lr_k = schedule(k // updates). Its
    lr is the inner schedule's. (A study makes it from --schedule-unit epoch.)"""
    return schedule(k // updates)


def _one_factor(params: dict[str, Any]) -> None:
    if (params["lr_lambda"] is None) == (params["factor"] is None):
        raise HyperparameterError(
            "Schedule 'lambda' takes its factor as lr_lambda (a function of the step) or as "
            "factor (a formula of k, e.g. factor=0.95**k): one of them, not both."
        )


@_schedule(
    "lambda",
    together=_one_factor,
    lr=_lr,
    lr_lambda=_optional(_factor_function),
    factor=_optional(_factor_function),
)
def lambda_lr(
    k: int, lr: LR, lr_lambda: Callable[[int], float] | None = None, factor: Factor | None = None
) -> LR:
    """lr_k = lr·lr_lambda(k): torch's LambdaLR, registered as "lambda".

    The factor is a multiplicative *factor*, not a learning rate (seed 003's bug was
    returning an absolute lr): a function of the step (lr_lambda), or a formula of k
    (factor="0.95**k", see Factor) that pickles and can be stored; a Python function
    pickles only if it is a module-level one (a lambda does not)."""
    return lr * (factor or lr_lambda)(k)  # type: ignore[operator]


@_schedule(lr=_lr, warmup_steps=_at_least(0), start_factor=_factor, then=_optional(_function("lr")))
def warmup(
    k: int, lr: LR, warmup_steps: int, start_factor: float = 0.0, then: Schedule | None = None
) -> LR:
    """Linear warm-up (Goyal et al. 2017), then the schedule `then` from its own step 0:

        lr_k = lr·(s + (1 − s)·k / W)  for k < W = warmup_steps,   then(k − W)  after,

    with s = start_factor, and lr after the warm-up when `then` is None. `then` carries its
    own lr (normally the same). Torch's equivalent is SequentialLR([LinearLR(start_factor,
    total_iters=W), then], milestones=[W]), whose LinearLR refuses start_factor = 0."""
    if k < warmup_steps:
        return lr * (start_factor + (1 - start_factor) * k / warmup_steps)
    return lr if then is None else then(k - warmup_steps)


def _one_milestone_between_schedules(params: dict[str, Any]) -> None:
    schedules, milestones = params["schedules"], params["milestones"]
    if len(milestones) != len(schedules) - 1:
        raise HyperparameterError(
            f"Invalid milestones: {list(milestones)} (allowed: {len(schedules) - 1} for "
            f"{len(schedules)} schedules, the steps where the second, third, ... begins)."
        )


@_schedule(
    schedules=_schedule_list,
    milestones=_milestones(strictly=True, low=1),
    together=_one_milestone_between_schedules,
)
def sequential(k: int, schedules: Sequence[Schedule], milestones: Sequence[int]) -> LR:
    """Schedules one after another, each from its own step 0 (torch's SequentialLR):

        lr_k = schedules[0](k) for k < m_0,   schedules[i](k − m_(i−1)) for m_(i−1) <= k < m_i.

    Takes no lr: each schedule carries its own. Torch's SequentialLR gives the same values
    for children of every other kind here, in any order, with two exceptions: (1) when
    constructed, its CyclicLR sets the group's lr to base_lr (which becomes initial_lr if
    it comes first) and its OneCycleLR sets initial_lr to max_lr/div_factor, so the other
    children start from, or take as base, that lr instead of the optimizer's; (2) a nested
    SequentialLR skips its own first step when it is the first child, and raises
    NotImplementedError at its milestone otherwise. Here nesting just works."""
    i = bisect_right(milestones, k)  # the schedule in charge at step k
    return schedules[i](k - (milestones[i - 1] if i else 0))


def _show(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"tensor({value.tolist()})" if value.numel() <= 8 else f"tensor{tuple(value.shape)}"
    if isinstance(value, tuple):
        return f"[{', '.join(_show(v) for v in value)}]"
    if callable(value) and not isinstance(value, Schedule):
        return getattr(value, "__qualname__", repr(value))
    return repr(value)


def _register_plateau() -> None:
    from descend.plateau import reduce_on_plateau

    SCHEDULES.add("reduce_on_plateau", reduce_on_plateau)


_register_plateau()  # the one schedule driven by a metric (descend.plateau)
