"""Hyper-parameters: how an update sees them, and how they are validated.

A hyper-parameter value is one of
- a Python number (used as is, exactly as torch.optim uses it, so parity is exact);
- a 0-d tensor (one value for every run);
- a 1-D tensor of length K: run-wise values for parameters stacked along a leading run
  axis of size K, so that K runs with K different settings advance in one update;
- for `lr` only, also a schedule: a callable step -> lr (step 0 is the first update),
  which may itself return any of the above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

from torch import Tensor

from descend.errors import HyperparameterError


class Hyper:
    """The hyper-parameters as one update of one parameter tensor sees them.

    `h.lr` is the schedule's value at this update; a run-wise tensor of length K comes
    back shaped (K, 1, ..., 1) so that it broadcasts over a parameter of shape (K, ...).
    Tensors, tuples and schedules are fitted lazily, on first access, and then cached on
    the instance; plain values are set when it is made (this runs for every tensor at
    every step).

    Two facts about the update ride along:
    - `run_axis`: for rules that mix a tensor's entries (`base.Matrixwise`), whether axis
      0 of the tensor holds runs (True) or the tensor is one run's (False, and run-wise
      values are refused); None for element-wise rules, to which it makes no difference.
    - `reuse_state`: whether the update may write its new state into the old state's
      tensors (`to_torch` keeps only the new one); rules pass `out=h.reuse(old)`.
    """

    def __init__(
        self,
        values: Mapping[str, Any],
        param: Tensor,
        step: int,
        *,
        run_axis: bool | None = None,
        reuse_state: bool = False,
    ):
        self._values = values
        self._param = param
        self._step = step  # the index of this update: 0 for the first one
        self.run_axis = run_axis
        self.reuse_state = reuse_state
        for name, value in values.items():
            if type(value) in _PLAIN:  # nothing to fit (the exact type: this is hot)
                self.__dict__[name] = value

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._values[name]
        except KeyError:
            raise AttributeError(name) from None
        if name == "lr" and callable(value):
            value = value(self._step)
        if self.run_axis is False and _has_runwise(value):
            raise HyperparameterError(
                f"Run-wise hyper-parameter {name!r} for one run's tensor of shape "
                f"{tuple(self._param.shape)}: this rule mixes the entries of each matrix, so "
                "it must be told that axis 0 holds runs (opt.stacked())."
            )
        fitted = fit_to_param(value, self._param, name)
        setattr(self, name, fitted)
        return fitted

    def reuse(self, old: Tensor) -> Tensor | None:
        """`old` where the new value may overwrite it, else None: for `out=`."""
        return old if self.reuse_state else None


_PLAIN = {int, float, bool, str, type(None)}


def shareable(values: Mapping[str, Any]) -> bool:
    """Whether one `Hyper` can serve every tensor: no value is a tensor (a tensor is fitted
    to each parameter's shape, dtype and device), nor a schedule (its value may be one:
    a run-wise schedule gives K lrs)."""
    return not any(_holds_tensor(v) or callable(v) for v in values.values())


def _holds_tensor(value: Any) -> bool:
    if isinstance(value, tuple):
        return any(_holds_tensor(v) or callable(v) for v in value)
    return isinstance(value, Tensor)


def _has_runwise(value: Any) -> bool:
    if isinstance(value, tuple):
        return any(_has_runwise(v) for v in value)
    return isinstance(value, Tensor) and value.ndim > 0


def fit_to_param(value: Any, param: Tensor, name: str) -> Any:
    """Shape a hyper-parameter value so that it broadcasts run-wise over `param`."""
    if isinstance(value, tuple):
        return tuple(fit_to_param(v, param, f"{name}[{i}]") for i, v in enumerate(value))
    if not isinstance(value, Tensor):
        return value
    value = value.to(device=param.device, dtype=param.dtype)
    if value.ndim == 0:
        return value
    runs = value.shape[0]
    if param.ndim == 0 or param.shape[0] != runs:
        raise HyperparameterError(
            f"Run-wise hyper-parameter {name!r} has {runs} values, but the parameter it "
            f"applies to has shape {tuple(param.shape)}: its leading (run) dimension must "
            f"be {runs}."
        )
    return value.view(runs, *([1] * (param.ndim - 1)))


def nonzero(value: Any) -> bool:
    """Whether a term scaled by `value` must be computed.

    A tensor may hold different values for different runs, so its term is always
    computed (a zero entry then contributes exactly nothing)."""
    return isinstance(value, Tensor) or value != 0


def is_zero(value: Any) -> bool:
    """Whether every entry of a number or tensor is zero."""
    if isinstance(value, Tensor):
        return bool((value == 0).all())
    return value == 0


# --- validation -------------------------------------------------------------------


def _values_of(value: Any) -> list[float]:
    if isinstance(value, Tensor):
        if value.ndim > 1:
            raise HyperparameterError("must be a number, or a 0-d or 1-D tensor")
        return [float(v) for v in value.detach().reshape(-1).cpu()]
    if isinstance(value, bool) or not isinstance(value, Real):
        raise HyperparameterError(f"must be a number, got {type(value).__name__}")
    return [float(value)]


def check_range(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise a HyperparameterError naming `name` and the allowed interval."""
    lower = "" if low is None else f"{low:g} {'<' if low_open else '<='} "
    upper = "" if high is None else f" {'<' if high_open else '<='} {high:g}"
    allowed = f"{lower}{name}{upper}"
    try:
        numbers = _values_of(value)
    except HyperparameterError as problem:
        message = f"Invalid {name}: {value!r} {problem}; allowed: {allowed}."
        raise HyperparameterError(message) from None
    for x in numbers:
        too_low = low is not None and (x <= low if low_open else x < low)
        too_high = high is not None and (x >= high if high_open else x > high)
        if math.isnan(x) or too_low or too_high:
            shown = value if isinstance(value, Real) else x
            raise HyperparameterError(f"Invalid {name}: {shown} (allowed: {allowed}).")


