"""torch's own optimizer test database, `optim_db` (torch.testing._internal.common_optimizers),
as a test of descend: a reference no one on the project wrote.

- Every rule in the database is in descend, or listed below as deliberately absent.
- Every hyper-parameter setting torch tests (`optim_inputs_func`; implementation flags
  foreach/fused/capturable/differentiable dropped) runs 30 steps beside torch, through
  the functional API and through `to_torch`, float64 parameters, params and every state
  entry torch keeps compared, under both default dtypes: float64 and the usual float32
  (torch makes some scalar state in the default dtype; descend must not depend on it).
- Every input torch must refuse (`optim_error_inputs_func`) is refused by descend, with
  descend's own message, except the few descend accepts on purpose (listed, and checked
  to do what descend says they do).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch import Tensor
from torch.testing._internal.common_optimizers import OptimizerErrorEnum, optim_db

import descend
from descend.errors import DescendError, HyperparameterError
from optim_cases import TORCH_EQUIVALENT, Comparison, Problem, matrix_mlp, mixed_tensors

STEPS = 30
# Relative to each quantity's largest size so far (optim_cases.Comparison). Most rules
# agree bit for bit; the functional API can differ in the last bit where an entry crosses
# 0 (θ + (θ' − θ) is then not always θ': see updates.py).
RTOL = 2e-15
IMPLEMENTATION_FLAGS = {"foreach", "fused", "capturable", "differentiable"}
DESCEND_NAME = {torch_class.__name__: name for name, torch_class in TORCH_EQUIVALENT.items()}

# Rules in torch's database that descend does not have, and why.
NOT_IN_DESCEND = {
    "SparseAdam": "Adam for sparse gradients (nn.Embedding(sparse=True)) that updates only "
    "the rows a gradient touches; descend's rules work on dense tensors",
}

# Under a float32 default dtype torch does some scalar arithmetic in float32 even for
# float64 parameters (descend does it in the parameters' dtype): the two then differ by
# torch's rounding, up to these (params, {state entry: rtol}). That descend is the exact
# one is checked too: it matches torch run under a float64 default, same values.
FLOAT32_DEFAULT_TOLERANCE = {
    "asgd": (1e-8, {"eta": 1e-7, "mu": 1e-7}),  # state["eta"], ["mu"]: float32 tensors
    "nadam": (1e-8, {"mu_product": 1e-7}),  # state["mu_product"]: a float32 tensor
    "muon": (1e-5, {"momentum_buffer": 1e-5}),  # a float32 lr tensor: 1 − lr·λ in float32
}
# torch's state entries that are not state: torch.optim.LBFGS' scratch list for the
# two-loop recursion.
SCRATCH = {"al"}

ENTRIES = {info.name: info for info in optim_db}
SHARED = sorted(name for name in ENTRIES if name in DESCEND_NAME)


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def settings_of(torch_name: str) -> list[dict[str, Any]]:
    """The database's settings for this rule on CPU, implementation flags dropped. Made
    under the current default dtype, as torch's own tests make them (`torch.tensor(0.001)`
    is a float32 lr under a float32 default)."""
    inputs = ENTRIES[torch_name].optim_inputs_func("cpu", torch.float64)
    return [{k: v for k, v in i.kwargs.items() if k not in IMPLEMENTATION_FLAGS} for i in inputs]


# L-BFGS's problem is shifted by this much: see problem_for.
LBFGS_SHIFT = 16.0


def problem_for(rule: str, settings: dict[str, Any]) -> Problem:
    """mixed_tensors (matrix_mlp for Muon, which takes matrices only), negated to maximize.

    For L-BFGS, shifted by 16 so that every entry stays within a factor 2 of where it
    starts: θ + (x − θ) is then x exactly (Sterbenz), and the functional API's additive
    update lands on torch's iterate bit for bit. Where an entry crosses 0 the last bit can
    differ, and L-BFGS (20 iterations a step, no line search) amplifies it: on the
    unshifted problem the functional API ends up to 1e-1 relative away after 30 steps
    at lr 0.01 (to_torch, which moves the parameters itself, stays exact)."""
    problem = matrix_mlp() if rule == "muon" else mixed_tensors()
    if rule == "lbfgs":
        loss, shift = problem.loss, LBFGS_SHIFT
        start = {k: v + shift for k, v in problem.start.items()}
        problem = Problem("shifted", start, lambda p: loss({k: v - shift for k, v in p.items()}))
    if settings.get("maximize"):  # ascend the negated loss: as stable as descent
        loss = problem.loss
        return Problem(f"-{problem.name}", problem.start, lambda p: -loss(p))
    return problem


# --- running both ---------------------------------------------------------------------

Snapshot = tuple[dict[str, Tensor], dict[str, Any]]  # params, state by parameter name


def run_torch_optimizer(make: Callable[[list], torch.optim.Optimizer], problem: Problem):
    """`steps` of optimizer.step(closure): params and state (by parameter name) after each."""
    leaves = {k: torch.nn.Parameter(v.clone()) for k, v in problem.start.items()}
    optimizer = make(list(leaves.values()))

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = problem.loss(leaves)
        loss.backward()
        return loss

    trajectory = []
    for _ in range(STEPS):
        optimizer.step(closure)
        params = {k: v.detach().clone() for k, v in leaves.items()}
        state = {k: copy.deepcopy(dict(optimizer.state[v])) for k, v in leaves.items()}
        trajectory.append((params, state))
    return trajectory


def run_functional(opt: descend.optim.Optimizer, problem: Problem) -> list[Snapshot]:
    params = {k: v.clone() for k, v in problem.start.items()}
    state = opt.init(params)
    trajectory = []
    for _ in range(STEPS):
        leaves = {k: v.detach().requires_grad_() for k, v in params.items()}
        gradients = torch.autograd.grad(problem.loss(leaves), list(leaves.values()))
        grads = dict(zip(leaves, gradients, strict=True))
        updates, state = opt.update(grads, state, params, value_fn=problem.loss)
        params = descend.optim.apply_updates(params, updates)
        if opt.name == "lbfgs":  # one state for all parameters: torch keeps it on the first
            by_param = {k: {} for k in params} | {next(iter(params)): copy.deepcopy(state)}
        else:
            by_param = copy.deepcopy(state)
        trajectory.append(({k: v.clone() for k, v in params.items()}, by_param))
    return trajectory


def run_adapter(opt: descend.optim.Optimizer, problem: Problem) -> list[Snapshot]:
    return run_torch_optimizer(opt.to_torch, problem)


def compare(
    ours: list[Snapshot],
    reference: list[Snapshot],
    rtol: float = RTOL,
    state_rtol: dict[str, float] | None = None,
    label: str = "",
) -> float:
    """Assert params and every state entry torch keeps agree at every step; the worst
    relative difference seen."""
    comparisons = {key: Comparison(r) for key, r in (state_rtol or {}).items()}
    main = Comparison(rtol)
    for step, ((p_ours, s_ours), (p_ref, s_ref)) in enumerate(zip(ours, reference, strict=True)):
        where = f"{label} step {step + 1}"
        for name, value in p_ref.items():
            main.check(f"param {name}", p_ours[name], value, where)
            for key, expected in s_ref[name].items():
                if key in SCRATCH:
                    continue
                assert key in s_ours[name], f"{where}: state {key!r} of {name} missing"
                check = comparisons.get(key, main).check
                _check_entry(check, f"{name}.{key}", s_ours[name][key], expected, where)
    return max([main.worst, *(c.worst for c in comparisons.values())])


def _check_entry(check: Callable, key: str, actual: Any, expected: Any, where: str) -> None:
    if expected is None or isinstance(expected, list):  # L-BFGS' memory: lists of tensors
        assert (actual is None) == (expected is None), f"{where} {key}"
        if expected is not None:
            assert len(actual) == len(expected), f"{where} {key}: lengths differ"
            for i, (a, b) in enumerate(zip(actual, expected, strict=True)):
                check(f"{key}[{i}]", a, b, where)
        return
    check(key, actual, expected, where)


# --- the database: every rule, every setting ------------------------------------------


def test_every_rule_in_torchs_database_is_in_descend():
    """A rule torch adds later fails here, by name, until descend has it (or lists why not)."""
    missing = set(ENTRIES) - set(DESCEND_NAME) - set(NOT_IN_DESCEND)
    assert not missing, f"torch.optim rules descend lacks: {sorted(missing)}"
    assert set(NOT_IN_DESCEND) <= set(ENTRIES)  # each exclusion is still a torch rule
    assert all(name in descend.optim.names() for name in map(DESCEND_NAME.get, SHARED))


def _setting_case(torch_name: str, index: int, dtype: torch.dtype) -> Any:
    """One (rule, setting, default dtype). The default `make test` runs every setting under
    the usual float32 default, which also checks descend against torch run under a float64
    default; `make test-slow` adds the float64 default, and L-BFGS beyond its default
    setting (20 evaluations a step make it the slowest)."""
    rule, short = DESCEND_NAME[torch_name], str(dtype).removeprefix("torch.float")
    slow = dtype == torch.float64 or (rule == "lbfgs" and index > 0)
    marks = [pytest.mark.slow] if slow else []
    return pytest.param(torch_name, index, dtype, id=f"{rule}-{index}-f{short}", marks=marks)


SETTING_CASES = [
    _setting_case(torch_name, i, dtype)
    for torch_name in SHARED
    for i in range(len(settings_of(torch_name)))
    for dtype in (torch.float32, torch.float64)
]
RUNNERS = {"functional": run_functional, "to_torch": run_adapter}


@pytest.mark.parametrize(("torch_name", "index", "dtype"), SETTING_CASES)
def test_every_setting_matches_torch(torch_name, index, dtype):
    rule = DESCEND_NAME[torch_name]
    torch_class = ENTRIES[torch_name].optim_cls
    with default_dtype(dtype):
        settings = settings_of(torch_name)[index]
        problem = problem_for(rule, settings)
        expected = run_torch_optimizer(lambda p: torch_class(p, **settings), problem)
        opt = descend.optim.get(rule, **settings)
        runs = {api: runner(opt, problem) for api, runner in RUNNERS.items()}
    rtol, state_rtol = RTOL, {}
    if dtype == torch.float32:
        rtol, state_rtol = FLOAT32_DEFAULT_TOLERANCE.get(rule, (rtol, state_rtol))
        with default_dtype(torch.float64):  # descend does not depend on the default dtype
            same_values = {k: _as_float64(v) for k, v in settings.items()}
            exact = run_torch_optimizer(lambda p: torch_class(p, **same_values), problem)
        for api, ours in runs.items():
            compare(ours, exact, label=f"{api} against torch under a float64 default")
    for api, ours in runs.items():
        compare(ours, expected, rtol, state_rtol, label=api)


def _as_float64(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_as_float64(v) for v in value)
    return value.double() if isinstance(value, Tensor) else value


def test_settings_cover_every_shared_rule():
    """Guard against an empty parametrisation (a test that cannot fail)."""
    assert {case.values[0] for case in SETTING_CASES} == set(SHARED)
    assert len(SETTING_CASES) >= 2 * 80


# --- the inputs torch refuses ----------------------------------------------------------

# Refused by torch, taken on purpose by descend's lockstep rules (not by L-BFGS, which
# runs one run at a time): {database description: why}.
DESCEND_ACCEPTS = {
    "Tensor lr must be 1-element": "a 1-D lr holds run-wise values for K runs stacked "
    "along a leading axis; it is refused for parameters without such an axis",
    "betas must be either both floats or both Tensors": "each hyper-parameter may be a "
    "number or a tensor, independently of the others",
}


def error_cases() -> list[Any]:
    cases = []
    for torch_name in SHARED:
        for i, error in enumerate(
            ENTRIES[torch_name].optim_error_inputs_func("cpu", torch.float64)
        ):
            desc = error.optimizer_error_input.desc
            cases.append(pytest.param(torch_name, i, id=f"{DESCEND_NAME[torch_name]}-{i}-{desc}"))
    return cases


def _error_input(torch_name: str, index: int):
    return ENTRIES[torch_name].optim_error_inputs_func("cpu", torch.float64)[index]


def _refusal(rule: str, error) -> BaseException | None:
    """What descend raises (or warns) for the database's input, None if it takes it."""
    given = error.optimizer_error_input
    kwargs = {k: v for k, v in given.kwargs.items() if k not in IMPLEMENTATION_FLAGS}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opt = descend.optim.get(rule, **kwargs)
            if given.params is not None:
                optimizer = opt.to_torch(given.params)
                if error.error_on == OptimizerErrorEnum.STEP_ERROR:
                    optimizer.step()
    except (Exception, Warning) as refusal:
        return refusal
    return None


