"""Schedules inside studies: one per optimizer, per update or per epoch, written as text;
a factor as a formula of k; reduce_on_plateau driven by a metric, as torch's."""

from __future__ import annotations

import pytest
import torch

import descend
from descend import schedules
from descend.errors import DescendError, HyperparameterError
from descend.experiments import vocabulary
from descend.plateau import PlateauState


def torch_lrs(make, steps: int, every: int = 1) -> list[float]:
    """The lr of each optimizer step under a torch scheduler stepped every `every` steps."""
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=0.1)
    scheduler = make(optimizer)
    lrs = []
    for k in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if (k + 1) % every == 0:
            scheduler.step()
    return lrs


def test_a_schedule_stepped_per_epoch_is_torchs_stepped_after_each_epoch():
    cosine = schedules.get("cosine", lr=0.1, T_max=4)
    ours = schedules.get("per_epoch", schedule=cosine, updates=5)
    make = lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4)  # noqa: E731
    assert [ours(k) for k in range(30)] == pytest.approx(torch_lrs(make, 30, every=5), rel=1e-12)


@pytest.mark.parametrize(
    "settings",
    [
        dict(mode="min", factor=0.5, patience=2),
        dict(mode="min", factor=0.1, patience=0, threshold=0.1, threshold_mode="abs", cooldown=2),
        dict(mode="max", factor=0.3, patience=1, min_lr=0.005),
        dict(mode="min", factor=0.5, patience=1, eps=0.03),
    ],
)
def test_reduce_on_plateau_is_torchs_run_by_run(settings):
    """K runs, each its own metric sequence, against K torch schedulers."""
    g = torch.Generator().manual_seed(0)
    metrics = torch.rand(3, 40, generator=g, dtype=torch.float64).cumsum(1) * -1 + 20
    metrics[1, 10:25] = metrics[1, 10]  # a plateau
    metrics[2] = torch.rand(40, generator=g, dtype=torch.float64)  # noise
    plateau = schedules.get("reduce_on_plateau", lr=0.1, **settings)
    state = PlateauState(plateau, 3, torch.device("cpu"))
    alone = []
    for k in range(3):
        p = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([p], lr=0.1)
        theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **settings)
        expected = []
        for value in metrics[k]:
            theirs.step(float(value))
            expected.append(optimizer.param_groups[0]["lr"])
        ours = PlateauState(plateau, 1, torch.device("cpu"))
        got = []
        for value in metrics[k]:
            ours.observe(value[None])
            got.append(float(ours(0)[0]))
        assert got == pytest.approx(expected, rel=1e-12)
        alone.append(got)
    together = []
    for t in range(40):  # all three at once: each as alone
        state.observe(metrics[:, t])
        together.append(state(0).tolist())
    assert [list(row) for row in zip(*together, strict=True)] == alone


def test_a_plateau_study_lowers_the_lr_when_its_metric_stops_improving():
    study = descend.compare(
        "digits-mlp", ["sgd:lr=cosine(T_max=5)"], epochs=3, seeds=1,
        schedules=(),
    )  # fmt: skip
    assert study.results[0].lr[0] == pytest.approx(0.001)  # sgd's own lr under the cosine
    plateau = descend.compare(
        "digits-mlp",
        ["adam:lr=reduce_on_plateau(lr=0.01,patience=0,factor=0.5,threshold=0.5)"],
        epochs=6, seeds=2, regimes=["minibatch:64:shuffle"],
    )  # fmt: skip
    for run in plateau.results:
        per_epoch = 1437 // 64 + 1
        lrs = run.lr.reshape(6, per_epoch)
        assert (lrs == lrs[:, :1]).all()  # changed only between epochs
        # replay torch's scheduler on the run's own evaluations
        p = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.Adam([p], lr=0.01)
        theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, patience=0, factor=0.5, threshold=0.5
        )
        for epoch in range(6):
            assert float(lrs[epoch, 0]) == pytest.approx(optimizer.param_groups[0]["lr"])
            theirs.step(float(run.evaluations["train_loss"][epoch + 1]))
        assert float(lrs[-1, 0]) < 0.01  # a loss that stops halving at each epoch lowers it


