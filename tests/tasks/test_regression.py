"""The regression tasks: data drawn from `data_seed` as documented, parameters named by
their meaning, optima checked against independent solvers, the chosen condition number,
K runs' batch losses equal to the losses of one run at a time (and to the loss written
out by hand), bad settings refused, and tasks built once per process."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from descend import tasks
from descend.engine import TaskSpec
from descend.errors import DescendError
from descend.tasks.regression import Regression

NAMES = ["quadratic-regression", "linear-regression", "logistic-regression"]


def params_of(task: Regression, k: int, seed: int = 0) -> dict[str, Tensor]:
    """K random parameter sets (K, ...) of the task's shapes, float64."""
    g = torch.Generator().manual_seed(seed)
    shapes = {name: tuple(value.shape) for name, value in task.init(g).items()}
    return {
        name: torch.randn(k, *shape, dtype=torch.float64, generator=g)
        for name, shape in shapes.items()
    }


# --- data ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_data_are_reproducible_from_the_data_seed(name: str) -> None:
    one, again = tasks.get(name, data_seed=3), tasks.get(name, data_seed=3)
    other = tasks.get(name, data_seed=4)
    assert one is not again
    assert torch.equal(one.features, again.features) and torch.equal(one.targets, again.targets)
    assert not torch.equal(one.features, other.features)


def test_the_quadratic_regression_is_seed_000s_data_by_default() -> None:
    task = tasks.get("quadratic-regression")
    assert task.examples == 100
    x = task.features[:, 0]
    assert float(x.min()) >= -5.0 and float(x.max()) < 3.0
    torch.testing.assert_close(task.features[:, 1], x**2, rtol=0, atol=0)  # [x, x²]
    assert task.features.dtype == torch.float64


def test_the_quadratic_regressions_x_fills_the_chosen_range() -> None:
    task = tasks.get("quadratic-regression", n=2000, x_low=-1.0, x_high=2.0)
    x = task.features[:, 0]
    assert float(x.min()) >= -1.0 and float(x.max()) < 2.0
    assert float(x.min()) < -0.99 and float(x.max()) > 1.99
    assert float(x.mean()) == pytest.approx(0.5, abs=0.05)  # U(−1, 2)


def test_without_noise_the_quadratic_targets_are_the_mean_curve() -> None:
    task = tasks.get("quadratic-regression", a_std=0.0, b_std=0.0, c_std=0.0)
    x = task.features[:, 0]
    torch.testing.assert_close(task.targets, 3 * x**2 + 10 * x - 2, rtol=1e-12, atol=1e-12)
    assert task.optimum is not None
    got = [float(task.optimum[k]) for k in "abc"]
    assert got == pytest.approx([3.0, 10.0, -2.0], abs=1e-9)


@pytest.mark.parametrize(
    "coefficient, power, mean, std",
    [("a", 2, 3.0, 0.5), ("b", 1, 10.0, 1.0), ("c", 0, -2.0, 2.0)],
)
def test_each_coefficient_is_drawn_per_point_with_its_mean_and_sd(
    coefficient: str, power: int, mean: float, std: float
) -> None:
    # only this coefficient varies; the others sit at their means (sd 0)
    stds = {f"{c}_std": (std if c == coefficient else 0.0) for c in "abc"}
    task = tasks.get("quadratic-regression", n=20000, x_low=1.0, x_high=3.0, **stds)
    x, y = task.features[:, 0], task.targets
    rest = {"a": 3.0 * x**2, "b": 10.0 * x, "c": torch.full_like(x, -2.0)}
    others = sum(v for k, v in rest.items() if k != coefficient)
    drawn = (y - others) / x**power  # each point's own coefficient
    assert float(drawn.mean()) == pytest.approx(mean, abs=4 * std / math.sqrt(20000))
    assert float(drawn.std()) == pytest.approx(std, rel=0.03)


def test_the_quadratic_parameters_are_named_by_their_meaning() -> None:
    task = tasks.get("quadratic-regression")
    assert set(task.meanings) == {"a", "b", "c"}
    x = task.features[:, 0]
    one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    for name, expected in [("a", x**2), ("b", x), ("c", torch.ones_like(x))]:
        params = {k: one if k == name else zero for k in "abc"}
        torch.testing.assert_close(task.predict(params, task.features)[0], expected)
    assert "x²" in task.meanings["a"] and "x" in task.meanings["b"]