@pytest.mark.parametrize(("torch_name", "index"), error_cases())
def test_every_input_torch_refuses(torch_name, index):
    rule = DESCEND_NAME[torch_name]
    error = _error_input(torch_name, index)
    given = error.optimizer_error_input
    refusal = _refusal(rule, error)
    flags = set(given.kwargs) & IMPLEMENTATION_FLAGS
    if flags:  # an error of the flag's: without it, torch and descend both take the rest
        kwargs = {k: v for k, v in given.kwargs.items() if k not in flags}
        ENTRIES[torch_name].optim_cls([torch.nn.Parameter(torch.zeros(2, 2))], **kwargs)
        assert refusal is None, f"descend refused what only {sorted(flags)} made wrong"
    elif given.desc in DESCEND_ACCEPTS and descend.optim.get(rule).lockstep:
        assert given.params is None and refusal is None, DESCEND_ACCEPTS[given.desc]
    elif isinstance(refusal, HyperparameterError):  # a value: descend's own message
        message = str(refusal)
        assert "allowed" in message and any(key in message for key in given.kwargs), message
    elif given.params is None:
        pytest.fail(f"{given.kwargs} not refused by descend's factory: {refusal!r}")
    elif isinstance(refusal, DescendError):  # what a rule cannot update: its own message
        assert rule in str(refusal)
    else:  # the parameters as torch.optim.Optimizer checks them: to_torch is one
        assert isinstance(refusal, error.error_type), f"{given.desc}: {refusal!r}"
        assert refusal is not None


