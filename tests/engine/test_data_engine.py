"""The engine with data: lockstep equals one by one, seeds and their streams, batches,
parity with a plain torch loop, convergence to the closed-form optimum, evaluations and
records, budgets, divergence, streamed groups and devices.

Expectations come from outside the engine: a plain `nn.Linear` + `torch.optim.SGD` loop,
numpy's least squares and polyfit, the task's loss recomputed by hand on the recorded
batches, and GD's stability bound lr < 2/λ_max of the loss's Hessian.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from descend import engine, schedules
from descend.engine import OptimizerSpec, Regime, RunResult, RunSpec, Step, Task, TaskSpec
from descend.engine.lockstep import group_runs
from descend.errors import DescendError
from descend.experiments import plans

QUADRATIC = TaskSpec("quadratic-regression")
LINEAR = TaskSpec("linear-regression", {"d": 5, "condition": 10.0})  # Hessian 2·XᵀX/n


def sgd(lr: float = 1e-3, **hyper: Any) -> OptimizerSpec:
    return OptimizerSpec("sgd", {"lr": lr, **hyper})


def data_run(
    regime: str = "minibatch:25:shuffle",
    *,
    task: TaskSpec | Task = QUADRATIC,
    opt: OptimizerSpec | None = None,
    epochs: int | None = 5,
    updates: int | None = None,
    **kwargs: Any,
) -> RunSpec:
    return RunSpec(
        task,
        opt or sgd(),
        updates,
        None if updates is not None else epochs,
        Regime.parse(regime),
        **kwargs,
    )


class Recording:
    """A task that hands every call on to the quadratic regression and keeps the batch
    index tensors the engine gives it (one (K, B) tensor per update)."""

    name = "recording"

    def __init__(self, inner: Any | None = None) -> None:
        self.inner = inner if inner is not None else QUADRATIC.build()
        self.examples = self.inner.examples
        self.batches: list[Tensor | None] = []
        self.groups = 0  # groups started on this task (one `on` per group)
        self.moved = self.inner

    def check(self, run: RunSpec) -> None:
        self.inner.check(run)

    def initial_params(self, run: RunSpec, generator: torch.Generator) -> dict[str, Tensor]:
        return self.inner.initial_params(run, generator)

    def on(self, device: torch.device, dtype: torch.dtype) -> Recording:
        self.groups += 1
        self.moved = self.inner.on(device, dtype)
        return self

    def losses(self, params: Mapping[str, Tensor], batch: Tensor | None, step: Step) -> Tensor:
        self.batches.append(None if batch is None else batch.clone())
        return self.moved.losses(params, batch, step)

    def evaluate(self, params: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return self.moved.evaluate(params)


class FailsOnSecondGroup(Recording):
    """Raises inside `losses` once a second group has started on it."""

    def losses(self, params: Mapping[str, Tensor], batch: Tensor | None, step: Step) -> Tensor:
        if self.groups >= 2:
            raise RuntimeError("the second group fails")
        return super().losses(params, batch, step)


def quadratic_loss(params: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """MSE of y ≈ a·x² + b·x + c at params (..., 3) = (a, b, c), by hand."""
    a, b, c = params[..., 0:1], params[..., 1:2], params[..., 2:3]
    return ((a * x**2 + b * x + c - y) ** 2).mean(dim=-1)


def assert_same_run(got: RunResult, alone: RunResult, rtol: float = 1e-12) -> None:
    close = {"rtol": rtol, "atol": 1e-14, "equal_nan": True}
    torch.testing.assert_close(got.loss, alone.loss, **close)
    torch.testing.assert_close(got.lr, alone.lr, **close)
    torch.testing.assert_close(got.trajectory, alone.trajectory, **close)
    assert got.evaluations.keys() == alone.evaluations.keys()
    for name in got.evaluations:
        torch.testing.assert_close(got.evaluations[name], alone.evaluations[name], **close)
    assert torch.equal(got.evaluated_at, alone.evaluated_at)
    for name in ("a", "b", "c"):
        torch.testing.assert_close(got.final_params[name], alone.final_params[name], **close)
        assert torch.equal(got.initial_params[name], alone.initial_params[name])
    assert got.diverged_at == alone.diverged_at


# --- lockstep = one by one -----------------------------------------------------------


def test_k_runs_with_data_together_equal_each_run_alone() -> None:
    specs = [
        data_run("minibatch:25:shuffle", opt=sgd(1e-3), seed=0),
        data_run("minibatch:25:shuffle", opt=sgd(3e-3), seed=1),
        data_run("minibatch:25:shuffle", opt=sgd(1e-3, momentum=0.9), seed=2),
        data_run("minibatch:25:fixed", opt=sgd(2e-3), seed=0),
        data_run("minibatch:25:fixed", opt=sgd(1e-3), seed=3),
        data_run("minibatch:30:replacement", opt=sgd(1e-3), seed=4),
        data_run("minibatch:30:shuffle", opt=sgd(1e-3), seed=4),
        data_run("full", opt=sgd(1e-3), seed=5),
        data_run("full", opt=sgd(2e-3), seed=6),
        data_run("minibatch:25:shuffle", opt=OptimizerSpec("adam", {"lr": 0.05}), seed=1),
    ]
    together = engine.run(specs)
    assert max(r.group_size for r in together) >= 3  # some of them really ran together
    for spec, result in zip(specs, together, strict=True):
        alone = engine.run([spec])[0]
        assert alone.group_size == 1
        assert result.spec is spec
        assert_same_run(result, alone)


def test_runs_of_different_regimes_or_batch_sizes_form_different_groups() -> None:
    specs = [
        data_run("minibatch:25:shuffle", seed=0),
        data_run("minibatch:20:shuffle", seed=0),
        data_run("minibatch:25:shuffle", seed=1),
        data_run("full", seed=0),
        data_run("minibatch:25:fixed", seed=0),
    ]
    assert group_runs(specs) == [[0, 2], [1], [3], [4]]


def test_a_float32_group_stays_float32_and_equals_its_runs_alone() -> None:
    specs = [data_run(opt=sgd(lr), seed=s, dtype="float32") for s, lr in [(0, 1e-3), (1, 2e-3)]]
    together = engine.run(specs)
    for spec, result in zip(specs, together, strict=True):
        assert result.final_params["a"].dtype == torch.float32
        assert result.loss.dtype == torch.float32
        alone = engine.run([spec])[0]
        assert_same_run(result, alone, rtol=1e-6)


def test_runs_with_gradient_noise_and_data_together_equal_each_run_alone() -> None:
    specs = [data_run(opt=sgd(1e-3), seed=s, gradient_noise=0.5) for s in range(3)]
    together = engine.run(specs)
    assert together[0].group_size == 3
    for spec, result in zip(specs, together, strict=True):
        assert_same_run(result, engine.run([spec])[0])
    noiseless = engine.run([data_run(opt=sgd(1e-3), seed=0)])[0]
    assert not torch.allclose(together[0].final_params["a"], noiseless.final_params["a"])


# --- seeds: initial weights and batches ----------------------------------------------


def test_runs_with_the_same_seed_start_from_the_same_weights_across_regimes_and_rules() -> None:
    specs = [
        data_run("full", seed=3),
        data_run("minibatch:25:shuffle", seed=3),
        data_run("single", seed=3, epochs=1),
        data_run("minibatch:25:fixed", opt=OptimizerSpec("adam", {"lr": 0.01}), seed=3),
        data_run("full", opt=OptimizerSpec("rmsprop", {"lr": 0.01}), seed=3, dtype="float32"),
    ]
    results = engine.run(specs)
    first = results[0].initial_params
    for result in results[1:]:
        for name in ("a", "b", "c"):
            assert torch.equal(result.initial_params[name].to(torch.float64), first[name])


def test_a_compare_plan_gives_each_seed_the_same_weights_under_every_regime() -> None:
    regimes = ["full", "minibatch:25:fixed", "minibatch:25:shuffle", "single"]
    _, specs = plans.compare_plan(
        "quadratic-regression", ["sgd:lr=1e-3"], regimes=regimes, epochs=1, seeds=3
    )
    results = engine.run(specs)
    starts: dict[int, list[Tensor]] = {}
    for result in results:
        start = torch.stack([result.initial_params[k] for k in "abc"])
        starts.setdefault(result.spec.seed, []).append(start)
    assert sorted(starts) == [0, 1, 2]
    for per_regime in starts.values():
        assert len(per_regime) == len(regimes)
        assert all(torch.equal(s, per_regime[0]) for s in per_regime)
    assert not torch.equal(starts[0][0], starts[1][0])


def test_a_compare_plan_with_fixed_init_gives_every_seed_the_first_seeds_weights() -> None:
    _, specs = plans.compare_plan(
        "quadratic-regression",
        ["sgd:lr=1e-3"],
        regimes=["minibatch:25:shuffle"],
        epochs=1,
        seeds=[4, 5, 6],
        fixed_init=True,
    )
    results = engine.run(specs)
    reference = engine.run([data_run(seed=4, epochs=1)])[0]
    for result in results:
        assert torch.equal(
            result.initial_params["c"], reference.initial_params["c"].to(torch.float32)
        )
    assert not torch.equal(results[0].loss, results[1].loss)  # other batches: other losses


def test_runs_with_different_seeds_start_from_different_weights() -> None:
    results = engine.run([data_run("full", seed=s, epochs=1) for s in range(4)])
    starts = [torch.stack([r.initial_params[k] for k in "abc"]) for r in results]
    for i, a in enumerate(starts):
        for b in starts[i + 1 :]:
            assert not torch.allclose(a, b)


def test_init_seed_holds_the_weights_while_the_data_order_varies_with_the_seed() -> None:
    task = Recording()
    specs = [data_run(task=task, seed=s, init_seed=7, epochs=1) for s in range(3)]
    results = engine.run(specs)
    reference = engine.run([data_run(seed=7, epochs=1)])[0]  # seed 7's own weights
    for result in results:
        for name in "abc":
            assert torch.equal(result.initial_params[name], reference.initial_params[name])
    first_batch = task.batches[0]
    assert first_batch is not None and first_batch.shape == (3, 25)
    assert not torch.equal(first_batch[0], first_batch[1])
    assert not torch.equal(first_batch[1], first_batch[2])


def test_the_same_seed_and_regime_see_the_same_batches_in_any_group() -> None:
    task = Recording()
    specs = [
        data_run("minibatch:25:shuffle", task=task, opt=sgd(1e-3), seed=4, epochs=3),
        data_run("minibatch:25:shuffle", task=task, opt=sgd(5e-3), seed=4, epochs=3),
        data_run("minibatch:25:shuffle", task=task, opt=sgd(1e-3), seed=8, epochs=3),
    ]
    engine.run(specs)
    together = torch.stack(task.batches)  # (12 updates, 3 runs, 25)
    assert torch.equal(together[:, 0], together[:, 1])  # same seed, other lr: same batches
    assert not torch.equal(together[:, 0], together[:, 2])  # another seed: other batches

    other_rule = Recording()  # adam runs in a group of its own, on its own
    engine.run(
        [data_run(task=other_rule, opt=OptimizerSpec("adam", {"lr": 0.01}), seed=4, epochs=3)]
    )
    assert torch.equal(torch.stack(other_rule.batches)[:, 0], together[:, 0])


def test_the_batches_are_the_permutations_of_the_data_stream() -> None:
    task = Recording()
    spec = data_run("minibatch:25:shuffle", task=task, seed=2, epochs=2)
    engine.run([spec])
    generator = torch.Generator().manual_seed(spec.stream("data"))
    expected = torch.cat([torch.randperm(100, generator=generator) for _ in range(2)])
    assert torch.equal(torch.cat([b[0] for b in task.batches]), expected)


def test_each_recorded_loss_is_the_batch_loss_before_its_update() -> None:
    task = Recording()
    result = engine.run([data_run("minibatch:30:shuffle", task=task, seed=1, epochs=2)])[0]
    data = QUADRATIC.build()
    x, y = data.features[:, 0], data.targets
    assert result.trajectory is not None
    for t, batch in enumerate(task.batches):
        assert batch is not None
        expected = quadratic_loss(result.trajectory[t], x[batch[0]], y[batch[0]])
        torch.testing.assert_close(result.loss[t], expected, rtol=1e-12, atol=0)


# --- parity with a plain torch loop --------------------------------------------------

LinearParams = tuple[Tensor, Tensor]  # nn.Linear(2, 1)'s weight (b, a) and bias c


def torch_loop(spec: RunSpec, orders: list[Tensor | None]) -> tuple[LinearParams, list[float]]:
    """nn.Linear(2, 1) on [x, x²] with torch.optim.SGD, float32, batches in `orders`."""
    torch.manual_seed(spec.stream("init"))
    model = torch.nn.Linear(2, 1)
    data = QUADRATIC.build()
    x, y = data.features.float(), data.targets.float()
    lr = spec.optimizer.hyperparams["lr"]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for index in orders:
        xb, yb = (x, y) if index is None else (x[index], y[index])
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xb)[:, 0], yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return (model.weight.detach()[0], model.bias.detach()[0]), losses


def assert_engine_equals_linear(result: RunResult, weight: Tensor, bias: Tensor) -> None:
    got = torch.stack([result.final_params[k] for k in ("b", "a", "c")])  # weight is (b, a)
    torch.testing.assert_close(got, torch.cat([weight, bias[None]]), rtol=1e-5, atol=1e-6)


def test_the_initial_weights_are_nn_linears_under_the_init_stream_seed() -> None:
    spec = data_run(seed=11, dtype="float32")
    result = engine.run([spec])[0]
    torch.manual_seed(spec.stream("init"))
    model = torch.nn.Linear(2, 1)
    assert result.initial_params["b"] == model.weight[0, 0]
    assert result.initial_params["a"] == model.weight[0, 1]
    assert result.initial_params["c"] == model.bias[0]


def test_full_batch_sgd_equals_nn_linear_with_torch_optim_sgd() -> None:
    spec = data_run("full", opt=sgd(1e-3), seed=5, epochs=150, dtype="float32")
    result = engine.run([spec])[0]
    (weight, bias), losses = torch_loop(spec, [None] * 150)
    torch.testing.assert_close(result.loss, torch.tensor(losses), rtol=1e-5, atol=1e-6)
    assert_engine_equals_linear(result, weight, bias)
    assert not torch.allclose(result.initial_params["c"], result.final_params["c"])  # it moved


def test_minibatch_fixed_sgd_equals_nn_linear_fed_the_same_order() -> None:
    spec = data_run("minibatch:25:fixed", opt=sgd(1e-3), seed=6, epochs=40, dtype="float32")
    result = engine.run([spec])[0]
    permutation = torch.randperm(100, generator=torch.Generator().manual_seed(spec.stream("data")))
    orders = [permutation[i : i + 25] for i in range(0, 100, 25)] * 40
    (weight, bias), losses = torch_loop(spec, orders)
    torch.testing.assert_close(result.loss, torch.tensor(losses), rtol=1e-5, atol=1e-6)
    assert_engine_equals_linear(result, weight, bias)


def test_minibatch_shuffle_sgd_equals_nn_linear_with_a_new_permutation_each_epoch() -> None:
    spec = data_run("minibatch:25:shuffle", opt=sgd(1e-3), seed=6, epochs=20, dtype="float32")
    result = engine.run([spec])[0]
    generator = torch.Generator().manual_seed(spec.stream("data"))
    orders = []
    for _ in range(20):
        permutation = torch.randperm(100, generator=generator)
        orders += [permutation[i : i + 25] for i in range(0, 100, 25)]
    (weight, bias), losses = torch_loop(spec, orders)
    torch.testing.assert_close(result.loss, torch.tensor(losses), rtol=1e-5, atol=1e-6)
    assert_engine_equals_linear(result, weight, bias)
    # the tolerance tells orders apart: the first epoch's order repeated lands elsewhere
    (weight, bias), _ = torch_loop(spec, orders[:4] * 20)
    with pytest.raises(AssertionError):
        assert_engine_equals_linear(result, weight, bias)


# --- convergence to the closed-form optimum ------------------------------------------


def least_squares(task: Any) -> np.ndarray:
    return np.linalg.lstsq(task.features.numpy(), task.targets.numpy(), rcond=None)[0]


def test_full_batch_gd_converges_to_the_least_squares_optimum() -> None:
    # MSE's Hessian is 2·XᵀX/n, eigenvalues in [0.2, 2] (condition 10): lr = 0.5 < 2/2
    # contracts the error by at least |1 − 0.5·0.2| = 0.9 per update: 0.9^400 ≈ 5e-19.
    result = engine.run([data_run("full", task=LINEAR, opt=sgd(0.5), epochs=400)])[0]
    optimum = least_squares(LINEAR.build())
    assert np.linalg.norm(result.final_params["w"].numpy() - optimum) < 1e-6
    assert float(result.evaluations["distance"][-1]) < 1e-6
    assert float(result.evaluations["distance"][0]) > 0.1  # it started away from it


def test_the_quadratic_regressions_optimum_is_numpys_polyfit() -> None:
    task = QUADRATIC.build()
    x, y = task.features[:, 0].numpy(), task.targets.numpy()
    a, b, c = np.polyfit(x, y, 2)
    got = [float(task.optimum[k]) for k in "abc"]
    np.testing.assert_allclose(got, [a, b, c], rtol=1e-9)


def test_gd_above_the_stability_bound_diverges_and_below_it_converges() -> None:
    # λ_max(Hessian) = 2 on linear-regression: GD is stable for lr < 1 exactly.
    specs = [data_run("full", task=LINEAR, opt=sgd(lr), epochs=400) for lr in (0.95, 1.05)]
    stable, unstable = engine.run(specs)
    assert not stable.diverged
    assert float(stable.evaluations["distance"][-1]) < 1e-6
    assert unstable.diverged


# --- evaluations and records ---------------------------------------------------------


def test_evaluations_happen_at_the_start_and_after_every_epoch() -> None:
    result = engine.run([data_run("minibatch:25:shuffle", epochs=6)])[0]
    assert result.evaluated_at.tolist() == [0, 4, 8, 12, 16, 20, 24]
    assert len(result.evaluations["train_loss"]) == 7
    assert len(result.evaluations["distance"]) == 7


def test_eval_every_evaluates_every_few_epochs_and_at_the_end() -> None:
    result = engine.run([data_run("minibatch:25:shuffle", epochs=7, eval_every=3)])[0]
    assert result.evaluated_at.tolist() == [0, 12, 24, 28]


def test_train_loss_is_the_loss_on_all_data_at_each_evaluation_point() -> None:
    result = engine.run([data_run("minibatch:30:shuffle", epochs=4)])[0]
    data = QUADRATIC.build()
    x, y = data.features[:, 0], data.targets
    assert result.trajectory is not None
    points = result.trajectory[result.evaluated_at]  # (E, 3), in the order a, b, c
    expected = quadratic_loss(points, x, y)
    torch.testing.assert_close(result.evaluations["train_loss"], expected, rtol=1e-12, atol=0)
    assert result.final_loss == pytest.approx(float(expected[-1]), rel=1e-12)


def test_distance_is_the_euclidean_distance_to_the_optimum_at_each_evaluation() -> None:
    result = engine.run([data_run("minibatch:25:shuffle", epochs=3)])[0]
    data = QUADRATIC.build()
    optimum = torch.tensor(np.polyfit(data.features[:, 0].numpy(), data.targets.numpy(), 2))
    assert result.trajectory is not None
    expected = (result.trajectory[result.evaluated_at] - optimum).norm(dim=1)
    torch.testing.assert_close(result.evaluations["distance"], expected, rtol=1e-9, atol=0)


def test_epoch_seconds_has_one_entry_per_epoch() -> None:
    result = engine.run([data_run("minibatch:25:shuffle", epochs=5)])[0]
    assert result.epoch_seconds.shape == (5,)
    assert bool((result.epoch_seconds >= 0).all())


def test_a_data_run_records_one_batch_loss_and_one_lr_per_update() -> None:
    result = engine.run([data_run("minibatch:30:shuffle", epochs=3)])[0]  # 4 updates/epoch
    assert result.loss.shape == (12,)
    assert result.lr.shape == (12,)
    assert bool(torch.isfinite(result.loss).all())
    assert bool((result.lr == 1e-3).all())
    assert result.trajectory is not None and result.trajectory.shape == (13, 3)


def test_a_surface_run_records_the_loss_at_every_iterate() -> None:
    surface = TaskSpec("anisotropic")
    result = engine.run([RunSpec(surface, sgd(0.01), 10, start=(1.0, 1.0))])[0]
    assert result.loss.shape == (11,)  # f at the start and after each of 10 updates
    assert result.lr.shape == (10,)


def test_the_lr_of_every_update_is_recorded_under_a_schedule() -> None:
    lrs = [(0.01, 0.5), (0.02, 0.1)]
    specs = [
        data_run(
            "minibatch:25:shuffle",
            opt=sgd(schedules.get("step", lr=lr, step_size=3, gamma=gamma)),
            seed=i,
            epochs=3,
        )
        for i, (lr, gamma) in enumerate(lrs)
    ]
    results = engine.run(specs)
    assert results[0].group_size == 2
    for result, (lr, gamma) in zip(results, lrs, strict=True):
        expected = torch.tensor([lr * gamma ** (k // 3) for k in range(12)], dtype=torch.float64)
        torch.testing.assert_close(result.lr, expected, rtol=1e-15, atol=0)


def test_every_run_keeps_its_initial_and_final_parameters_by_name() -> None:
    results = engine.run([data_run(seed=s, epochs=2) for s in range(3)])
    for result in results:
        assert result.param_names == ("a", "b", "c")
        assert set(result.initial_params) == set(result.final_params) == {"a", "b", "c"}
        assert result.trajectory is not None
        start = torch.stack([result.initial_params[k] for k in "abc"])
        end = torch.stack([result.final_params[k] for k in "abc"])
        assert torch.equal(result.trajectory[0], start)
        assert torch.equal(result.trajectory[-1], end)


def test_a_linear_regression_run_names_its_flattened_weights() -> None:
    result = engine.run([data_run("full", task=LINEAR, epochs=1)])[0]
    assert result.param_names == ("w[0]", "w[1]", "w[2]", "w[3]", "w[4]")
    assert result.final_params["w"].shape == (5,)


# --- budgets -----------------------------------------------------------------------


def test_an_epoch_budget_makes_whole_epochs_of_updates() -> None:
    spec = data_run("minibatch:30:shuffle", epochs=3)  # 30, 30, 30, 10: 4 updates/epoch
    assert spec.steps == 12 and spec.updates_per_epoch == 4


def test_an_update_budget_may_end_mid_epoch_and_is_evaluated_at_the_end() -> None:
    task = Recording()
    result = engine.run([data_run("minibatch:25:shuffle", task=task, updates=10)])[0]
    assert len(task.batches) == 10
    assert result.loss.shape == (10,) and result.lr.shape == (10,)
    assert result.evaluated_at.tolist() == [0, 4, 8, 10]
    assert result.epoch_seconds.shape == (3,)  # two whole epochs and half of a third
    generator = torch.Generator().manual_seed(result.spec.stream("data"))
    orders = [torch.randperm(100, generator=generator) for _ in range(3)]
    assert torch.equal(torch.cat([b[0] for b in task.batches]), torch.cat(orders)[:250])


@pytest.mark.parametrize("budget", [{}, {"updates": 10, "epochs": 2}])
def test_a_budget_in_both_or_neither_unit_is_refused(budget: dict[str, int]) -> None:
    with pytest.raises(DescendError, match=r"updates or in epochs, not both and not neither"):
        RunSpec(QUADRATIC, sgd(), **budget)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, r"Invalid epochs: 0 \(allowed: an integer >= 1\)"),
        ({"updates": 0}, r"Invalid updates: 0 \(allowed: an integer >= 1\)"),
        ({"epochs": 2.5}, r"Invalid epochs: 2.5"),
        ({"epochs": 2, "eval_every": 0}, r"Invalid eval_every: 0"),
        ({"epochs": 2, "dtype": "float16"}, r"Invalid dtype: 'float16'"),
        ({"epochs": 2, "start": (1.0, 2.0)}, r"start cannot apply"),
    ],
)
def test_bad_data_run_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DescendError, match=message):
        RunSpec(QUADRATIC, sgd(), **kwargs)


def test_epochs_on_a_surface_are_refused() -> None:
    with pytest.raises(DescendError, match=r"anisotropic has no data: epochs cannot apply"):
        RunSpec(TaskSpec("anisotropic"), sgd(), epochs=3, start=(1.0, 1.0))


def test_a_regime_on_a_surface_is_refused() -> None:
    with pytest.raises(DescendError, match=r"has no data: a regime cannot apply"):
        RunSpec(TaskSpec("anisotropic"), sgd(), 5, regime=Regime("full"), start=(1.0, 1.0))


def along_result(regime: str) -> RunResult:
    return engine.run([data_run(regime, epochs=2)])[0]


def test_along_updates_is_the_identity() -> None:
    updates = torch.arange(9)
    got = along_result("minibatch:30:shuffle").along("updates", updates)
    assert got.tolist() == list(range(9))


def test_along_epochs_divides_by_the_updates_of_an_epoch() -> None:
    got = along_result("minibatch:30:shuffle").along("epochs", torch.arange(9))
    assert got.tolist() == [u / 4 for u in range(9)]  # 4 updates per epoch of 100


def test_along_examples_counts_a_partial_last_batch_as_its_size() -> None:
    got = along_result("minibatch:30:shuffle").along("examples", torch.arange(9))
    # batches of 30, 30, 30, 10 each epoch
    assert got.tolist() == [0, 30, 60, 90, 100, 130, 160, 190, 200]


def test_along_examples_without_the_dropped_last_batch() -> None:
    got = along_result("minibatch:30:shuffle:drop_last").along("examples", torch.arange(7))
    assert got.tolist() == [0, 30, 60, 90, 120, 150, 180]
    epochs = along_result("minibatch:30:shuffle:drop_last").along("epochs", torch.arange(7))
    assert epochs.tolist() == [u / 3 for u in range(7)]


def test_along_examples_of_full_batch_is_n_per_update() -> None:
    got = along_result("full").along("examples", torch.arange(3))
    assert got.tolist() == [0, 100, 200]


def test_along_refuses_an_unknown_unit() -> None:
    with pytest.raises(DescendError, match=r"Invalid unit: 'steps' \(allowed: updates, epochs"):
        along_result("full").along("steps", torch.arange(3))


# --- divergence with data ------------------------------------------------------------


def test_a_diverging_run_with_data_is_frozen_and_the_others_finish() -> None:
    specs = [
        data_run("minibatch:50:shuffle", task=LINEAR, opt=sgd(lr), epochs=200)
        for lr in (0.05, 3.0, 0.1)  # 3.0: |1 − 3·λ| > 1 for every batch Hessian λ ≥ 2/3
    ]
    results = engine.run(specs)
    assert results[0].group_size == 3
    good, bad, also_good = results
    assert bad.diverged and bad.diverged_at is not None
    t = bad.diverged_at
    assert float(bad.loss[t]) > 1e6 * max(float(bad.loss[0]), 1.0)  # the documented rule
    assert bool(torch.isnan(bad.loss[t + 1 :]).all())
    assert bad.trajectory is not None and bool(torch.isnan(bad.trajectory[t + 1 :]).all())
    assert math.isnan(float(bad.evaluations["train_loss"][-1]))
    assert bad.final_loss == math.inf
    assert bad.updates == t
    for result in (good, also_good):
        assert not result.diverged
        assert bool(torch.isfinite(result.loss).all())
        assert result.updates == 800  # 200 epochs of 4 batches of 50
        assert_close_alone = engine.run([result.spec])[0]
        torch.testing.assert_close(
            result.final_params["w"], assert_close_alone.final_params["w"], rtol=1e-12, atol=0
        )


def test_a_diverged_runs_final_parameters_are_where_its_record_froze() -> None:
    spec = data_run("minibatch:50:shuffle", task=LINEAR, opt=sgd(3.0), epochs=50)
    result = engine.run([spec])[0]
    assert result.diverged and result.trajectory is not None
    recorded = result.trajectory[torch.isfinite(result.trajectory).all(dim=1)]
    final = result.final_params["w"]
    assert any(torch.equal(row, final) for row in recorded)


# --- streamed results ----------------------------------------------------------------


def test_stream_yields_each_group_before_the_next_one_runs() -> None:
    task = Recording()
    specs = [
        data_run(task=task, opt=sgd(1e-3), seed=0, epochs=1),
        data_run(task=task, opt=OptimizerSpec("adam", {"lr": 0.01}), seed=0, epochs=1),
        data_run(task=task, opt=sgd(2e-3), seed=1, epochs=1),
    ]
    groups = engine.stream(specs)
    indices, results = next(groups)
    assert indices == [0, 2]
    assert [r.spec for r in results] == [specs[0], specs[2]]
    assert task.groups == 1  # the adam group has not started yet
    indices, results = next(groups)
    assert indices == [1] and results[0].spec is specs[1]
    assert task.groups == 2
    with pytest.raises(StopIteration):
        next(groups)


def test_a_failing_group_does_not_lose_the_groups_already_yielded() -> None:
    task = FailsOnSecondGroup()
    specs = [
        data_run(task=task, opt=sgd(1e-3), seed=0, epochs=2),
        data_run(task=task, opt=sgd(1e-3), seed=1, epochs=2),
        data_run(task=task, opt=OptimizerSpec("adam", {"lr": 0.01}), seed=0, epochs=2),
    ]
    kept: list[tuple[list[int], list[RunResult]]] = []
    with pytest.raises(RuntimeError, match="the second group fails"):
        for group in engine.stream(specs):
            kept.append(group)
    assert [indices for indices, _ in kept] == [[0, 1]]
    for result in kept[0][1]:
        assert result.loss.shape == (8,) and bool(torch.isfinite(result.loss).all())
        assert len(result.evaluations["train_loss"]) == 3


def test_stream_reports_progress_over_every_group() -> None:
    seen: list[tuple[int, int]] = []
    specs = [
        data_run(opt=sgd(1e-3), epochs=2),
        data_run(opt=OptimizerSpec("adam", {"lr": 0.01}), epochs=3),
    ]
    engine.run(specs, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (20, 20)  # 8 updates of the sgd group, then 12 of the adam group
    assert [d for d, _ in seen] == list(range(1, 21))


# --- devices -----------------------------------------------------------------------

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


@no_cuda
def test_cuda_without_a_gpu_says_so_and_how_to_run_on_the_cpu() -> None:
    with pytest.raises(DescendError) as caught:
        engine.check_device("cuda")
    message = str(caught.value)
    assert "not available" in message and "no CUDA GPU" in message
    assert "CPU" in message and "--device cpu" in message
    assert caught.value.key == "device"


@no_cuda
def test_run_on_cuda_without_a_gpu_is_refused_before_any_work() -> None:
    task = Recording()
    with pytest.raises(DescendError, match=r"no CUDA GPU"):
        engine.run([data_run(task=task)], device="cuda")
    assert task.batches == [] and task.groups == 0


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "tpu0", "meta", "", 3, None])
def test_a_bad_device_is_refused_with_the_allowed_ones(device: Any) -> None:
    with pytest.raises(DescendError, match=r"Invalid device: .* \(allowed: cpu, cuda, cuda:N\)"):
        engine.check_device(device)


def test_cpu_is_accepted() -> None:
    assert engine.check_device("cpu") == torch.device("cpu")
    assert engine.check_device(torch.device("cpu")) == torch.device("cpu")


@needs_cuda
def test_a_group_on_cuda_equals_the_same_group_on_the_cpu() -> None:
    specs = [data_run(opt=sgd(lr), seed=s, epochs=5) for s, lr in [(0, 1e-3), (1, 3e-3)]]
    on_gpu = engine.run(specs, device="cuda")
    on_cpu = engine.run(specs)
    for gpu, cpu in zip(on_gpu, on_cpu, strict=True):
        assert gpu.device.startswith("cuda") and gpu.loss.device.type == "cpu"
        assert_same_run(gpu, cpu, rtol=1e-9)


def test_results_say_which_device_they_ran_on() -> None:
    assert engine.run([data_run(epochs=1)])[0].device == "cpu"
