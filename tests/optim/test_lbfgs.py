"""L-BFGS matches torch.optim.LBFGS step for step (params and every state entry, float64),
through the functional API and `to_torch`; state round trips; validation errors."""

from __future__ import annotations

import copy
import inspect
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor

import descend
from descend.errors import HyperparameterError
from descend.optim.lbfgs import lbfgs

F64 = torch.float64
RTOL = 1e-10  # relative to the magnitude of each compared quantity


@pytest.fixture(autouse=True)
def float64() -> Iterator[None]:
    # float64 everywhere, also for tensors made without an explicit dtype
    previous = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    yield
    torch.set_default_dtype(previous)


# --- problems ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    init: dict[str, Tensor]
    loss: Callable[[Mapping[str, Tensor]], Tensor]


def quadratic() -> Problem:
    """½xᵀAx − bᵀx in 10-D, A random with eigenvalues from 1 to 1000."""
    gen = torch.Generator().manual_seed(0)
    rotation, _ = torch.linalg.qr(torch.randn(10, 10, generator=gen, dtype=F64))
    a = rotation @ torch.diag(torch.logspace(0, 3, 10, dtype=F64)) @ rotation.T
    b = torch.randn(10, generator=gen, dtype=F64)
    x0 = torch.randn(10, generator=gen, dtype=F64)
    return Problem({"x": x0}, lambda p: 0.5 * p["x"] @ a @ p["x"] - b @ p["x"])


def rosenbrock() -> Problem:
    """(1 − x)² + 100·(y − x²)² from (−1.5, 2), as two 0-d parameters."""
    init = {"x": torch.tensor(-1.5, dtype=F64), "y": torch.tensor(2.0, dtype=F64)}
    return Problem(init, lambda p: (1 - p["x"]) ** 2 + 100 * (p["y"] - p["x"] ** 2) ** 2)


def mlp() -> Problem:
    """A 3-16-1 tanh network regressing a fixed random smooth function (4 tensors)."""
    gen = torch.Generator().manual_seed(1)
    inputs = torch.randn(64, 3, generator=gen, dtype=F64)  # (64, 3)
    targets = torch.sin(inputs.sum(dim=1, keepdim=True))  # (64, 1)
    init = {
        "w1": 0.5 * torch.randn(16, 3, generator=gen, dtype=F64),
        "b1": torch.zeros(16, dtype=F64),
        "w2": 0.5 * torch.randn(1, 16, generator=gen, dtype=F64),
        "b2": torch.zeros(1, dtype=F64),
    }

    def loss(p: Mapping[str, Tensor]) -> Tensor:
        hidden = torch.tanh(inputs @ p["w1"].T + p["b1"])  # (64, 16)
        return ((hidden @ p["w2"].T + p["b2"] - targets) ** 2).mean()

    return Problem(init, loss)


PROBLEMS = {"quadratic": quadratic, "rosenbrock": rosenbrock, "mlp": mlp}


def decaying_lr(step: int) -> float:
    return 0.6 / (1 + 0.1 * step)


def cycling_lr(step: int) -> float:
    # first trials far short of (0.01) and far beyond (100) the minimum along d, so that
    # the line search extrapolates, zooms and interpolates poorly
    return (0.01, 1.0, 100.0)[step % 3]


SETTINGS = {
    # lr = 1 without a line search overshoots on Rosenbrock and the MLP
    "default": dict(lr=0.5),
    "strong_wolfe": dict(line_search_fn="strong_wolfe"),
    "history_3": dict(lr=0.5, history_size=3),
    "wolfe_history_3": dict(line_search_fn="strong_wolfe", history_size=3),
    "max_iter_5": dict(lr=0.5, max_iter=5),
    # small first trials and max_eval just above max_iter: the line search extrapolates
    # until it runs out of evaluations
    "wolfe_max_eval_8": dict(line_search_fn="strong_wolfe", lr=0.01, max_iter=6, max_eval=8),
    # without the |Δf| and |Δx| stopping rules the runs converge: max|∇f| <= 1e-7
    "wolfe_tolerance_change_0": dict(line_search_fn="strong_wolfe", tolerance_change=0.0),
    # torch keeps a one-element tensor lr as a 0-d tensor, and so do the steps t
    "tensor_lr": dict(lr=torch.tensor([0.5], dtype=F64), history_size=5),
    "schedule": dict(lr=decaying_lr),
    "wolfe_schedule": dict(lr=cycling_lr, line_search_fn="strong_wolfe"),
}