def test_the_logistic_classes_are_balanced_labels_zero_and_one() -> None:
    task = tasks.get("logistic-regression")
    assert task.examples == 200
    assert sorted(set(task.targets.tolist())) == [0.0, 1.0]
    assert float(task.targets.sum()) == 100.0


def test_separable_logistic_data_are_split_by_the_line_w1_plus_w2_zero() -> None:
    task = tasks.get("logistic-regression", separable=True)
    side = task.features.sum(dim=1) > 0
    assert torch.equal(side, task.targets > 0)


def test_overlapping_logistic_data_are_not_split_by_that_line() -> None:
    task = tasks.get("logistic-regression")
    side = task.features.sum(dim=1) > 0
    assert not torch.equal(side, task.targets > 0)


# --- optima -------------------------------------------------------------------------


def test_the_quadratic_optimum_is_numpys_polyfit() -> None:
    task = tasks.get("quadratic-regression", n=50, data_seed=2)
    x, y = task.features[:, 0].numpy(), task.targets.numpy()
    assert task.optimum is not None
    got = [float(task.optimum[k]) for k in "abc"]
    np.testing.assert_allclose(got, np.polyfit(x, y, 2), rtol=1e-9)


def test_the_linear_optimum_is_the_least_squares_solution() -> None:
    task = tasks.get("linear-regression", d=6, n=40, condition=30.0, data_seed=1)
    assert task.optimum is not None
    expected = np.linalg.lstsq(task.features.numpy(), task.targets.numpy(), rcond=None)[0]
    np.testing.assert_allclose(task.optimum["w"].numpy(), expected, rtol=1e-9, atol=1e-12)
    # and the normal equations hold there: Xᵀ(Xw − y) = 0
    x, y = task.features, task.targets
    residual_gradient = x.T @ (x @ task.optimum["w"] - y)
    assert float(residual_gradient.abs().max()) < 1e-10


def full_data_gradient(task: Regression) -> Tensor:
    assert task.optimum is not None
    params = {k: v.detach().clone()[None].requires_grad_() for k, v in task.optimum.items()}
    loss = task.losses(params, None, None)[0]
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(params.values()))])


@pytest.mark.parametrize(
    "settings",
    [{}, {"l2": 0.1}, {"separable": True, "l2": 0.01}, {"n": 50, "data_seed": 5}],
)
def test_the_logistic_optimum_has_zero_gradient(settings: dict[str, Any]) -> None:
    task = tasks.get("logistic-regression", **settings)
    gradient = full_data_gradient(task)
    assert float(gradient.abs().max()) < 1e-10
    # a minimum, not just a stationary point: moving away raises the loss
    assert task.optimum is not None
    here = {k: v[None] for k, v in task.optimum.items()}
    moved = {k: v[None] + 0.01 for k, v in task.optimum.items()}
    assert float(task.losses(moved, None, None)[0]) > float(task.losses(here, None, None)[0])


