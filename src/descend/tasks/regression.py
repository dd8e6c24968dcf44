"""Regressions: small models on data with a known optimum.

    quadratic-regression   seed 000: y = a·x² + b·x + c per point, fitted by a linear
                           layer on [x, x²]; least-squares optimum in closed form
    linear-regression      y = X·w* + noise, d features, chosen condition number of XᵀX/n
    logistic-regression    two Gaussian classes in 2-D, separable or not; optimum by Newton

The data set is part of the task (drawn once from `data_seed`); a run's seed draws only
its initial weights and its data order. Parameters are named by their meaning (a, b, c
of the quadratic), so tables and figures need no "w[0]". Losses take K runs' stacked
parameters and (K, B) batch indices: one gather gives every run its own batch.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from descend import checks
from descend.errors import DescendError

Predict = Callable[[Mapping[str, Tensor], Tensor], Tensor]  # (params (K, ...), X) -> (K, n)


@dataclass(frozen=True, eq=False)
class Regression:
    """A model fitted to (features, targets) by mean squared error or logistic loss."""

    name: str
    params: dict[str, Any]  # the task's own settings (n, noise, ...), for labels
    features: Tensor  # (n, d) float64
    targets: Tensor  # (n,)
    predict: Predict
    init: Callable[[torch.Generator], dict[str, Tensor]]
    loss_kind: str  # "mse" | "logistic"
    meanings: dict[str, str]  # parameter -> what it means ("a": "coefficient of x²")
    optimum: dict[str, Tensor] | None  # None: no finite optimum (separable, no l2)
    l2: float = 0.0  # ½·l2·|w|² added to the logistic loss (weights "w" only)
    description: str = ""
    _moved: dict = field(default_factory=dict, repr=False)

    # --- the engine's Task protocol (descend.engine.runs.Task) ---

    @property
    def examples(self) -> int:
        return self.features.shape[0]

    def check(self, run: Any) -> None:
        checks.no_start(self.name, run)

    def initial_params(self, run: Any, generator: torch.Generator) -> dict[str, Tensor]:
        return self.init(generator)

    def on(self, device: torch.device, dtype: torch.dtype) -> Regression:
        key = (str(device), dtype)
        if key not in self._moved:
            self._moved[key] = replace(
                self,
                features=self.features.to(device, dtype),
                targets=self.targets.to(device, dtype),
                _moved={},
            )
        return self._moved[key]

    def losses(self, params: Mapping[str, Tensor], batch: Tensor | None, step: Any) -> Tensor:
        """The K mean losses (K,) on each run's batch ((K, B) indices; None: all data)."""
        x = self.features if batch is None else self.features[batch]  # (n, d) | (K, B, d)
        y = self.targets if batch is None else self.targets[batch]  # (n,) | (K, B)
        out = self.predict(params, x)  # (K, n) | (K, B)
        if self.loss_kind == "mse":
            return ((out - y) ** 2).mean(dim=-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            out, y.expand_as(out), reduction="none"
        ).mean(dim=-1)
        return loss + 0.5 * self.l2 * (params["w"] ** 2).sum(dim=-1) if self.l2 else loss

    def evaluate(self, params: Mapping[str, Tensor]) -> dict[str, Tensor]:
        with torch.no_grad():
            values = {"train_loss": self.losses(params, None, None)}
            if self.optimum is not None:
                values["distance"] = self.distance(params)
        return values

    def distance(self, params: Mapping[str, Tensor]) -> Tensor:
        """Euclidean distance (K,) from each run's parameters to the optimum."""
        assert self.optimum is not None
        squares = [
            ((params[k] - v.to(params[k])) ** 2).reshape(params[k].shape[0], -1).sum(dim=1)
            for k, v in self.optimum.items()
        ]
        return torch.stack(squares).sum(dim=0).sqrt()

    @property
    def label(self) -> str:
        args = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items()
        )
        return f"{self.name}({args})" if args else self.name


def _linear_init(fan_in: int, shapes: dict[str, tuple[int, ...]]) -> Callable:
    """Initial weights as nn.Linear(fan_in, 1) draws them: U(−1/√fan_in, 1/√fan_in) for
    the weights first, then the bias, in float32 (the same numbers as nn.Linear under
    torch.manual_seed of the same seed)."""
    bound = 1 / math.sqrt(fan_in)

    def init(generator: torch.Generator) -> dict[str, Tensor]:
        return {
            name: torch.empty(shape).uniform_(-bound, bound, generator=generator)
            for name, shape in shapes.items()
        }

    return init


