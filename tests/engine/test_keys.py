"""Content keys: equal specs have equal keys however they are written; any change to
what a run computes changes its key; labels and tags do not; a spec holding a Python
function runs but has no key; keys are the same in another process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from typing import Any

import pytest
import torch

from descend import engine, schedules
from descend.engine import OptimizerSpec, Regime, RunSpec, TaskSpec, keys
from descend.errors import DescendError
from descend.experiments import vocabulary
from descend.tasks import surfaces

TASK = TaskSpec("quadratic-regression")
SURFACE = TaskSpec("anisotropic")


def base(**changes: Any) -> RunSpec:
    """A data run; `changes` replace its fields (optimizer hyper-parameters via `hyper`)."""
    hyper = {"lr": 0.01, "momentum": 0.9, **changes.pop("hyper", {})}
    fields: dict[str, Any] = {
        "task": TASK,
        "optimizer": OptimizerSpec(changes.pop("rule", "sgd"), hyper),
        "epochs": 5,
        "regime": Regime.parse("minibatch:25:shuffle"),
        "seed": 0,
    }
    fields.update(changes)
    return RunSpec(**fields)


def surface_run(**changes: Any) -> RunSpec:
    fields: dict[str, Any] = {
        "task": SURFACE,
        "optimizer": OptimizerSpec("sgd", {"lr": 0.01}),
        "updates": 20,
        "start": (1.0, 1.0),
    }
    fields.update(changes)
    return RunSpec(**fields)


def test_a_key_is_the_digest_of_its_content_as_sorted_json() -> None:
    """The definition stored keys were made by (keys must not drift between versions: a
    store's runs would all be missed), also for content holding a tensor and a schedule."""
    specs = [
        base(),
        surface_run(start=(0.5, -1.25)),
        base(hyper={"lr": schedules.cosine(lr=0.1, T_max=10)}),
        base(hyper={"lr": torch.tensor([0.1, 0.2])}),
    ]
    for spec in specs:
        content = keys.canonical(spec.content())
        text = json.dumps({"v": keys.KEY_VERSION, "data": content}, sort_keys=True)
        assert spec.key == hashlib.sha256(text.encode()).hexdigest()[:20]
        assert keys.text_digest(keys.canonical_text(content)) == spec.key


def test_a_key_is_twenty_hex_digits() -> None:
    key = base().key
    assert len(key) == 20 and all(c in "0123456789abcdef" for c in key)


def test_equal_specs_made_separately_have_equal_keys() -> None:
    assert base().key == base().key
    assert surface_run().key == surface_run().key


# --- the same run, written differently -----------------------------------------------


def test_default_hyper_parameters_written_out_as_floats_give_the_same_key() -> None:
    short = base(optimizer=OptimizerSpec("sgd", {}))
    written = base(optimizer=OptimizerSpec("sgd", {"lr": 0.001, "momentum": 0.0}))
    assert short.key == written.key


def test_default_hyper_parameters_written_as_integers_give_the_same_key() -> None:
    short = base(optimizer=OptimizerSpec("sgd", {}))
    written = base(optimizer=OptimizerSpec("sgd", {"lr": 0.001, "momentum": 0}))
    assert short.key == written.key


def test_the_text_form_of_the_default_optimizer_gives_the_same_key() -> None:
    short = base(optimizer=vocabulary.optimizer("sgd"))
    written = base(optimizer=vocabulary.optimizer("sgd:lr=0.001,momentum=0"))
    assert short.key == written.key


def test_an_integer_lr_and_the_equal_float_give_the_same_key() -> None:
    assert base(hyper={"lr": 1}).key == base(hyper={"lr": 1.0}).key


def test_betas_as_a_list_or_a_tuple_give_the_same_key() -> None:
    as_list = base(optimizer=OptimizerSpec("adam", {"lr": 0.01, "betas": [0.8, 0.99]}))
    as_tuple = base(optimizer=OptimizerSpec("adam", {"lr": 0.01, "betas": (0.8, 0.99)}))
    assert as_list.key == as_tuple.key


def test_the_order_hyper_parameters_are_given_in_does_not_matter() -> None:
    one = base(optimizer=OptimizerSpec("sgd", {"lr": 0.01, "momentum": 0.9}))
    other = base(optimizer=OptimizerSpec("sgd", {"momentum": 0.9, "lr": 0.01}))
    assert one.key == other.key


def test_no_regime_and_the_full_regime_give_the_same_key() -> None:
    assert base(regime=None).key == base(regime=Regime("full")).key
    assert base(regime=Regime.parse("minibatch:25")).key == base().key  # shuffle by default


def test_a_task_parameter_written_at_its_default_gives_the_same_key() -> None:
    assert base(task=TaskSpec("quadratic-regression", {"n": 100})).key == base().key


def test_a_schedule_is_keyed_by_its_name_and_parameters() -> None:
    one = schedules.get("step", lr=0.01, step_size=3, gamma=0.5)
    other = schedules.get("step", lr=0.01, step_size=3, gamma=0.5)
    assert one is not other
    assert base(hyper={"lr": one}).key == base(hyper={"lr": other}).key


# --- any change changes the key ------------------------------------------------------

STEP = {"lr": schedules.get("step", lr=0.01, step_size=3, gamma=0.5)}

CHANGES: dict[str, dict[str, Any]] = {
    "task parameter n": {"task": TaskSpec("quadratic-regression", {"n": 60})},
    "task parameter data_seed": {"task": TaskSpec("quadratic-regression", {"data_seed": 1})},
    "task": {"task": TaskSpec("linear-regression")},
    "rule": {"rule": "rmsprop", "hyper": {"momentum": 0.9}},
    "lr": {"hyper": {"lr": 0.02}},
    "momentum": {"hyper": {"momentum": 0.5}},
    "dampening": {"hyper": {"dampening": 0.1}},
    "weight_decay": {"hyper": {"weight_decay": 1e-4}},
    "nesterov": {"hyper": {"nesterov": True}},
    "maximize": {"hyper": {"maximize": True}},
    "momentum_form": {"hyper": {"momentum_form": "classical"}},
    "lr as a schedule": {"hyper": STEP},
    "regime order": {"regime": Regime.parse("minibatch:25:fixed")},
    "regime batch size": {"regime": Regime.parse("minibatch:20:shuffle")},
    "regime drop_last": {"regime": Regime.parse("minibatch:25:shuffle:drop_last")},
    "regime full": {"regime": Regime("full")},
    "epochs": {"epochs": 6},
    "updates instead of epochs": {"epochs": None, "updates": 21},
    "seed": {"seed": 1},
    "init_seed": {"init_seed": 5},
    "gradient noise": {"gradient_noise": 0.1},
    "dtype": {"dtype": "float32"},
    "eval_every": {"eval_every": 2},
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_change_to_the_run_changes_its_key(change: dict[str, Any]) -> None:
    assert base(**change).key != base().key


def test_all_the_changed_runs_have_distinct_keys() -> None:
    keys = [base(**change).key for change in CHANGES.values()] + [base().key]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.get("step", lr=0.01, step_size=3, gamma=0.25),
        schedules.get("step", lr=0.01, step_size=4, gamma=0.5),
        schedules.get("step", lr=0.02, step_size=3, gamma=0.5),
        schedules.get("exponential", lr=0.01, gamma=0.5),
    ],
)
def test_a_change_to_a_schedule_parameter_changes_the_key(schedule: Any) -> None:
    assert base(hyper={"lr": schedule}).key != base(hyper=STEP).key


