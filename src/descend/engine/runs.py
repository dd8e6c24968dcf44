"""Run specs (what to run) and the task protocol the engine runs them on.

A run is one rule, with its hyper-parameters, minimising one task from one start (or
from one seed's initial weights), under one data regime, for a budget of updates or
epochs. A spec is plain data, checked once when it is made, with a content key
(`spec.key`): the store finds finished runs by it. Its task is named (`TaskSpec`: a
registered task or surface with its parameters, or a formula's text), and built once
per process however many specs name it.

One seed drives everything random in a run, through separate streams (`stream_seed`):
the initial weights, the data order, dropout and gradient noise. Runs with the same seed
start from the same weights (seed 002's deepcopy) and, under the same regime, see the
same batches: comparisons between rules are paired. `init_seed` holds the initial
weights fixed while the data order varies with `seed`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from descend import checks, optim
from descend.engine.keys import content_key
from descend.engine.regimes import Regime
from descend.errors import DescendError

_BUILT: dict[str, Task] = {}  # tasks by their spec's key, oldest first
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@runtime_checkable
class Task(Protocol):
    """What the engine minimises: a surface, a regression, a network on a dataset.

    Parameters of K runs come stacked along a leading run axis, (K, ...)."""

    name: str
    examples: int | None  # training examples; None: an analytic function with no data

    def check(self, run: RunSpec) -> None:
        """Refuse a run the task cannot do (a start that is not one of its points)."""
        ...

    def initial_params(self, run: RunSpec, generator: torch.Generator) -> dict[str, Tensor]:
        """One run's parameters before its first update, from its start or its init stream."""
        ...

    def on(self, device: torch.device, dtype: torch.dtype) -> Task:
        """The task with its data on `device` in `dtype` (itself when it has none)."""
        ...

    def losses(self, params: Mapping[str, Tensor], batch: Tensor | None, step: Step) -> Tensor:
        """The K losses (K,) on `batch` ((K, B) indices; None: all data, or no data)."""
        ...

    def evaluate(self, params: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """What the task measures at an evaluation point, (K,) each: the loss on all
        training data ("train_loss"), a test split's metrics; {} for no data."""
        ...


@dataclass(frozen=True)
class Step:
    """Where K runs are: the update's index and each run's dropout stream seed."""

    index: int
    dropout_seeds: tuple[int, ...]


def takes_gradients(rule: optim.Optimizer) -> bool:
    """Whether the engine hands the rule its gradients (L-BFGS evaluates f itself)."""
    return rule.lockstep


def stream_seed(seed: int, stream: str) -> int:
    """A seed for one stream ("init", "data", "dropout", "noise") of a run's seed."""
    digest = hashlib.sha256(f"descend/{stream}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # < 2**63: what torch accepts


@dataclass(frozen=True)
class TaskSpec:
    """A task by name (a registered task or surface, or a formula's text) and parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Task:
        """The task, built once per process (a formula is parsed once, data drawn once)."""
        from descend import tasks

        key = self.key
        if key not in _BUILT:
            if len(_BUILT) >= 64:
                _BUILT.pop(next(iter(_BUILT)))
            _BUILT[key] = tasks.build(self)
        return _BUILT[key]

    @cached_property
    def key(self) -> str:
        """The task's content key (runs on the same task can share one computation)."""
        return content_key(self.content())

    def content(self) -> dict[str, Any]:
        """The name and every parameter, defaults included (written or not, the same task)."""
        return {"name": self.name, "params": dict(self._content_params)}

    @cached_property
    def _content_params(self) -> dict[str, Any]:
        # once per spec: a study's runs share their task spec, and a surface study stores
        # thousands of runs (the defaults are read from the task's signature)
        from descend import tasks

        return tasks.content_params(self.name, dict(self.params))

    def __str__(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}:{args}" if args else self.name


@dataclass(frozen=True)
class OptimizerSpec:
    """A rule by name, its hyper-parameters (lr may be a schedule), and a label.

    The rule is built, and so checked, once, here; `build()` returns that instance."""

    rule: str
    hyperparams: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""  # the label a user (or a study) chose; "" for none
    # this optimizer's own schedule, as written ("cosine:T_max=10"), for a study to build
    # around the run's lr (its lr, else the study's, else the rule's): studies resolve it
    # into hyperparams["lr"] before any run; a spec given to the engine directly has none
    schedule: Any = None
    _built: optim.Optimizer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_built", optim.get(self.rule, **self.hyperparams))

    def build(self) -> optim.Optimizer:
        return self._built

    def relabelled(self, label: str) -> OptimizerSpec:
        """The same spec under another label (not built or checked again)."""
        copy = object.__new__(OptimizerSpec)
        copy.__dict__.update(self.__dict__)
        object.__setattr__(copy, "label", label)
        return copy

    @property
    def name(self) -> str:
        """What tables and legends show: the chosen label, else 'sgd momentum=0.9'."""
        return self.label or self._built.label

    def content(self) -> dict[str, Any]:
        return {"rule": self.rule, "hyperparams": dict(self._built.hyperparams)}


@dataclass(frozen=True)
class RunSpec:
    """One run. Give `updates`, or `epochs` for a task with data (then a regime too:
    `full` when none is given). `start` is a point of a low-dimensional task."""

    task: TaskSpec | Task
    optimizer: OptimizerSpec
    updates: int | None = None
    epochs: int | None = None
    regime: Regime | None = None
    start: tuple[float, ...] | None = None
    seed: int = 0
    init_seed: int | None = None  # initial weights from this seed, data order from `seed`
    gradient_noise: float = 0.0  # σ of Gaussian noise added to every gradient
    dtype: str = "float64"
    eval_every: int = 1  # epochs between evaluations (tasks with data)
    tags: Mapping[str, Any] = field(default_factory=dict, compare=False)  # sweep values, ...

    def __post_init__(self) -> None:
        task = self.built_task
        if (self.updates is None) == (self.epochs is None):
            raise DescendError(
                "Give a budget in updates or in epochs, not both and not neither.", key="budget"
            )
        if self.updates is not None:
            checks.integer("updates", self.updates, low=1)
        checks.integer("seed", self.seed)
        if self.init_seed is not None:
            checks.integer("init_seed", self.init_seed)
        checks.number("gradient_noise", self.gradient_noise, low=0.0)
        checks.choice("dtype", self.dtype, DTYPES)
        checks.integer("eval_every", self.eval_every, low=1)
        self._check_data(task)
        if self.gradient_noise > 0 and not takes_gradients(self.optimizer.build()):
            raise DescendError(
                f"{self.optimizer.rule} computes its own gradients: gradient_noise must be 0.",
                key="gradient_noise",
            )
        if self.start is not None:
            object.__setattr__(self, "start", checks.point("start", self.start))
        task.check(self)

    def _check_data(self, task: Task) -> None:
        if task.examples is None:
            if self.regime is not None or self.epochs is not None:
                what = "a regime" if self.regime is not None else "epochs"
                raise DescendError(
                    f"{task.name} has no data: {what} cannot apply (give updates).",
                    key="regime" if self.regime is not None else "epochs",
                )
            return
        if self.regime is None:
            object.__setattr__(self, "regime", Regime("full"))
        assert self.regime is not None
        self.regime.check(task.examples)
        if self.epochs is not None:
            checks.integer("epochs", self.epochs, low=1)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a worker process) without what it caches: the built task (its data
        set) is rebuilt where it is needed, once."""
        state = dict(self.__dict__)
        state.pop("built_task", None)
        state.pop("key", None)
        return state

    @cached_property
    def built_task(self) -> Task:
        return self.task.build() if isinstance(self.task, TaskSpec) else self.task

    @property
    def steps(self) -> int:
        """The number of updates the run makes."""
        if self.updates is not None:
            return self.updates
        assert self.epochs is not None and self.regime is not None
        return self.epochs * self.updates_per_epoch

    @property
    def updates_per_epoch(self) -> int | None:
        examples = self.built_task.examples
        if examples is None or self.regime is None:
            return None
        return self.regime.updates_per_epoch(examples)

    @property
    def label(self) -> str:
        return self.optimizer.name

    def stream(self, name: str) -> int:
        """The seed of one of this run's random streams (see `stream_seed`)."""
        seed = self.init_seed if name == "init" and self.init_seed is not None else self.seed
        return stream_seed(seed, name)

    def content(self) -> dict[str, Any]:
        """What the run computes, as plain data (no label, no tags)."""
        if not isinstance(self.task, TaskSpec):
            raise DescendError(
                f"The task {self.built_task.name!r} is a Python object, not a TaskSpec: "
                "the run can run but has no content key."
            )
        return {
            "task": self.task.content(),
            "optimizer": self.optimizer.content(),
            "budget": {"updates": self.steps, "epochs": self.epochs},
            "regime": None if self.regime is None else self.regime.content(),
            "start": self.start,
            "seed": self.seed,
            "init_seed": self.init_seed,
            "gradient_noise": self.gradient_noise,
            "dtype": self.dtype,
            "eval_every": self.eval_every if self.regime is not None else None,
        }

    @cached_property
    def key(self) -> str:
        """The content key: equal for specs of the same run, different otherwise."""
        return content_key(self.content())

    def replace(self, **changes: Any) -> RunSpec:
        return replace(self, **changes)