def check_lr(lr: Any, name: str = "lr") -> None:
    """A learning rate: a finite number >= 0, a tensor of them, or a schedule."""
    if callable(lr) and not isinstance(lr, Tensor):
        lr = lr(0)  # a schedule: its first value must itself be a valid learning rate
    try:
        numbers = _values_of(lr)
    except HyperparameterError:
        numbers = [math.nan]
    if any(not (math.isfinite(x) and x >= 0) for x in numbers):
        raise HyperparameterError(
            f"Invalid learning rate {name}={lr!r} (allowed: a finite number >= 0, a 1-D "
            "tensor of such numbers, or a schedule step -> lr)."
        )


def check_betas(betas: Any, name: str = "betas") -> None:
    if not (isinstance(betas, tuple | list) and len(betas) == 2):
        raise HyperparameterError(
            f"Invalid {name}: {betas!r} (allowed: a pair (beta1, beta2), each 0 <= beta < 1)."
        )
    for i, beta in enumerate(betas):
        check_range(f"{name}[{i}]", beta, 0.0, 1.0, high_open=True)


def check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise HyperparameterError(f"Invalid {name}: {value!r} (allowed: True or False).")


def check_choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise HyperparameterError(f"Invalid {name}: {value!r} (allowed: {shown}).")


def check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise HyperparameterError(f"Invalid {name}: {value!r} (allowed: an integer >= {low}).")


def check_adam_like(lr: Any, betas: Any, eps: Any, weight_decay: Any, maximize: Any) -> None:
    """The hyper-parameters every Adam variant has (Adam, AdamW, Adamax, NAdam, RAdam)."""
    check_lr(lr)
    check_betas(betas)
    check_range("eps", eps, 0.0, low_open=True)
    check_range("weight_decay", weight_decay, 0.0)
    check_flag("maximize", maximize)
