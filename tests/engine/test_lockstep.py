"""The lockstep engine: K runs at once equal K runs one by one; divergence freezes a run
and spares the others; grouping; gradient noise; schedules; L-BFGS alone."""

from __future__ import annotations

import math

import pytest
import torch

import descend
from descend.engine import OptimizerSpec, RunSpec, run
from descend.engine.lockstep import group_runs
from descend.errors import DescendError
from descend.tasks import surfaces

ANISOTROPIC = surfaces.get("anisotropic")


def spec(rule="sgd", steps=40, start=(1.0, 1.0), surface=ANISOTROPIC, seed=0, noise=0.0, **hyper):
    return RunSpec(
        surface, OptimizerSpec(rule, hyper), steps, start=start, seed=seed, gradient_noise=noise
    )


MIXED = [
    spec(lr=0.1),
    spec(lr=0.05, momentum=0.9),
    spec(lr=0.1, momentum=0.5, start=(-1.5, 0.3)),
    spec("rmsprop", lr=0.01, alpha=0.9),
    spec("rmsprop", lr=0.03, alpha=0.99, start=(0.2, -1.0)),
    spec("adam", lr=0.1, betas=(0.8, 0.99)),
    spec("adam", lr=0.05),
    spec("sgd", lr=0.1, momentum=0.9, nesterov=True),  # unstable here: diverges at step 17
    spec("lbfgs", steps=5, lr=0.5),
]


def test_k_runs_at_once_equal_runs_one_by_one():
    together = run(MIXED)
    for one_spec, result in zip(MIXED, together, strict=True):
        alone = run([one_spec])[0]
        torch.testing.assert_close(
            result.trajectory, alone.trajectory, rtol=1e-12, atol=1e-15, equal_nan=True
        )
        torch.testing.assert_close(result.loss, alone.loss, rtol=1e-12, atol=1e-15, equal_nan=True)
        assert result.diverged_at == alone.diverged_at
        assert result.spec is one_spec
    assert [r.diverged for r in together] == [False] * 7 + [True, False]  # one of each kind


def test_runs_that_can_share_a_computation_are_grouped():
    groups = group_runs(MIXED)
    rules = [[MIXED[i].optimizer.rule for i in g] for g in groups]
    # sgd with and without momentum share a group (momentum becomes run-wise, 0 included);
    # nesterov is structural, so it gets its own; L-BFGS always runs alone.
    assert rules == [
        ["sgd", "sgd", "sgd"],
        ["rmsprop", "rmsprop"],
        ["adam", "adam"],
        ["sgd"],
        ["lbfgs"],
    ]


def test_the_engine_matches_a_plain_loop_of_the_functional_api_and_torch_optim():
    """The engine steps with `opt.step` (θ' made at once, rounded as torch.optim's
    in-place step): a loop of it and torch.optim.SGD give the same trajectory bit for bit;
    `update` + `apply_updates` (θ + (θ' − θ)) to rounding."""
    result = run([spec(lr=0.1, momentum=0.9, steps=30)])[0]
    opt = descend.optim.sgd(lr=0.1, momentum=0.9)
    params = {"w": torch.tensor([1.0, 1.0], dtype=torch.float64)}
    by_updates = dict(params)
    state, update_state = opt.init(params), opt.init(params)
    w_torch = params["w"].clone().requires_grad_()
    torch_sgd = torch.optim.SGD([w_torch], lr=0.1, momentum=0.9)
    for t in range(30):
        w = params["w"].clone().requires_grad_()
        grad = torch.autograd.grad(ANISOTROPIC(w), w)[0]
        assert result.loss[t].item() == pytest.approx(ANISOTROPIC(params["w"]).item(), rel=1e-14)
        params, state = opt.step({"w": grad}, state, params)
        assert torch.equal(result.trajectory[t + 1], params["w"])
        torch_sgd.zero_grad()
        ANISOTROPIC(w_torch).backward()
        torch_sgd.step()
        assert torch.equal(result.trajectory[t + 1], w_torch.detach())
        w = by_updates["w"].clone().requires_grad_()
        grad = torch.autograd.grad(ANISOTROPIC(w), w)[0]
        updates, update_state = opt.update({"w": grad}, update_state, by_updates)
        by_updates = descend.optim.apply_updates(by_updates, updates)
        torch.testing.assert_close(result.trajectory[t + 1], by_updates["w"], rtol=1e-13, atol=0)


def test_a_diverging_run_is_frozen_and_the_others_go_on():
    # On w1² + 8·w2², GD is stable for lr < 2/16: lr 0.2 diverges, lr 0.1 converges.
    stable, unstable = run([spec(lr=0.1, steps=60), spec(lr=0.2, steps=60)])
    assert not stable.diverged and stable.final_loss < 1e-8
    assert unstable.diverged
    t = unstable.diverged_at
    # |w2| grows by |1 − 0.2·16| = 2.2 per step from 1: 8·w2² passes 1e6·9 at step 9.
    assert t == 9
    assert unstable.loss[t] > 1e6 * 9 and torch.isnan(unstable.loss[t + 1 :]).all()
    assert (
        torch.isfinite(unstable.trajectory[: t + 1]).all()
        and torch.isnan(unstable.trajectory[t + 1 :]).all()
    )
    assert unstable.final_loss == math.inf