def with_settings(factory: Callable[..., Regression]) -> Callable[..., Regression]:
    """The factory, with the settings a caller changed kept on the task (for its label)."""
    defaults = {k: p.default for k, p in inspect.signature(factory).parameters.items()}

    @functools.wraps(factory)
    def make(**settings: Any) -> Regression:
        task = factory(**settings)
        changed = {k: v for k, v in settings.items() if v != defaults.get(k)}
        return replace(task, params=changed, _moved={})

    return make


@with_settings
def quadratic_regression(
    n: int = 100,
    x_low: float = -5.0,
    x_high: float = 3.0,
    a_mean: float = 3.0,
    a_std: float = 0.5,
    b_mean: float = 10.0,
    b_std: float = 1.0,
    c_mean: float = -2.0,
    c_std: float = 2.0,
    data_seed: int = 0,
) -> Regression:
    """Seed 000: x ~ U(x_low, x_high); y = a·x² + b·x + c with a, b, c drawn per point
    (a ~ N(3, 0.5), b ~ N(10, 1), c ~ N(−2, 2)). The model is seed 000's linear layer on
    [x, x²]: y = b·x + a·x² + c, its weight (b, a) and bias c."""
    checks.integer("n", n, low=3)
    checks.integer("data_seed", data_seed)
    if not x_low < x_high:
        raise DescendError(f"Invalid x range: [{x_low}, {x_high}] (allowed: x_low < x_high).")
    for name, value in [("a_std", a_std), ("b_std", b_std), ("c_std", c_std)]:
        checks.number(name, value, low=0.0)
    g = torch.Generator().manual_seed(data_seed)
    x = torch.empty(n, dtype=torch.float64).uniform_(x_low, x_high, generator=g)
    a, b, c = (
        torch.randn(n, dtype=torch.float64, generator=g) * std + mean
        for mean, std in [(a_mean, a_std), (b_mean, b_std), (c_mean, c_std)]
    )
    y = a * x**2 + b * x + c
    features = torch.stack([x, x**2], dim=1)  # (n, 2): the seed's [x, x²]

    def predict(p: Mapping[str, Tensor], xs: Tensor) -> Tensor:
        return p["b"][:, None] * xs[..., 0] + p["a"][:, None] * xs[..., 1] + p["c"][:, None]

    design = torch.stack([x**2, x, torch.ones_like(x)], dim=1)  # columns a, b, c
    best = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    draws = _linear_init(2, {"weight": (2,), "c": ()})

    def init(generator: torch.Generator) -> dict[str, Tensor]:
        drawn = draws(generator)  # nn.Linear's weight is (b, a): the order of [x, x²]
        return {"a": drawn["weight"][1], "b": drawn["weight"][0], "c": drawn["c"]}

    return Regression(
        "quadratic-regression",
        {},
        features,
        y,
        predict,
        init,
        "mse",
        {"a": "coefficient of x²", "b": "coefficient of x", "c": "constant"},
        {"a": best[0], "b": best[1], "c": best[2]},
        description=(
            f"{n} points, x ~ U({x_low:g}, {x_high:g}), y = a·x² + b·x + c with a ~ "
            f"N({a_mean:g}, {a_std:g}), b ~ N({b_mean:g}, {b_std:g}), c ~ N({c_mean:g}, "
            f"{c_std:g}) per point (data seed {data_seed}); model b·x + a·x² + c, MSE"
        ),
    )