ENOUGH_ITERATIONS = 120  # "100+ steps", counted in inner iterations
MAX_UPDATES = 150


# --- comparing --------------------------------------------------------------------


def relative_difference(ours: Any, theirs: Any, name: str) -> float:
    """max |ours − theirs| / max|theirs| after checking that the kinds agree."""
    if theirs is None or isinstance(theirs, str):
        assert ours == theirs, name
        return 0.0
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), name
        pairs = zip(ours, theirs, strict=True)
        return max((relative_difference(a, b, name) for a, b in pairs), default=0.0)
    if isinstance(theirs, Tensor):
        assert isinstance(ours, Tensor) and ours.shape == theirs.shape, name
        assert ours.dtype == theirs.dtype, name
        scale = theirs.abs().max().item() if theirs.numel() else 0.0
        difference = (ours - theirs).abs().max().item() if theirs.numel() else 0.0
    else:  # int or float, exactly as torch keeps it (t may be the int 0, H_diag the int 1)
        assert type(ours) is type(theirs), f"{name}: {type(ours)} vs {type(theirs)}"
        scale, difference = abs(theirs), abs(ours - theirs)
    if difference == 0:
        return 0.0
    return difference / scale if scale > 0 else float("inf")


def state_difference(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> float:
    keys = set(theirs) - {"al"}  # torch's scratch buffer for the two-loop recursion
    assert keys <= set(ours)
    return max(relative_difference(ours[key], theirs[key], key) for key in keys)


def closure_for(
    optimizer: torch.optim.Optimizer, params: Mapping[str, Tensor], problem: Problem
) -> Callable[[], Tensor]:
    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = problem.loss(params)
        loss.backward()
        return loss

    return closure


def leaves(values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {key: value.detach().clone().requires_grad_() for key, value in values.items()}


@dataclass
class Parity:
    params: float = 0.0  # the largest relative difference seen
    state: float = 0.0
    n_iter: int = 0  # inner iterations done
    converged: bool = False  # max|∇f| <= tolerance_grad at the end


def run_parity(problem: Problem, settings: dict[str, Any], api: str) -> Parity:
    """Run torch.optim.LBFGS and descend's L-BFGS side by side, comparing every update,
    until ENOUGH_ITERATIONS inner iterations are done or the run has converged."""
    schedule = settings["lr"] if callable(settings.get("lr")) else None
    reference = leaves(problem.init)
    torch_lr = schedule(0) if schedule else settings.get("lr", 1)
    torch_opt = torch.optim.LBFGS(reference.values(), **{**settings, "lr": torch_lr})
    rule = lbfgs(**settings)
    params = {key: value.clone() for key, value in problem.init.items()}
    state = rule.init(params)  # for api == "functional"
    ours = leaves(problem.init)  # for api == "to_torch"
    ours_opt = rule.to_torch(ours.values())
    parity, updates_since_converged = Parity(), 0
    for step in range(MAX_UPDATES):
        if schedule:
            torch_opt.param_groups[0]["lr"] = schedule(step)
        torch_opt.step(closure_for(torch_opt, reference, problem))
        if api == "functional":
            updates, state = rule.update(None, state, params, value_fn=problem.loss)
            params = descend.optim.apply_updates(params, updates)
        else:
            ours_opt.step(closure_for(ours_opt, ours, problem))
            state = ours_opt.state[next(iter(ours.values()))]
            params = ours
        theirs = torch_opt.state[next(iter(reference.values()))]
        assert state["step"] == step + 1
        parity.state = max(parity.state, state_difference(state, theirs))
        for key in params:
            difference = relative_difference(params[key].detach(), reference[key].detach(), key)
            parity.params = max(parity.params, difference)
        if api == "functional":  # see test_functional_parity
            with torch.no_grad():
                for key, value in params.items():
                    reference[key].copy_(value)
        parity.n_iter = theirs["n_iter"]
        parity.converged = gradient_max(problem, reference) <= settings.get("tolerance_grad", 1e-7)
        # two more updates once converged: they stop at their first evaluation
        updates_since_converged += parity.converged
        if parity.n_iter >= ENOUGH_ITERATIONS or updates_since_converged > 2:
            break
    return parity


def gradient_max(problem: Problem, params: Mapping[str, Tensor]) -> float:
    at = leaves(params)
    grads = torch.autograd.grad(problem.loss(at), list(at.values()), materialize_grads=True)
    return max(g.abs().max().item() for g in grads)


# --- parity ---------------------------------------------------------------------


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("problem_name", PROBLEMS)
def test_to_torch_parity(problem_name: str, setting: str) -> None:
    parity = run_parity(PROBLEMS[problem_name](), SETTINGS[setting], "to_torch")
    assert parity.params <= RTOL and parity.state <= RTOL, parity
    assert parity.n_iter >= 100 or parity.converged, parity


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("problem_name", PROBLEMS)
def test_functional_parity(problem_name: str, setting: str) -> None:
    """apply_updates computes params + (final − params), which can differ from `final`
    by an ulp. Near convergence the stopping rules (|Δf| < tolerance_change) turn such
    ulps into different iteration counts, and on the MLP the iteration amplifies them
    (chaos, not a rule difference), so torch's parameters are set to ours after each
    update: every update is then compared from the very same point and state."""
    parity = run_parity(PROBLEMS[problem_name](), SETTINGS[setting], "functional")
    assert parity.params <= RTOL and parity.state <= RTOL, parity
    assert parity.n_iter >= 100 or parity.converged, parity


def test_unused_parameter_gets_zero_gradient_as_in_torch() -> None:
    """A parameter the loss ignores has no .grad in torch (zeros in the flat gradient)."""
    problem = quadratic()
    with_unused = Problem({**problem.init, "unused": torch.ones(3, dtype=F64)}, problem.loss)
    parity = run_parity(with_unused, SETTINGS["strong_wolfe"], "functional")
    assert parity.params <= RTOL and parity.state <= RTOL, parity


def test_to_torch_follows_torch_lr_schedulers() -> None:
    """torch's LambdaLR rewrites group["lr"] before each step, for both optimizers."""
    problem, settings = mlp(), SETTINGS["strong_wolfe"]
    reference, ours = leaves(problem.init), leaves(problem.init)
    optimizers = [
        torch.optim.LBFGS(reference.values(), **settings),
        lbfgs(**settings).to_torch(ours.values()),
    ]
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, decaying_lr) for o in optimizers]
    runs = list(zip(optimizers, schedulers, [reference, ours], strict=True))
    for _ in range(6):
        for optimizer, scheduler, params in runs:
            optimizer.step(closure_for(optimizer, params, problem))
            scheduler.step()
    assert optimizers[1].param_groups[0]["lr"] == decaying_lr(6)
    for key in reference:
        assert torch.equal(ours[key], reference[key]), key


