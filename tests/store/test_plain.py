"""Specs back from their content: every kind of spec reads back with the same key, the
same label and the same presentation; what is not canonical data is refused."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

from descend import schedules
from descend.engine import OptimizerSpec, Regime, RunSpec, TaskSpec
from descend.engine.keys import canonical
from descend.engine.plain import plain, regime_from_content, spec_from_content
from descend.errors import DescendError

QUADRATIC = TaskSpec("quadratic-regression")


def data_run(**changes: Any) -> RunSpec:
    fields: dict[str, Any] = {
        "task": QUADRATIC,
        "optimizer": OptimizerSpec("sgd", {"lr": 0.01, "momentum": 0.9}),
        "epochs": 3,
        "regime": Regime.parse("minibatch:25:shuffle"),
    }
    return RunSpec(**{**fields, **changes})


def surface_run(**changes: Any) -> RunSpec:
    fields: dict[str, Any] = {
        "task": TaskSpec("anisotropic", {"kappa": 20}),
        "optimizer": OptimizerSpec("sgd", {"lr": 0.01}),
        "updates": 7,
        "start": (1.0, -0.3333333333333333),
    }
    return RunSpec(**{**fields, **changes})


STEP = schedules.get("step", lr=0.01, step_size=3, gamma=0.5)
SPECS: dict[str, RunSpec] = {
    "sgd momentum": data_run(),
    "adam betas": data_run(optimizer=OptimizerSpec("adam", {"lr": 3e-4, "betas": (0.8, 0.99)})),
    "adamw amsgrad": data_run(optimizer=OptimizerSpec("adamw", {"amsgrad": True})),
    "rmsprop centered": data_run(optimizer=OptimizerSpec("rmsprop", {"centered": True})),
    "adagrad": data_run(optimizer=OptimizerSpec("adagrad", {"lr_decay": 0.01})),
    "ftrl": data_run(optimizer=OptimizerSpec("ftrl", {})),
    "lbfgs": surface_run(optimizer=OptimizerSpec("lbfgs", {"lr": 1, "history_size": 5})),
    "step schedule": data_run(optimizer=OptimizerSpec("sgd", {"lr": STEP})),
    "nested schedules": data_run(
        optimizer=OptimizerSpec(
            "sgd",
            {
                "lr": schedules.get(
                    "warmup", lr=0.1, warmup_steps=5, then=schedules.get("cosine", lr=0.1, T_max=20)
                )
            },
        )
    ),
    "sequential": data_run(
        optimizer=OptimizerSpec(
            "sgd",
            {
                "lr": schedules.get(
                    "sequential",
                    schedules=[schedules.get("constant", lr=0.1), STEP],
                    milestones=[4],
                )
            },
        )
    ),
    "multistep milestones": data_run(
        optimizer=OptimizerSpec(
            "sgd", {"lr": schedules.get("multistep", lr=0.1, milestones=[2, 5])}
        )
    ),
    "runwise lr tensor": surface_run(
        optimizer=OptimizerSpec("sgd", {"lr": torch.tensor([0.01], dtype=torch.float64)})
    ),
    "full": data_run(regime=Regime("full")),
    "single fixed": data_run(regime=Regime.parse("single:fixed")),
    "replacement drop_last": data_run(regime=Regime.parse("minibatch:30:replacement:drop_last")),
    "updates on data": data_run(epochs=None, updates=11),
    "seeds and noise": data_run(seed=7, init_seed=2, gradient_noise=0.25),
    "float32, eval every 2": data_run(dtype="float32", eval_every=2, epochs=4),
    "task parameters": data_run(task=TaskSpec("linear-regression", {"d": 5, "condition": 1000})),
    "surface, odd start": surface_run(start=(0.1, 1e-300)),
    "formula": surface_run(task=TaskSpec("w1**2 + 3*w2**2 + w1*w2")),
    "nan-free tiny float": surface_run(optimizer=OptimizerSpec("sgd", {"lr": 1e-17})),
    "network": RunSpec(
        TaskSpec("digits-mlp", {"widths": (16,)}),
        OptimizerSpec("adam", {"lr": 1e-3}),
        epochs=1,
        regime=Regime.parse("minibatch:64:shuffle"),
        dtype="float32",
    ),
    "labelled": data_run(
        optimizer=OptimizerSpec("sgd", {"lr": 0.01}, "my <sgd>"), tags={"lr": 0.01}
    ),
}


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_a_spec_read_back_from_its_stored_content_has_the_same_key(spec: RunSpec) -> None:
    stored = json.loads(json.dumps(canonical(spec.content())))  # what the store keeps
    back = spec_from_content(stored, label=spec.label, tags=spec.tags)  # as the store keeps it
    assert back.key == spec.key
    assert back.label == spec.label
    assert back.steps == spec.steps and back.epochs == spec.epochs
    assert back.content() == spec.content() or canonical(back.content()) == canonical(
        spec.content()
    )
    assert dict(back.tags) == dict(spec.tags)


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_a_spec_read_back_from_its_content_as_python_has_the_same_key(spec: RunSpec) -> None:
    assert spec_from_content(spec.content()).key == spec.key


def test_a_schedule_reads_back_as_a_schedule_that_gives_the_same_rates() -> None:
    stored = json.loads(json.dumps(canonical(SPECS["nested schedules"].content())))
    lr = spec_from_content(stored).optimizer.build().hyperparams["lr"]
    original = SPECS["nested schedules"].optimizer.build().hyperparams["lr"]
    assert [lr(k) for k in range(30)] == [original(k) for k in range(30)]


def test_the_regime_as_written_is_kept_when_given() -> None:
    spec = data_run(regime=Regime.parse("minibatch:1:shuffle"))
    stored = json.loads(json.dumps(canonical(spec.content())))
    assert str(spec_from_content(stored).regime) == "single"  # the same run
    assert (
        str(spec_from_content(stored, regime="minibatch:1:shuffle").regime) == "minibatch:1:shuffle"
    )


def test_regimes_read_back_from_their_content() -> None:
    for text in ["full", "single", "single:fixed", "minibatch:7:replacement", "full:drop_last"]:
        regime = Regime.parse(text)
        assert str(regime_from_content(regime.content())) == text
    assert regime_from_content(None) is None


def test_plain_reads_floats_exactly_and_non_finite_floats() -> None:
    values = [0.1, 1 / 3, -2.5e-310, math.inf]
    assert plain(json.loads(json.dumps(canonical(values)))) == tuple(values)
    assert math.isnan(plain(canonical(math.nan)))


def test_plain_refuses_what_is_not_canonical() -> None:
    with pytest.raises(DescendError, match=r"Cannot read \{'function': 'print'\} back"):
        plain({"function": "print"})