def test_the_logistic_optimum_matches_an_lbfgs_solve() -> None:
    task = tasks.get("logistic-regression", l2=0.1)
    w = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [w, b],
        lr=1,
        max_iter=200,
        tolerance_grad=1e-14,
        tolerance_change=0,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = task.losses({"w": w, "b": b}, None, None)[0]
        loss.backward()
        return loss

    optimizer.step(closure)
    assert task.optimum is not None
    torch.testing.assert_close(w.detach()[0], task.optimum["w"], rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(b.detach()[0], task.optimum["b"], rtol=1e-7, atol=1e-9)


def test_separable_data_without_l2_have_no_optimum() -> None:
    task = tasks.get("logistic-regression", separable=True)
    assert task.optimum is None
    assert "separable" in task.description
    evaluated = task.evaluate(params_of(task, 2))
    assert set(evaluated) == {"train_loss"}  # no distance to an optimum that does not exist


def test_separable_data_without_l2_say_there_is_no_finite_optimum() -> None:
    task = tasks.get("logistic-regression", separable=True)
    assert "optimum" in task.description.lower()


# --- linear regression's conditioning -------------------------------------------------


@pytest.mark.parametrize("condition", [1.0, 10.0, 100.0, 1e4])
def test_linear_regressions_xtx_over_n_has_the_chosen_condition_number(condition: float) -> None:
    task = tasks.get("linear-regression", d=8, n=64, condition=condition)
    x = task.features
    eigenvalues = torch.linalg.eigvalsh(x.T @ x / x.shape[0])
    assert float(eigenvalues.max()) == pytest.approx(1.0, rel=1e-10)
    assert float(eigenvalues.max() / eigenvalues.min()) == pytest.approx(condition, rel=1e-8)


def test_linear_regression_targets_follow_the_noise_level() -> None:
    exact = tasks.get("linear-regression", noise=0.0)
    assert exact.optimum is not None
    residual = exact.features @ exact.optimum["w"] - exact.targets
    assert float(residual.abs().max()) < 1e-10  # y = X·w* exactly
    noisy = tasks.get("linear-regression", noise=0.5, n=4000)
    assert noisy.optimum is not None
    residual = noisy.features @ noisy.optimum["w"] - noisy.targets
    assert float(residual.std()) == pytest.approx(0.5, rel=0.05)


# --- losses of K runs -----------------------------------------------------------------

LossByHand = Callable[[Regression, dict[str, Tensor], Tensor], Tensor]


def quadratic_by_hand(task: Regression, p: dict[str, Tensor], rows: Tensor) -> Tensor:
    x, y = task.features[rows, 0], task.targets[rows]
    return ((p["a"] * x**2 + p["b"] * x + p["c"] - y) ** 2).mean()


def linear_by_hand(task: Regression, p: dict[str, Tensor], rows: Tensor) -> Tensor:
    return ((task.features[rows] @ p["w"] - task.targets[rows]) ** 2).mean()


def logistic_by_hand(task: Regression, p: dict[str, Tensor], rows: Tensor) -> Tensor:
    z = task.features[rows] @ p["w"] + p["b"]
    y = task.targets[rows]
    nll = torch.log1p(torch.exp(-z)) * y + torch.log1p(torch.exp(z)) * (1 - y)
    return nll.mean() + 0.5 * task.l2 * (p["w"] ** 2).sum()


CASES: list[tuple[str, dict[str, Any], LossByHand]] = [
    ("quadratic-regression", {}, quadratic_by_hand),
    ("linear-regression", {"d": 4, "n": 50}, linear_by_hand),
    ("logistic-regression", {"l2": 0.3}, logistic_by_hand),
]


@pytest.mark.parametrize("name, settings, by_hand", CASES, ids=[c[0] for c in CASES])
def test_losses_of_k_runs_on_their_batches_equal_one_run_at_a_time(
    name: str, settings: dict[str, Any], by_hand: LossByHand
) -> None:
    task = tasks.get(name, **settings)
    k, batch = 4, 7
    params = params_of(task, k, seed=1)
    g = torch.Generator().manual_seed(2)
    rows = torch.randint(task.examples, (k, batch), generator=g)
    together = task.losses(params, rows, None)
    assert together.shape == (k,)
    for run in range(k):
        one = {key: v[run : run + 1] for key, v in params.items()}
        alone = task.losses(one, rows[run : run + 1], None)
        torch.testing.assert_close(together[run], alone[0], rtol=1e-14, atol=0)
        own = {key: v[run] for key, v in params.items()}
        torch.testing.assert_close(together[run], by_hand(task, own, rows[run]), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name, settings, by_hand", CASES, ids=[c[0] for c in CASES])
def test_the_loss_on_all_data_is_the_loss_of_a_batch_of_every_example(
    name: str, settings: dict[str, Any], by_hand: LossByHand
) -> None:
    task = tasks.get(name, **settings)
    params = params_of(task, 3, seed=4)
    every = torch.arange(task.examples).expand(3, -1)
    torch.testing.assert_close(
        task.losses(params, None, None), task.losses(params, every, None), rtol=1e-13, atol=0
    )
    assert torch.equal(task.evaluate(params)["train_loss"], task.losses(params, None, None))


@pytest.mark.parametrize("name", NAMES)
def test_the_distance_to_the_optimum_is_zero_there(name: str) -> None:
    task = tasks.get(name)
    assert task.optimum is not None
    at = {k: torch.stack([v, v + 1.0]) for k, v in task.optimum.items()}  # K = 2
    distance = task.evaluate(at)["distance"]
    count = sum(v.numel() for v in task.optimum.values())  # the second is 1 off each number
    torch.testing.assert_close(distance, torch.tensor([0.0, math.sqrt(count)], dtype=torch.float64))


def test_a_task_moved_to_float32_computes_in_float32() -> None:
    task = tasks.get("quadratic-regression").on(torch.device("cpu"), torch.float32)
    assert task.features.dtype == torch.float32 and task.targets.dtype == torch.float32
    params = {k: v.float() for k, v in params_of(task, 2).items()}
    assert task.losses(params, None, None).dtype == torch.float32


# --- initial weights ------------------------------------------------------------------


def test_initial_weights_are_nn_linears_draws() -> None:
    task = tasks.get("linear-regression", d=6)
    init = task.init(torch.Generator().manual_seed(9))
    torch.manual_seed(9)
    layer = torch.nn.Linear(6, 1, bias=False)
    assert torch.equal(init["w"], layer.weight.detach()[0])


def test_the_quadratic_regression_starts_as_nn_linear_on_x_and_x_squared() -> None:
    task = tasks.get("quadratic-regression")
    init = task.init(torch.Generator().manual_seed(9))
    torch.manual_seed(9)
    layer = torch.nn.Linear(2, 1)
    assert (init["b"], init["a"]) == (layer.weight[0, 0], layer.weight[0, 1])
    assert init["c"] == layer.bias[0]


# --- bad settings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, settings, message",
    [
        ("quadratic-regression", {"n": 2}, r"Invalid n: 2 \(allowed: an integer >= 3\)"),
        ("quadratic-regression", {"n": 10.5}, r"Invalid n: 10.5"),
        (
            "quadratic-regression",
            {"x_low": 3.0, "x_high": 3.0},
            r"Invalid x range: \[3.0, 3.0\] \(allowed: x_low < x_high\)",
        ),
        (
            "quadratic-regression",
            {"a_std": -1.0},
            r"Invalid a_std: -1.0 \(allowed: a finite number >= 0\)",
        ),
        ("quadratic-regression", {"data_seed": "x"}, r"Invalid data_seed: 'x'"),
        ("quadratic-regression", {"m": 3}, r"has no parameter 'm'. Allowed: n, x_low"),
        ("linear-regression", {"d": 0}, r"Invalid d: 0 \(allowed: an integer >= 1 <= 4096\)"),
        ("linear-regression", {"d": 10, "n": 5}, r"Invalid n: 5 \(allowed: an integer >= 10\)"),
        (
            "linear-regression",
            {"condition": 0.5},
            r"Invalid condition: 0.5 \(allowed: a finite number >= 1\)",
        ),
        ("linear-regression", {"noise": -0.1}, r"Invalid noise: -0.1"),
        ("logistic-regression", {"n": 3}, r"Invalid n: 3 \(allowed: an integer >= 4\)"),
        (
            "logistic-regression",
            {"separable": "yes"},
            r"Invalid separable: 'yes' \(allowed: True or False\)",
        ),
        ("logistic-regression", {"l2": -1.0}, r"Invalid l2: -1.0"),
    ],
)
def test_bad_settings_are_refused(name: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(DescendError, match=message):
        tasks.get(name, **settings)


# --- built once -----------------------------------------------------------------------


def test_tasks_get_takes_parameters() -> None:
    task = tasks.get("quadratic-regression", n=50)
    assert task.examples == 50 and task.targets.shape == (50,)
    assert task.params == {"n": 50}  # the settings changed, for labels
    assert task.label == "quadratic-regression(n=50)"


def test_a_task_spec_builds_its_task_once() -> None:
    spec = TaskSpec("quadratic-regression", {"n": 50, "data_seed": 12})
    first = spec.build()
    assert spec.build() is first
    assert TaskSpec("quadratic-regression", {"n": 50, "data_seed": 12}).build() is first
    assert TaskSpec("quadratic-regression", {"n": 50, "data_seed": 13}).build() is not first


def test_the_task_on_a_device_and_dtype_is_made_once() -> None:
    task = tasks.get("quadratic-regression")
    moved = task.on(torch.device("cpu"), torch.float32)
    assert task.on(torch.device("cpu"), torch.float32) is moved
    assert task.features.dtype == torch.float64  # the original is untouched