def test_a_non_finite_loss_freezes_the_run():
    log_surface = surfaces.Surface(
        "log",
        "log(w1) + w2**2",
        lambda w: torch.log(w[..., 0]) + w[..., 1] ** 2,
        (),
        ((0, 2), (-1, 1)),
        (1.0, 1.0),
    )
    # Steps push w1 towards 0 and below: log becomes -inf, then NaN.
    result = run([spec(surface=log_surface, lr=0.5, steps=20)])[0]
    assert result.diverged and not torch.isfinite(result.loss[result.diverged_at])


def test_noise_is_reproducible_and_seeded():
    a, b, c = run([spec(noise=0.5, seed=1), spec(noise=0.5, seed=1), spec(noise=0.5, seed=2)])
    # Same seed, same group: one stream drawn as a block, so the two runs differ ...
    assert not torch.equal(a.trajectory, b.trajectory)
    # ... and every result is the same when run again.
    again = run([spec(noise=0.5, seed=1), spec(noise=0.5, seed=1), spec(noise=0.5, seed=2)])
    assert torch.equal(again[0].trajectory, a.trajectory) and torch.equal(
        again[2].trajectory, c.trajectory
    )
    # A run with a seed of its own gets the same noise alone as in a group.
    torch.testing.assert_close(run([spec(noise=0.5, seed=2)])[0].trajectory, c.trajectory)
    assert not torch.equal(run([spec(noise=0.0, seed=2)])[0].trajectory, c.trajectory)


def test_schedules_are_run_wise_and_recorded():
    decay = descend.schedules.exponential(lr=0.1, gamma=0.9)
    restart = descend.schedules.cosine_warm_restarts(lr=0.05, T_0=5)
    results = run([spec(lr=decay), spec(lr=restart), spec(lr=0.02)])
    torch.testing.assert_close(
        results[0].lr, torch.tensor([decay(k) for k in range(40)], dtype=torch.float64)
    )
    torch.testing.assert_close(
        results[1].lr, torch.tensor([restart(k) for k in range(40)], dtype=torch.float64)
    )
    assert (results[2].lr == 0.02).all()


def test_lbfgs_runs_alone_through_its_value_function():
    result = run([spec("lbfgs", steps=3, line_search_fn="strong_wolfe")])[0]
    assert result.final_loss < 1e-9  # stopped by tolerance_grad = 1e-7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(steps=0), r"Invalid updates: 0 \(allowed: an integer >= 1\)"),
        (dict(noise=-1.0), r"Invalid gradient_noise: -1\.0"),
        (
            dict(rule="lbfgs", noise=0.1),
            r"lbfgs computes its own gradients: gradient_noise must be 0",
        ),
    ],
)
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(DescendError, match=message):
        spec(**kwargs)


def test_a_start_that_is_not_a_point_of_the_surface_is_refused_when_the_spec_is_made():
    """Refused by RunSpec itself: no spec, so no run of any group can start (the good
    spec here is of another rule, another group)."""
    progress = []
    with pytest.raises(
        DescendError, match=r"Invalid start: \(1\.0, 2\.0, 3\.0\) \(allowed: a point \(w1, w2\)"
    ):
        run(
            [spec("adam", lr=0.1), spec(start=(1.0, 2.0, 3.0))],
            progress=lambda *a: progress.append(a),
        )
    assert progress == []
    with pytest.raises(
        DescendError, match=r"Invalid start: \(nan, 1\.0\) \(allowed: finite numbers\)"
    ):
        spec(start=(float("nan"), 1.0))


def test_parameters_of_any_shape_are_stacked_and_updated_per_run():
    """A task with two parameter tensors: K runs still equal K runs one by one, and too
    many parameters per run means no trajectory is kept."""

    class TwoTensors:
        name = "two tensors"
        examples = None

        def check(self, run):
            pass

        def initial_params(self, run, generator):
            return {
                "a": torch.randn(3, 4, generator=generator),
                "b": torch.randn(5, generator=generator),
            }

        def on(self, device, dtype):
            return self

        def losses(self, params, batch, step):
            return (params["a"] ** 2).sum(dim=(1, 2)) + ((params["b"] - 1) ** 2).sum(dim=1)

        def evaluate(self, params):
            return {}

    task = TwoTensors()
    specs = [
        RunSpec(task, OptimizerSpec("adam", {"lr": lr}), 25, seed=s)
        for s, lr in [(0, 0.1), (1, 0.05)]
    ]
    together = run(specs)
    for one, result in zip(specs, together, strict=True):
        torch.testing.assert_close(result.loss, run([one])[0].loss, rtol=1e-12, atol=0)
        assert result.trajectory is None and result.loss[-1] < result.loss[0]
