"""The optimizer interface, the registry of rules, and `apply_updates`.

An optimizer is a pair of pure functions on dicts of tensors (optax's model)::

    state = opt.init(params)                       # params: dict[str, Tensor]
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)        # params + updates

Nothing is modified in place: `update` returns new tensors and a new state, so a state
can be kept, copied, saved or compared at any step.

Most rules are element-wise: written once for a single tensor as
``init_tensor(param, h) -> state`` and ``update_tensor(grad, state, param, h) ->
(update, state)``, where `h` holds the hyper-parameters as that tensor sees them
(see `hyper.Hyper`). `Elementwise` maps those two functions over a dict of parameters,
and `to_torch` runs the very same two functions inside a torch.optim.Optimizer.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from descend.optim.hyper import Hyper
from descend.registry import Registry

Params = Mapping[str, Tensor]
State = dict[str, Any]
ValueFn = Callable[[Params], Tensor]


class Optimizer(ABC):
    """An update rule with its hyper-parameters fixed (lr may still be a schedule)."""

    name: str
    hyperparams: Mapping[str, Any]

    @abstractmethod
    def init(self, params: Params) -> State:
        """The state before the first update."""

    @abstractmethod
    def update(
        self, grads: Params | None, state: State, params: Params, *, value_fn: ValueFn | None = None
    ) -> tuple[dict[str, Tensor], State]:
        """The updates to add to `params` and the new state.

        `value_fn(params) -> loss` is used only by rules that evaluate the objective
        themselves (L-BFGS); element-wise rules ignore it."""

    @abstractmethod
    def to_torch(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        """A real torch.optim.Optimizer running this rule on `params`."""

    def replace(self, **changes: Any) -> Optimizer:
        """The same rule with some hyper-parameters changed (validated again)."""
        return get(self.name, **{**self.hyperparams, **changes})

    @property
    def label(self) -> str:
        """The rule and its non-default hyper-parameters: 'sgd momentum=0.9'."""
        defaults = hyperparameter_defaults(self.name)
        changed = [
            f"{key}={_short(value)}"
            for key, value in self.hyperparams.items()
            if not _same(value, defaults.get(key, inspect.Parameter.empty))
        ]
        return " ".join([self.name, *changed])

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={_short(value)}" for key, value in self.hyperparams.items())
        return f"{self.name}({args})"


InitTensor = Callable[[Tensor, Hyper], State]
UpdateTensor = Callable[[Tensor, State, Tensor, Hyper], tuple[Tensor, State]]


@dataclass(frozen=True, repr=False)
class Elementwise(Optimizer):
    """A rule that updates each parameter tensor from its own gradient and state."""

    name: str
    hyperparams: Mapping[str, Any]
    init_tensor: InitTensor
    update_tensor: UpdateTensor

    def init(self, params: Params) -> State:
        return {key: self.init_one(param, self.hyperparams) for key, param in params.items()}

    def update(
        self, grads: Params | None, state: State, params: Params, *, value_fn: ValueFn | None = None
    ) -> tuple[dict[str, Tensor], State]:
        if grads is None:
            raise ValueError(f"{self.name} needs the gradients: update(grads, state, params).")
        updates: dict[str, Tensor] = {}
        new_state = dict(state)
        for key, param in params.items():
            grad = grads.get(key)
            if grad is None:  # as torch.optim: a parameter without gradient is left alone
                continue
            updates[key], new_state[key] = self.step_one(grad, state[key], param, self.hyperparams)
        return updates, new_state

    def init_one(self, param: Tensor, hyperparams: Mapping[str, Any]) -> State:
        return {"step": 0, **self.init_tensor(param, Hyper(hyperparams, param, 0))}

    def step_one(
        self, grad: Tensor, state: State, param: Tensor, hyperparams: Mapping[str, Any]
    ) -> tuple[Tensor, State]:
        """One update of one tensor: the part shared by `update` and `to_torch`."""
        step = state["step"]  # updates done so far = index of this update
        h = Hyper(hyperparams, param, step)
        if hyperparams.get("maximize", False):
            grad = -grad
        return self.update_tensor(grad, {**state, "step": step + 1}, param, h)

    def to_torch(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        from descend.optim.torch_adapter import ElementwiseTorchOptimizer

        return ElementwiseTorchOptimizer(params, self)


def apply_updates(params: Params, updates: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """params + updates; parameters without an update are returned unchanged."""
    return {key: param + updates[key] if key in updates else param for key, param in params.items()}


# --- the registry -----------------------------------------------------------------

RULES = Registry("optimizer", "hyper-parameter")


def register(factory: Callable[..., Optimizer]) -> Callable[..., Optimizer]:
    """Register a rule's factory under its function name.

    The registered function refuses unknown hyper-parameter names with an error that
    lists the allowed ones (instead of Python's bare TypeError)."""
    name = factory.__name__

    @functools.wraps(factory)
    def checked_factory(*args: Any, **hyperparams: Any) -> Optimizer:
        RULES.check(name, hyperparams)
        return factory(*args, **hyperparams)

    RULES.add(name, checked_factory)
    return checked_factory


def names() -> list[str]:
    """The names of every registered rule, sorted."""
    return RULES.names()


def get(name: str, **hyperparams: Any) -> Optimizer:
    """The rule registered as `name`, with the given hyper-parameters."""
    return RULES.get(name, **hyperparams)


def hyperparameter_defaults(name: str) -> dict[str, Any]:
    """{hyper-parameter: default} of a registered rule (inspect.Parameter.empty if none)."""
    return RULES.defaults(name)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor) or callable(a):
        return False
    return bool(a == b)


def _short(value: Any) -> str:
    if isinstance(value, Tensor):
        return repr(value.tolist()) if value.numel() <= 8 else f"tensor{tuple(value.shape)}"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)