# --- converging -------------------------------------------------------------------


def test_reaches_rosenbrock_minimum_with_strong_wolfe() -> None:
    # tolerance_change=0: with the default 1e-9, torch and descend alike stop about 2e-6
    # away, where f ~ 1e-12 changes by less than tolerance_change per iteration
    problem, rule = rosenbrock(), lbfgs(line_search_fn="strong_wolfe", tolerance_change=0.0)
    params = dict(problem.init)
    state = rule.init(params)
    for _ in range(5):
        updates, state = rule.update(None, state, params, value_fn=problem.loss)
        params = descend.optim.apply_updates(params, updates)
    assert abs(params["x"].item() - 1) <= 1e-6 and abs(params["y"].item() - 1) <= 1e-6, params
    assert state["n_iter"] < 60  # superlinear: no crawl along the valley


# --- state: pure, saved and loaded --------------------------------------------------


def assert_identical(ours: Any, theirs: Any, name: str = "") -> None:
    if isinstance(theirs, Tensor):
        assert isinstance(ours, Tensor) and ours.dtype == theirs.dtype, name
        assert torch.equal(ours, theirs), name
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), name
        for a, b in zip(ours, theirs, strict=True):
            assert_identical(a, b, name)
    else:
        assert type(ours) is type(theirs) and ours == theirs, f"{name}: {ours} != {theirs}"


