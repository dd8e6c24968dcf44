"""The optimizer interface, the registry of rules, and `apply_updates`.

An optimizer is a pair of pure functions on dicts of tensors (optax's model)::

    state = opt.init(params)                       # params: dict[str, Tensor]
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)        # params + updates

Nothing is modified in place: `update` returns new tensors and a new state, so a state
can be kept, copied, saved or compared at any step.

Every rule but L-BFGS is written once for a single tensor as
``init_tensor(param, h) -> state`` and ``update_tensor(grad, state, param, h) ->
(update, state)``, where `h` holds the hyper-parameters as that tensor sees them
(see `hyper.Hyper`). `Elementwise` maps those two functions over a dict of parameters,
and `to_torch` runs the very same two functions inside a torch.optim.Optimizer.

K runs advance in one update when their parameters are stacked along a leading run
axis, (K, ...), with run-wise hyper-parameters of length K (`lockstep` rules). An
element-wise rule needs nothing more; a rule that mixes the entries of a matrix
(`Matrixwise`: Adafactor, Muon) must be told that axis 0 holds runs: `opt.stacked()`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from descend.errors import DescendError
from descend.optim.hyper import Hyper, shareable
from descend.optim.updates import Update, as_tensor, new_value
from descend.registry import Registry

Params = Mapping[str, Tensor]
State = dict[str, Any]
ValueFn = Callable[[Params], Tensor]


class Optimizer(ABC):
    """An update rule with its hyper-parameters fixed (lr may still be a schedule)."""

    name: str
    hyperparams: Mapping[str, Any]
    # Whether K runs stacked along a leading axis can share one update (see `stacked`).
    lockstep: ClassVar[bool]

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

    def step(
        self,
        grads: Params | None,
        state: State,
        params: Params,
        *,
        value_fn: ValueFn | None = None,
        reuse_state: bool = False,
    ) -> tuple[dict[str, Tensor], State]:
        """The new parameters and the new state: `apply_updates(params, update(...))`,
        which a rule may compute in fewer passes (element-wise rules make θ' at once,
        rounded as torch.optim rounds its in-place step, rather than θ' − θ, then θ plus
        it). `reuse_state`: the caller keeps only the new state, so the rule may write it
        into the old state's tensors (the engine: one allocation less per tensor)."""
        updates, new_state = self.update(grads, state, params, value_fn=value_fn)
        return apply_updates(params, updates), new_state

    @abstractmethod
    def to_torch(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        """A real torch.optim.Optimizer running this rule on `params`."""

    @abstractmethod
    def stacked(self) -> Optimizer:
        """This rule for parameters stacked along a leading run axis: a (K, ...) tensor
        holds K runs' tensors, each updated as if alone (run-wise hyper-parameters of
        length K apply to them in order)."""

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
# An update as a tensor to add, or as an `Update` (θ' = θ·(1 − decay) + scale·direction),
# which to_torch applies in place with torch's fused ops.
UpdateTensor = Callable[[Tensor, State, Tensor, Hyper], tuple[Tensor | Update, State]]


@dataclass(frozen=True, repr=False)
class Elementwise(Optimizer):
    """A rule that updates each parameter tensor from its own gradient and state."""

    name: str
    hyperparams: Mapping[str, Any]
    init_tensor: InitTensor
    update_tensor: UpdateTensor

    lockstep: ClassVar[bool] = True

    def stacked(self) -> Optimizer:
        return self  # each entry is updated on its own: a run axis changes nothing

    def init(self, params: Params) -> State:
        return {key: self.init_one(param, self.hyperparams) for key, param in params.items()}

    def update(
        self, grads: Params | None, state: State, params: Params, *, value_fn: ValueFn | None = None
    ) -> tuple[dict[str, Tensor], State]:
        updates, new_state = self._each_tensor(grads, state, params, reuse_state=False)
        return {k: as_tensor(u, params[k]) for k, u in updates.items()}, new_state

    def step(
        self,
        grads: Params | None,
        state: State,
        params: Params,
        *,
        value_fn: ValueFn | None = None,
        reuse_state: bool = False,
    ) -> tuple[dict[str, Tensor], State]:
        updates, new_state = self._each_tensor(grads, state, params, reuse_state=reuse_state)
        new_params = {
            k: new_value(updates[k], param) if k in updates else param
            for k, param in params.items()
        }
        return new_params, new_state

    def _each_tensor(
        self, grads: Params | None, state: State, params: Params, *, reuse_state: bool
    ) -> tuple[dict[str, Tensor | Update], State]:
        """Each tensor's update (as the rule gives it) and the new state."""
        if grads is None:
            raise ValueError(f"{self.name} needs the gradients: grads was None.")
        updates: dict[str, Tensor | Update] = {}
        new_state = dict(state)
        shared = {} if shareable(self.hyperparams) else None
        for key, param in params.items():
            grad = grads.get(key)
            if grad is None:  # as torch.optim: a parameter without gradient is left alone
                continue
            updates[key], new_state[key] = self.step_one(
                grad, state[key], param, self.hyperparams, reuse_state=reuse_state, shared=shared
            )
        return updates, new_state

    def hyper(
        self, hyperparams: Mapping[str, Any], param: Tensor, step: int, reuse_state: bool = False
    ) -> Hyper:
        """What one update of `param` sees (see `Hyper`)."""
        return Hyper(hyperparams, param, step, reuse_state=reuse_state)

    def check_param(self, param: Tensor, hyperparams: Mapping[str, Any]) -> None:
        """Refuse a parameter this rule cannot update, before any state is made: here,
        one whose leading dimension does not match a run-wise hyper-parameter."""
        h = self.hyper(hyperparams, param, 0)
        for key in hyperparams:
            getattr(h, key)  # fitting each value to `param` checks its length

    def init_one(self, param: Tensor, hyperparams: Mapping[str, Any]) -> State:
        self.check_param(param, hyperparams)
        return {"step": 0, **self.init_tensor(param, self.hyper(hyperparams, param, 0))}

    def step_one(
        self,
        grad: Tensor,
        state: State,
        param: Tensor,
        hyperparams: Mapping[str, Any],
        *,
        reuse_state: bool = False,
        shared: dict[int, Hyper] | None = None,
    ) -> tuple[Tensor | Update, State]:
        """One update of one tensor: the part shared by `update` and `to_torch`.

        With `reuse_state`, the rule may write the new state into the old state's tensors
        (the caller keeps only the new state: `to_torch`); the arithmetic is the same.
        `shared`: the caller's cache of one `Hyper` per step for tensors whose
        hyper-parameters hold no tensor (`shareable`): nothing is then fitted to a tensor,
        so all of a group's tensors can read the same one (Python time, not arithmetic)."""
        step = state["step"]  # updates done so far = index of this update
        h = shared.get(step) if shared is not None else None
        if h is None:
            h = self.hyper(hyperparams, param, step, reuse_state)
            if shared is not None:
                shared[step] = h
        if hyperparams.get("maximize", False):
            grad = -grad
        return self.update_tensor(grad, {**state, "step": step + 1}, param, h)

    def to_torch(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        from descend.optim.torch_adapter import ElementwiseTorchOptimizer

        return ElementwiseTorchOptimizer(params, self)


CheckTensor = Callable[[Tensor, Hyper], None]


@dataclass(frozen=True, repr=False)
class Matrixwise(Elementwise):
    """A per-tensor rule whose update mixes the entries of a matrix, the last two
    dimensions of a tensor (Adafactor's factored moments, Muon's orthogonalisation).

    Its functions read `h.run_axis`: whether axis 0 stacks runs, so that a (K, n) tensor
    is K vectors and a (K, m, n) tensor K matrices. `check_tensor(param, h)` refuses a
    shape the rule cannot update."""

    check_tensor: CheckTensor | None = None
    run_axis: bool = False
    # hyper-parameters that cannot differ between the runs of one stacked update (integer
    # counts, bfloat16 constants): the engine groups runs by their values
    fixed_per_update: tuple[str, ...] = ()

    def stacked(self) -> Optimizer:
        return dataclasses.replace(self, run_axis=True)

    def replace(self, **changes: Any) -> Optimizer:
        changed = super().replace(**changes)
        return changed.stacked() if self.run_axis else changed

    def hyper(
        self, hyperparams: Mapping[str, Any], param: Tensor, step: int, reuse_state: bool = False
    ) -> Hyper:
        return Hyper(hyperparams, param, step, run_axis=self.run_axis, reuse_state=reuse_state)

    def check_param(self, param: Tensor, hyperparams: Mapping[str, Any]) -> None:
        super().check_param(param, hyperparams)
        if self.run_axis and param.ndim == 0:
            raise DescendError(
                f"{self.name}.stacked() updates parameters stacked along a leading run axis, "
                "(K, ...): a 0-d tensor has none."
            )
        if self.check_tensor is not None:
            self.check_tensor(param, self.hyper(hyperparams, param, 0))


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