@pytest.mark.parametrize(
    "change",
    [
        {"start": (1.0, 2.0)},
        {"start": (1.0, 1.0 + 1e-12)},
        {"updates": 21},
        {"task": TaskSpec("anisotropic", {"kappa": 20.0})},
    ],
)
def test_any_change_to_a_surface_run_changes_its_key(change: dict[str, Any]) -> None:
    assert surface_run(**change).key != surface_run().key


def test_labels_and_tags_do_not_change_the_key() -> None:
    plain = base()
    labelled = base(optimizer=OptimizerSpec("sgd", {"lr": 0.01, "momentum": 0.9}, "heavy ball"))
    assert labelled.key == plain.key
    assert base(optimizer=plain.optimizer.relabelled("other")).key == plain.key
    assert base(tags={"lr": 0.01, "regime": "x"}).key == plain.key


# --- what has no key -----------------------------------------------------------------


def test_a_lambda_schedule_runs_but_its_key_is_refused() -> None:
    schedule = schedules.get("lambda", lr=0.1, lr_lambda=lambda k: 0.9**k)
    spec = surface_run(optimizer=OptimizerSpec("sgd", {"lr": schedule}), updates=5)
    result = engine.run([spec])[0]
    assert result.lr.tolist() == pytest.approx([0.1 * 0.9**k for k in range(5)], rel=1e-15)
    with pytest.raises(DescendError, match=r"is not plain data .* has no content key"):
        _ = spec.key


def test_a_custom_task_object_runs_but_its_key_is_refused() -> None:
    surface = surfaces.get("anisotropic")  # a Task object, not a TaskSpec
    spec = surface_run(task=surface)
    assert engine.run([spec])[0].loss.shape == (21,)
    with pytest.raises(DescendError, match=r"is a Python object, not a TaskSpec.*no content key"):
        _ = spec.key


# --- stable across processes ---------------------------------------------------------

CHILD = """
from descend import schedules
from descend.engine import OptimizerSpec, Regime, RunSpec, TaskSpec, keys
spec = RunSpec(
    TaskSpec("quadratic-regression", {"n": 60, "a_std": 0.25}),
    OptimizerSpec("adam", {"lr": schedules.get("step", lr=0.01, step_size=3, gamma=0.5),
                           "betas": [0.8, 0.99]}),
    epochs=5, regime=Regime.parse("minibatch:25:fixed:drop_last"), seed=3, init_seed=1,
    gradient_noise=0.01, dtype="float32", eval_every=2,
)
print(spec.key)
"""


def test_keys_are_the_same_in_another_process() -> None:
    namespace: dict[str, Any] = {}
    exec(CHILD.replace("print(spec.key)", ""), namespace)
    here = namespace["spec"].key
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},  # other string hashes,
    )
    assert child.stdout.strip() == here