def assert_states_identical(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> None:
    assert set(ours) - {"al"} == set(theirs) - {"al"}
    for key in set(theirs) - {"al"}:
        assert_identical(ours[key], theirs[key], key)


def saved_and_loaded(value: Any) -> Any:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    buffer.seek(0)
    return torch.load(buffer)


def torch_steps(optimizer: torch.optim.Optimizer, params: dict[str, Tensor], steps: int) -> None:
    for _ in range(steps):
        optimizer.step(closure_for(optimizer, params, PROBLEM_FOR_STATE))


PROBLEM_FOR_STATE = mlp()
HALF = 4  # updates before and after the interruption


@pytest.mark.parametrize("setting", ["history_3", "wolfe_history_3"])
def test_to_torch_state_dict_round_trip_is_exact(setting: str) -> None:
    rule = lbfgs(**SETTINGS[setting])
    straight = leaves(PROBLEM_FOR_STATE.init)
    straight_opt = rule.to_torch(straight.values())
    torch_steps(straight_opt, straight, 2 * HALF)

    first = leaves(PROBLEM_FOR_STATE.init)
    first_opt = rule.to_torch(first.values())
    torch_steps(first_opt, first, HALF)
    saved = saved_and_loaded(first_opt.state_dict())
    resumed = leaves(first)  # new tensors, new optimizer
    resumed_opt = rule.to_torch(resumed.values())
    resumed_opt.load_state_dict(saved)
    torch_steps(resumed_opt, resumed, HALF)

    for key in straight:
        assert torch.equal(resumed[key], straight[key]), key
    state = resumed_opt.state[resumed["w1"]]
    assert len(state["old_dirs"]) == 3 and state["step"] == 2 * HALF
    assert_states_identical(state, straight_opt.state[straight["w1"]])


@pytest.mark.parametrize("setting", ["history_3", "wolfe_history_3"])
def test_functional_state_round_trip_is_exact(setting: str) -> None:
    rule, problem = lbfgs(**SETTINGS[setting]), PROBLEM_FOR_STATE

    def run(params: dict[str, Tensor], state: dict[str, Any], updates: int):
        for _ in range(updates):
            changes, state = rule.update(None, state, params, value_fn=problem.loss)
            params = descend.optim.apply_updates(params, changes)
        return params, state

    straight = run(dict(problem.init), rule.init(problem.init), 2 * HALF)
    halfway = run(dict(problem.init), rule.init(problem.init), HALF)
    resumed = run(*saved_and_loaded(halfway), HALF)
    for key in straight[0]:
        assert torch.equal(resumed[0][key], straight[0][key]), key
    assert_states_identical(resumed[1], straight[1])


def test_state_dicts_move_between_torch_lbfgs_and_to_torch() -> None:
    """Same state names and meaning: either optimizer continues the other's run."""
    settings = SETTINGS["wolfe_history_3"]
    straight = leaves(PROBLEM_FOR_STATE.init)
    straight_opt = torch.optim.LBFGS(straight.values(), **settings)
    torch_steps(straight_opt, straight, 2 * HALF)

    theirs, ours = leaves(PROBLEM_FOR_STATE.init), leaves(PROBLEM_FOR_STATE.init)
    their_opt = torch.optim.LBFGS(theirs.values(), **settings)
    our_opt = lbfgs(**settings).to_torch(ours.values())
    torch_steps(their_opt, theirs, HALF)
    torch_steps(our_opt, ours, HALF)
    swapped = [leaves(theirs), leaves(ours)]
    continued = [lbfgs(**settings).to_torch(swapped[0].values())]
    continued.append(torch.optim.LBFGS(swapped[1].values(), **settings))
    continued[0].load_state_dict(saved_and_loaded(their_opt.state_dict()))
    continued[1].load_state_dict(saved_and_loaded(our_opt.state_dict()))
    for params, optimizer in zip(swapped, continued, strict=True):
        torch_steps(optimizer, params, HALF)
        for key in straight:
            assert torch.equal(params[key], straight[key]), key
        state, reference = optimizer.state[params["w1"]], straight_opt.state[straight["w1"]]
        for key in ("func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag"):
            assert_identical(state[key], reference[key], key)


def test_update_leaves_its_input_state_alone() -> None:
    problem, rule = PROBLEM_FOR_STATE, lbfgs(**SETTINGS["wolfe_history_3"])
    params = dict(problem.init)
    state = rule.init(params)
    for _ in range(3):  # until the history is full and wraps
        updates, state = rule.update(None, state, params, value_fn=problem.loss)
        params = descend.optim.apply_updates(params, updates)
    before = copy.deepcopy(state)
    grads = {key: torch.full_like(value, 1e3) for key, value in params.items()}
    first, new_state = rule.update(grads, state, params, value_fn=problem.loss)
    assert_states_identical(state, before)
    assert new_state is not state and new_state["old_dirs"] is not state["old_dirs"]
    again, _ = rule.update(None, state, params, value_fn=problem.loss)  # grads are ignored
    for key in first:
        assert torch.equal(first[key], again[key]), key
    assert new_state["step"] == state["step"] + 1


# --- the interface ----------------------------------------------------------------


def test_registered_with_torch_names_and_defaults() -> None:
    assert isinstance(descend.optim.get("lbfgs", lr=0.5), type(lbfgs()))
    ours = descend.optim.hyperparameter_defaults("lbfgs")
    theirs = inspect.signature(torch.optim.LBFGS).parameters
    assert ours == {key: p.default for key, p in theirs.items() if key != "params"}
    params = [torch.zeros(3, requires_grad=True)]
    ours_group = lbfgs(max_iter=8).to_torch(params).param_groups[0]
    theirs_group = torch.optim.LBFGS(params, max_iter=8).param_groups[0]
    assert {**ours_group, "params": None} == {**theirs_group, "params": None}
    assert theirs_group["max_eval"] == 10
    assert lbfgs(lr=0.5, line_search_fn="strong_wolfe").label == (
        "lbfgs lr=0.5 line_search_fn='strong_wolfe'"
    )


def test_to_torch_step_returns_the_first_loss_and_zero_grad_works() -> None:
    problem = quadratic()
    params = leaves(problem.init)
    optimizer = lbfgs(line_search_fn="strong_wolfe").to_torch(params.values())
    loss = optimizer.step(closure_for(optimizer, params, problem))
    assert loss.item() == problem.loss(problem.init).item()
    assert params["x"].grad is not None
    optimizer.zero_grad()
    assert params["x"].grad is None


BAD_HYPERPARAMETERS = [
    (dict(lr=-1.0), HyperparameterError, "Invalid learning rate lr=-1.0 (allowed: a finite"),
    (dict(lr=torch.tensor([0.1, 0.2])), HyperparameterError, "Invalid lr: a tensor of 2 values"),
    (dict(max_iter=0), HyperparameterError, "Invalid max_iter: 0 (allowed: an integer >= 1)."),
    (dict(max_iter=2.5), HyperparameterError, "Invalid max_iter: 2.5 (allowed: an integer >= 1)."),
    (dict(max_eval=0), HyperparameterError, "Invalid max_eval: 0 (allowed: an integer >= 1)."),
    (dict(history_size=0), HyperparameterError, "Invalid history_size: 0 (allowed: an integer"),
    (
        dict(tolerance_grad=-1e-7),
        HyperparameterError,
        "Invalid tolerance_grad: -1e-07 (allowed: 0 <= tolerance_grad).",
    ),
    (
        dict(tolerance_change=float("nan")),
        HyperparameterError,
        "Invalid tolerance_change: nan (allowed: 0 <= tolerance_change).",
    ),
    (
        dict(tolerance_change=torch.tensor([1e-9, 1e-8])),
        HyperparameterError,
        "Invalid tolerance_change: a tensor of 2 values",
    ),
    (
        dict(line_search_fn="backtracking"),
        HyperparameterError,
        "Invalid line_search_fn: 'backtracking' (allowed: None, 'strong_wolfe').",
    ),
    (dict(history=3), HyperparameterError, "has no hyper-parameter 'history'. Did you mean"),
]


@pytest.mark.parametrize(("settings", "error", "message"), BAD_HYPERPARAMETERS)
def test_bad_hyperparameters(settings: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        lbfgs(**settings)


def test_schedule_with_run_wise_values_fails_when_it_reaches_them() -> None:
    rule = lbfgs(lr=lambda step: 0.5 if step == 0 else torch.tensor([0.5, 0.1]))
    problem = quadratic()
    params, state = problem.init, rule.init(problem.init)
    _, state = rule.update(None, state, params, value_fn=problem.loss)
    with pytest.raises(HyperparameterError, match=re.escape("Invalid lr: a tensor of 2 values")):
        rule.update(None, state, params, value_fn=problem.loss)


def test_misuse_is_refused_with_a_clear_message() -> None:
    problem, rule = quadratic(), lbfgs()
    state = rule.init(problem.init)
    with pytest.raises(ValueError, match=re.escape("update(..., value_fn=f)")):
        rule.update(problem.init, state, problem.init)
    with pytest.raises(ValueError, match="real parameters only"):
        rule.update(None, state, {"z": torch.ones(2, dtype=torch.complex128)}, value_fn=abs)
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="one parameter group only"):
        rule.to_torch([{"params": [a]}, {"params": [b]}])
    with pytest.raises(HyperparameterError, match="Invalid max_iter: 0"):
        rule.to_torch([{"params": [a], "max_iter": 0}])
    with pytest.raises(ValueError, match=re.escape("needs a closure")):
        rule.to_torch([a]).step()


# --- the line search alone ----------------------------------------------------------


def double_well(x: Tensor) -> Tensor:
    return (x**4 - 3 * x**2 + x).sum()


def wavy_bowl(x: Tensor) -> Tensor:
    return (torch.sin(3 * x) + 0.1 * x**2).sum()


def step_up(x: Tensor) -> Tensor:
    # a slope with a step: extrapolation lands higher up, but on a descent again
    return (torch.sigmoid(10 * (x - 0.7)) - x).sum()


def rosenbrock_2d(x: Tensor) -> Tensor:
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


LINES = [  # (function, start, direction: a multiple of −∇f there)
    (double_well, [-0.3], 1.0),
    (double_well, [1.9], 0.2),
    (wavy_bowl, [-1.5], 3.0),
    (wavy_bowl, [-2.0], 1.0),
    (wavy_bowl, [0.8, -2.0], 1.0),
    (step_up, [0.0], 1.0),
    (wavy_bowl, [2.5, 0.1], 3.0),
    (rosenbrock_2d, [-1.5, 2.0], 1.0),
    (rosenbrock_2d, [0.5, 0.1], 0.01),
]


@pytest.mark.parametrize("max_ls", [1, 2, 3, 25])
@pytest.mark.parametrize("tolerance_change", [1e-9, 1.0])
@pytest.mark.parametrize("line", range(len(LINES)))
def test_strong_wolfe_matches_torch(line: int, tolerance_change: float, max_ls: int) -> None:
    """Every branch of the search (extrapolation, zoom, the 10% rule, bisection, running
    out of evaluations, a too narrow bracket) against torch's own `_strong_wolfe`."""
    from torch.optim.lbfgs import _strong_wolfe

    from descend.optim.line_search import LinePoint, strong_wolfe

    function, start, scale = LINES[line]
    x = torch.tensor(start, dtype=F64)

    def value_and_grad(at: Tensor) -> tuple[float, Tensor]:
        at = at.detach().requires_grad_()
        value = function(at)
        return float(value.detach()), torch.autograd.grad(value, at)[0]

    loss, grad = value_and_grad(x)
    d = -scale * grad
    for t in (1e-3, 0.1, 1.0, 10.0, 1e3):
        theirs = _strong_wolfe(
            lambda x, t, d: value_and_grad(x + t * d),
            x, t, d, loss, grad, grad.dot(d),
            tolerance_change=tolerance_change, max_ls=max_ls,
        )  # fmt: skip
        point, evals = strong_wolfe(
            lambda step: value_and_grad(x + step * d),
            d,
            LinePoint(0, loss, grad, grad.dot(d)),
            t,
            tolerance_change=tolerance_change,
            max_ls=max_ls,
        )
        assert_identical([point.loss, point.t, evals], [theirs[0], theirs[2], theirs[3]], str(t))
        assert torch.equal(point.grad, theirs[1])