@with_settings
def linear_regression(
    d: int = 10, n: int = 200, condition: float = 100.0, noise: float = 0.1, data_seed: int = 0
) -> Regression:
    """y = X·w* + σ·ε with w* ~ N(0, I): XᵀX/n has eigenvalues spread geometrically from
    1 down to 1/condition (so its condition number is `condition`), the model y = X·w
    with no intercept, MSE. GD on it is stable for lr < 2/λ_max = 1."""
    checks.integer("d", d, low=1, high=4096)
    checks.integer("n", n, low=d)
    checks.number("condition", condition, low=1.0)
    checks.number("noise", noise, low=0.0)
    g = torch.Generator().manual_seed(checks.integer("data_seed", data_seed))
    left, _ = torch.linalg.qr(torch.randn(n, d, dtype=torch.float64, generator=g))  # (n, d)
    right, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64, generator=g))  # (d, d)
    eigenvalues = torch.logspace(0, -math.log10(condition), d, dtype=torch.float64)
    x = math.sqrt(n) * left @ torch.diag(eigenvalues.sqrt()) @ right.T  # XᵀX/n = R·Λ·Rᵀ
    w_true = torch.randn(d, dtype=torch.float64, generator=g)
    y = x @ w_true + noise * torch.randn(n, dtype=torch.float64, generator=g)

    def predict(p: Mapping[str, Tensor], xs: Tensor) -> Tensor:
        if xs.ndim == 2:  # all data (n, d)
            return p["w"] @ xs.T  # (K, n)
        return torch.einsum("kbd,kd->kb", xs, p["w"])  # (K, B)

    best = torch.linalg.lstsq(x, y[:, None]).solution[:, 0]
    return Regression(
        "linear-regression",
        {},
        x,
        y,
        predict,
        _linear_init(d, {"w": (d,)}),
        "mse",
        {"w": "weights"},
        {"w": best},
        description=(
            f"{n} points, {d} features, XᵀX/n with condition number {condition:g}, "
            f"noise σ = {noise:g} (data seed {data_seed}); model X·w, MSE"
        ),
    )


@with_settings
def logistic_regression(
    n: int = 200, separable: bool = False, l2: float = 0.0, data_seed: int = 0
) -> Regression:
    """Two classes in 2-D, N(±μ·(1, 1), I): μ = 0.75 overlapping (no line separates them),
    or μ = 2 with the few points on the wrong side of w1 + w2 = 0 dropped (separable). The
    model σ(w·x + b), mean logistic loss + ½·l2·|w|². Separable data with l2 = 0 have no
    finite optimum (the loss falls forever as |w| grows): the task says so."""
    checks.integer("n", n, low=4)
    checks.flag("separable", separable)
    checks.number("l2", l2, low=0.0)
    g = torch.Generator().manual_seed(checks.integer("data_seed", data_seed))
    labels = (torch.arange(n) % 2).to(torch.float64)  # (n,): half of each class
    mu = 2.0 if separable else 0.75
    centre = (2 * labels - 1)[:, None] * mu  # (n, 1)
    x = centre + torch.randn(n, 2, dtype=torch.float64, generator=g)
    if separable:
        right_side = (x.sum(dim=1) > 0) == (labels > 0)
        x, labels = x[right_side], labels[right_side]

    def predict(p: Mapping[str, Tensor], xs: Tensor) -> Tensor:
        if xs.ndim == 2:
            return p["w"] @ xs.T + p["b"][:, None]  # (K, n)
        return torch.einsum("kbd,kd->kb", xs, p["w"]) + p["b"][:, None]  # (K, B)

    finite = not separable or l2 > 0
    return Regression(
        "logistic-regression",
        {},
        x,
        labels,
        predict,
        _linear_init(2, {"w": (2,), "b": ()}),
        "logistic",
        {"w": "weights", "b": "bias"},
        _logistic_optimum(x, labels, l2) if finite else None,
        l2,
        description=(
            f"{len(labels)} points in 2 classes, {'separable' if separable else 'overlapping'}"
            f" (data seed {data_seed}); model σ(w·x + b), mean logistic loss"
            + (f" + {l2:g}/2·|w|²" if l2 else "")
            + ("" if finite else "; no finite optimum: the classes are separable and l2 = 0")
        ),
    )


def _logistic_optimum(x: Tensor, y: Tensor, l2: float) -> dict[str, Tensor]:
    """The minimiser, by Newton's method in float64 to a gradient of 1e-13."""
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)  # (n, 3)
    penalty = torch.diag(torch.tensor([l2, l2, 0.0], dtype=x.dtype))
    theta = torch.zeros(3, dtype=x.dtype)
    for _ in range(100):
        p = torch.sigmoid(design @ theta)
        grad = design.T @ (p - y) / len(y) + penalty @ theta
        if grad.abs().max() < 1e-13:
            break
        hessian = design.T @ (design * (p * (1 - p))[:, None]) / len(y) + penalty
        theta = theta - torch.linalg.solve(hessian, grad)
    else:
        raise DescendError("The logistic optimum did not converge in 100 Newton steps.")
    return {"w": theta[:2], "b": theta[2]}