def test_error_cases_cover_every_kind():
    """Each branch above is taken by some database input (none is dead code)."""
    kinds = {"flag": 0, "accepted": 0, "hyper-parameter": 0, "parameters": 0}
    for case in error_cases():
        given = _error_input(*case.values).optimizer_error_input
        if set(given.kwargs) & IMPLEMENTATION_FLAGS:
            kinds["flag"] += 1
        elif given.desc in DESCEND_ACCEPTS:
            kinds["accepted"] += 1
        else:
            kinds["hyper-parameter" if given.params is None else "parameters"] += 1
    assert all(count > 0 for count in kinds.values()), kinds
    accepted = {_error_input(*c.values).optimizer_error_input.desc for c in error_cases()}
    assert set(DESCEND_ACCEPTS) <= accepted  # each exception is still in the database


def test_a_runwise_lr_is_refused_for_parameters_without_a_run_axis():
    """The database's 'Tensor lr must be 1-element': lr of 2 values on a (1, 1) parameter."""
    opt = descend.optim.adam(lr=torch.tensor([0.001, 0.001]))
    with pytest.raises(HyperparameterError, match=r"'lr' has 2 values.*\(1, 1\)"):
        opt.to_torch([torch.nn.Parameter(torch.randn(1, 1))])
    opt.to_torch([torch.nn.Parameter(torch.randn(2, 3))])  # two runs: taken


def test_mixed_number_and_tensor_betas_are_the_numbers():
    """The database's 'betas must be either both floats or both Tensors': descend takes
    (0.9, tensor(0.99)) and runs exactly as torch with (0.9, 0.99)."""
    with default_dtype(torch.float64):
        problem = mixed_tensors()
        expected = run_torch_optimizer(lambda p: torch.optim.Adam(p, betas=(0.9, 0.99)), problem)
        mixed = descend.optim.adam(betas=(0.9, torch.tensor(0.99)))
        for runner in RUNNERS.values():
            compare(runner(mixed, problem), expected)


def test_the_comparison_detects_a_last_digit_difference():
    """The checker can fail at this test's tolerance: lr off by 1e-14 relative is seen."""
    with default_dtype(torch.float64):
        problem = mixed_tensors()
        expected = run_torch_optimizer(lambda p: torch.optim.Adam(p, lr=1e-3), problem)
        ours = run_functional(descend.optim.adam(lr=1e-3 * (1 + 1e-14)), problem)
        with pytest.raises(AssertionError, match="relative difference"):
            compare(ours, expected)