def test_an_optimizer_carries_its_own_schedule_in_the_words_of_the_cli():
    study = descend.compare(
        "quadratic-regression",
        ["sgd:lr=cosine:T_max=10", "sgd:lr=cosine(T_max=10,eta_min=0.0005)", "sgd"],
        lr=1e-3, epochs=20, seeds=1, schedule_unit="epoch", regimes=["minibatch:25:fixed"],
    )  # fmt: skip
    plain_cosine, floored, constant = (r.lr for r in study.results)
    expected = schedules.get("cosine", lr=1e-3, T_max=10)
    assert plain_cosine.tolist() == pytest.approx([expected(k // 4) for k in range(80)])
    assert float(floored.min()) == pytest.approx(0.0005)
    assert (constant == 1e-3).all()
    labels = study.results.labels()
    assert labels[0] == "sgd cosine:T_max=10" and labels[1] == "sgd cosine(T_max=10,eta_min=0.0005)"


def test_several_schedules_give_a_row_each():
    study = descend.compare(
        "quadratic-regression", ["sgd:lr=1e-3"], epochs=5, seeds=1,
        schedules=["step:step_size=2", "exponential:gamma=0.5"],
    )  # fmt: skip
    assert [s["row"] for s in study.summaries()] == [
        "sgd step:step_size=2", "sgd exponential:gamma=0.5",  # (lr=0.001: sgd's default)
    ]  # fmt: skip


def test_a_factor_written_as_a_formula_of_k():
    ours = schedules.get("lambda", lr=0.1, factor="0.95**k")
    make = lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda k: 0.95**k)  # noqa: E731
    assert [ours(k) for k in range(20)] == pytest.approx(torch_lrs(make, 20), rel=1e-12)
    spec = vocabulary.optimizer("sgd:lr=lambda(lr=0.1,factor=0.95**k)")
    assert spec.schedule == "lambda(lr=0.1,factor=0.95**k)"


def test_schedules_made_of_schedules_written_as_text():
    """A warm-up before any schedule, and sequential, from the CLI's and TOML's words: the
    same lrs as the schedules composed in Python, and as torch's SequentialLR."""
    warm = vocabulary.schedule("warmup(warmup_steps=5,start_factor=0.2,then=cosine(T_max=50))", 0.1)
    composed = schedules.warmup(
        lr=0.1, warmup_steps=5, start_factor=0.2, then=schedules.cosine(lr=0.1, T_max=50)
    )
    assert [warm(k) for k in range(80)] == [composed(k) for k in range(80)]
    make = lambda o: torch.optim.lr_scheduler.SequentialLR(  # noqa: E731
        o,
        [torch.optim.lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=5),
         torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=50)],
        milestones=[5],
    )  # fmt: skip
    assert [warm(k) for k in range(50)] == pytest.approx(torch_lrs(make, 50), rel=1e-12)
    chained = vocabulary.schedule(
        "sequential(schedules=[constant, step(step_size=3,gamma=0.5)],milestones=[4])", 0.1
    )
    assert [chained(k) for k in range(10)] == pytest.approx(
        [0.1] * 4 + [0.1, 0.1, 0.1, 0.05, 0.05, 0.05], rel=1e-12
    )
    study = descend.compare(
        "quadratic-regression", ["sgd:lr=warmup(lr=0.01,warmup_steps=4,then=exponential(gamma=0.9))"],
        updates=8, seeds=1,
    )  # fmt: skip
    expected = [0.01 * k / 4 for k in range(4)] + [0.01 * 0.9**k for k in range(4)]
    assert study.results[0].lr.tolist() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: descend.surface("bowl", ["sgd"], schedule="reduce_on_plateau"), DescendError,
         r"reduce_on_plateau needs a metric read at evaluations: a task with data"),
        (lambda: descend.compare("quadratic-regression", epochs=2, seeds=1, schedule_unit="week"),
         DescendError, r"Invalid schedule_unit: 'week'.*Allowed: step, epoch"),
        (lambda: schedules.get("multistep", lr=0.1, milestones=(5, 3)), HyperparameterError,
         r"milestones"),
        (lambda: vocabulary.optimizer("sgd:lr=cosine:T_max=10,schedule=step:step_size=2"),
         DescendError, r"gives two schedules"),
        (lambda: schedules.get("lambda", lr=0.1, factor="0.95**t"), DescendError,
         r"Formula: 't' at column 7 is not allowed \(allowed names: k, pi, e"),
        (lambda: schedules.get("reduce_on_plateau", lr=0.1, metric="accuracy"),
         HyperparameterError, r"Invalid metric: 'accuracy'"),
    ],
)  # fmt: skip
def test_bad_schedules_are_refused_before_any_run(call, error, message):
    with pytest.raises(error, match=message):
        call()
