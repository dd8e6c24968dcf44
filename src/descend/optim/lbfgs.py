"""L-BFGS (Nocedal 1980; Liu & Nocedal 1989), step for step as torch.optim.LBFGS.

The one rule that is not element-wise: parameters are flattened (in dict order) into
one vector x, and the rule evaluates f itself. One update, like one torch
`step(closure)`, evaluates f and g = ∇f at x, then runs up to max_iter iterations:

    d = −g                              on the very first iteration (the memory is empty)
    d = −H·g                            after, by the two-loop recursion over the memory:
        q ← −g;   for i = newest … oldest:  αᵢ = ρᵢ·(sᵢ·q),  q ← q − αᵢ·yᵢ
        r ← γ·q;  for i = oldest … newest:  βᵢ = ρᵢ·(yᵢ·r),  r ← r + (αᵢ − βᵢ)·sᵢ
    t = min(1, 1/|g|₁)·η                on the very first iteration, t = η after (η = lr)
    t ← a strong-Wolfe line search from t (line_search_fn="strong_wolfe"; line_search.py)
    x ← x + t·d

The memory holds the last history_size pairs s = x_{k+1} − x_k, y = g_{k+1} − g_k with
ρ = 1/(y·s), each added only if y·s > 1e-10 (which keeps H positive definite), and
γ = (y·s)/(y·y) of the newest pair scales H₀ = γ·I. The memory lives in the state and
carries over from one update to the next. The update stops early when

    max|g| <= tolerance_grad            (checked before the first iteration too)
    g·d > −tolerance_change             (d is no descent direction)
    max|t·d| <= tolerance_change  or  |f_new − f| < tolerance_change   (no progress)
    max_eval evaluations are spent.

Without a line search the last iteration does not evaluate f at its new x (torch's
choice: with a stochastic f that evaluation is wasted); the next update starts there.
The state keeps torch's names: "old_dirs" holds the y's, "old_stps" the s's, "ro" the
ρ's, "H_diag" γ, "d" and "t" the last direction and step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from descend.errors import DescendError, HyperparameterError
from descend.optim.base import Optimizer, Params, State, ValueFn, register
from descend.optim.hyper import check_choice, check_int, check_lr, check_range
from descend.optim.line_search import LinePoint, strong_wolfe

Evaluate = Callable[[Tensor], tuple[float, Tensor]]  # x (n,) -> (f(x), ∇f(x) (n,))
LINE_SEARCHES = (None, "strong_wolfe")


@dataclass(frozen=True)
class Settings:
    """The hyper-parameters as one update sees them (lr already taken from its schedule)."""

    lr: Any
    max_iter: int
    max_eval: int
    tolerance_grad: float
    tolerance_change: float
    history_size: int
    line_search_fn: str | None

    @classmethod
    def at_step(cls, hyperparams: Mapping[str, Any], step: int) -> Settings:
        lr = hyperparams["lr"]
        if callable(lr) and not isinstance(lr, Tensor):
            lr = lr(step)
        _check_single("lr", lr)
        if isinstance(lr, Tensor) and lr.ndim > 0:
            lr = lr.squeeze()  # as torch: a one-element tensor acts as a 0-d one
        max_eval = hyperparams["max_eval"]
        if max_eval is None:  # torch's default
            max_eval = hyperparams["max_iter"] * 5 // 4
        return cls(**{**hyperparams, "lr": lr, "max_eval": max_eval})


@dataclass(frozen=True)
class Memory:
    """The newest curvature pairs (oldest first) and the scale γ of H₀ = γ·I."""

    s: list[Tensor]  # (n,) each: steps x_{k+1} − x_k
    y: list[Tensor]  # (n,) each: gradient changes g_{k+1} − g_k
    rho: list[Tensor]  # 0-d each: 1 / (y·s)
    gamma: Any  # 1 until the first pair, then a 0-d tensor (y·s)/(y·y)

    @classmethod
    def from_state(cls, state: State) -> Memory:
        # torch's names: "old_stps" holds the s's, "old_dirs" the y's; new lists, so
        # that the state passed in is never changed
        s, y, rho = (list(state.get(key) or []) for key in ("old_stps", "old_dirs", "ro"))
        return cls(s, y, rho, state.get("H_diag"))

    def as_state(self) -> State:
        return {"old_stps": self.s, "old_dirs": self.y, "ro": self.rho, "H_diag": self.gamma}

    def remember(self, s: Tensor, y: Tensor, history_size: int) -> Memory:
        ys = y.dot(s)
        if not ys > 1e-10:  # a pair without positive curvature would spoil H
            return self
        return Memory(
            s=[*self.s, s][-history_size:],
            y=[*self.y, y][-history_size:],
            rho=[*self.rho, 1.0 / ys][-history_size:],
            gamma=ys / y.dot(y),
        )

    def descent_direction(self, g: Tensor) -> Tensor:
        """−H·g by the two-loop recursion (Nocedal 1980)."""
        q = g.neg()
        alphas = []
        for s, y, rho in zip(reversed(self.s), reversed(self.y), reversed(self.rho), strict=True):
            alpha = s.dot(q) * rho
            q = q.add(y, alpha=-alpha)
            alphas.append(alpha)
        r = torch.mul(q, self.gamma)
        for s, y, rho, alpha in zip(self.s, self.y, self.rho, reversed(alphas), strict=True):
            beta = y.dot(r) * rho
            r = r.add(s, alpha=alpha - beta)
        return r


class CountedEvaluate:
    """An `Evaluate` that counts its calls (torch's max_eval budget counts them all)."""

    def __init__(self, evaluate: Evaluate):
        self.evaluate, self.count = evaluate, 0

    def __call__(self, x: Tensor) -> tuple[float, Tensor]:
        self.count += 1
        return self.evaluate(x)


def minimize(evaluate: Evaluate, x: Tensor, state: State, h: Settings) -> tuple[Tensor, State]:
    """One update from x: the new x and the new state (the old one is left untouched)."""
    f = CountedEvaluate(evaluate)
    loss, g = f(x)
    n_iter, func_evals = state.get("n_iter", 0), state.get("func_evals", 0)
    if g.abs().max() <= h.tolerance_grad:  # already optimal: only the count changes
        return x, {**state, "func_evals": func_evals + 1, "n_iter": n_iter}
    d, t = state.get("d"), state.get("t")
    prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
    memory = Memory.from_state(state)
    for iteration in range(1, h.max_iter + 1):
        n_iter += 1
        if n_iter == 1:
            memory = Memory([], [], [], 1)
            d, t = g.neg(), min(1.0, 1.0 / g.abs().sum()) * h.lr
        else:  # learn from the last step s = t·d and the change of gradient along it
            memory = memory.remember(d.mul(t), g.sub(prev_g), h.history_size)
            d, t = memory.descent_direction(g), h.lr
        prev_g, prev_loss = g, loss
        gtd = g.dot(d)
        if gtd > -h.tolerance_change:
            break
        last = iteration == h.max_iter
        x, loss, g, t = _advance(f, x, LinePoint(0, loss, g, gtd), d, t, h, last)
        if last or f.count >= h.max_eval or _stalled(loss, prev_loss, g, d, t, h):
            break
    counts = {"func_evals": func_evals + f.count, "n_iter": n_iter}
    last_step = {"d": d, "t": t, "prev_flat_grad": prev_g, "prev_loss": prev_loss}
    return x, {**state, **counts, **memory.as_state(), **last_step}


def _advance(
    f: CountedEvaluate, x: Tensor, here: LinePoint, d: Tensor, t: Any, h: Settings, last: bool
) -> tuple[Tensor, float, Tensor, Any]:
    """Step from x along d: x + t·d, f and ∇f there, and the step t taken.

    `here` is the point t = 0 (f, ∇f and ∇f·d at x). Without a line search the last
    iteration of an update does not evaluate f: the old f and ∇f come back."""
    if h.line_search_fn == "strong_wolfe":
        point, _ = strong_wolfe(
            lambda step: f(x.add(d, alpha=step)),
            d,
            here,
            t,
            tolerance_change=h.tolerance_change,
            max_ls=h.max_eval - f.count,
        )
        return x.add(d, alpha=point.t), point.loss, point.grad, point.t
    x = x.add(d, alpha=t)
    if last:
        return x, here.loss, here.grad, t
    loss, g = f(x)
    return x, loss, g, t


def _stalled(loss: float, prev_loss: float, g: Tensor, d: Tensor, t: Any, h: Settings) -> bool:
    """Optimal, or no more progress in x or in f."""
    return bool(
        g.abs().max() <= h.tolerance_grad
        or d.mul(t).abs().max() <= h.tolerance_change
        or abs(loss - prev_loss) < h.tolerance_change
    )


# --- parameters as one flat vector --------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where each parameter tensor lives in the flat vector x (in the given order)."""

    shapes: list[torch.Size]

    @classmethod
    def of(cls, tensors: Iterable[Tensor]) -> Layout:
        tensors = list(tensors)
        if any(t.is_complex() for t in tensors):
            raise ValueError("lbfgs supports real parameters only.")
        return cls([t.shape for t in tensors])

    def flatten(self, tensors: Iterable[Tensor]) -> Tensor:
        """(n,): the tensors one after the other, in a new tensor (never a view of one)."""
        return torch.cat([t.detach().reshape(-1) for t in tensors])

    def unflatten(self, x: Tensor) -> list[Tensor]:
        """Views of x shaped as the parameters."""
        pieces = x.split([shape.numel() for shape in self.shapes])
        return [piece.view(shape) for piece, shape in zip(pieces, self.shapes, strict=True)]


def value_and_grad(value_fn: ValueFn, keys: Sequence[str], layout: Layout) -> Evaluate:
    """`Evaluate` for a value function of a dict of parameters (gradients by autograd)."""

    def evaluate(x: Tensor) -> tuple[float, Tensor]:
        leaves = [piece.detach().requires_grad_() for piece in layout.unflatten(x)]
        with torch.enable_grad():
            loss = value_fn(dict(zip(keys, leaves, strict=True)))
            grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        # a parameter the loss does not depend on has gradient zero (as in torch)
        grads = [
            torch.zeros_like(p) if g is None else g for p, g in zip(leaves, grads, strict=True)
        ]
        return float(loss.detach()), layout.flatten(grads)

    return evaluate


# --- the rule -----------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class LBFGS(Optimizer):
    """L-BFGS as a descend rule; `update` needs `value_fn` and ignores `grads`."""

    name: str
    hyperparams: Mapping[str, Any]

    lockstep: ClassVar[bool] = False  # one line search for all runs would couple them

    def stacked(self) -> Optimizer:
        raise DescendError(
            "lbfgs cannot update runs stacked along a leading axis: its line search and "
            "curvature pairs are those of one objective, so it runs one run at a time."
        )

    def init(self, params: Params) -> State:
        # None until the first iteration sets them (torch's state has no entry then)
        history = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")
        return {"step": 0, "func_evals": 0, "n_iter": 0, **dict.fromkeys(history)}

    def update(
        self, grads: Params | None, state: State, params: Params, *, value_fn: ValueFn | None = None
    ) -> tuple[dict[str, Tensor], State]:
        """One torch `step(closure)`: `value_fn(params) -> loss` is evaluated as often as
        the iterations need, the first time at `params`. `grads` is ignored (it is
        accepted so that every rule has the same interface)."""
        if value_fn is None:
            raise ValueError("lbfgs evaluates the loss itself: update(..., value_fn=f).")
        layout = Layout.of(params.values())
        evaluate = value_and_grad(value_fn, list(params), layout)
        x, state = self.run(evaluate, layout.flatten(params.values()), state, self.hyperparams)
        final = layout.unflatten(x)
        return {
            key: new - params[key].detach() for key, new in zip(params, final, strict=True)
        }, state

    def run(
        self, evaluate: Evaluate, x: Tensor, state: State, hyperparams: Mapping[str, Any]
    ) -> tuple[Tensor, State]:
        """`minimize` with lr taken from its schedule at this update's index, counted."""
        step = state.get("step", 0)  # updates done so far = index of this one
        x, new_state = minimize(evaluate, x, state, Settings.at_step(hyperparams, step))
        return x, {**new_state, "step": step + 1}

    def to_torch(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        return LBFGSTorchOptimizer(params, self)


class LBFGSTorchOptimizer(torch.optim.Optimizer):
    """torch.optim.LBFGS's interface (one parameter group, `step(closure)`) running
    descend's L-BFGS; the state lives with the first parameter, as in torch."""

    def __init__(self, params: Iterable[Any], rule: LBFGS):
        self.rule = rule
        defaults = dict(rule.hyperparams)
        if defaults["max_eval"] is None:  # torch's param group holds the number
            defaults["max_eval"] = defaults["max_iter"] * 5 // 4
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("lbfgs supports one parameter group only (as torch.optim.LBFGS).")
        super().add_param_group(param_group)
        group = self.param_groups[0]
        lbfgs(**self._hyperparams(group))  # validate the group's own values

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        if closure is None:
            raise ValueError("lbfgs needs a closure that computes the loss: step(closure).")
        group = self.param_groups[0]
        params = group["params"]
        layout = Layout.of(params)
        losses = []  # what the closure returned: the first is what step returns

        def evaluate(x: Tensor) -> tuple[float, Tensor]:
            for param, value in zip(params, layout.unflatten(x), strict=True):
                param.copy_(value)
            with torch.enable_grad():
                losses.append(closure())
            loss = losses[-1].detach() if isinstance(losses[-1], Tensor) else losses[-1]
            return float(loss), layout.flatten(_dense_grad(p) for p in params)

        hyperparams = self._hyperparams(group)
        x, state = self.rule.run(
            evaluate, layout.flatten(params), self.state[params[0]], hyperparams
        )
        for param, value in zip(params, layout.unflatten(x), strict=True):
            param.copy_(value)
        self.state[params[0]] = state
        return losses[0]

    def _hyperparams(self, group: Mapping[str, Any]) -> dict[str, Any]:
        # the rule's names only: torch adds its own keys ("differentiable") to defaults
        return {key: group[key] for key in self.rule.hyperparams}


def _dense_grad(param: Tensor) -> Tensor:
    if param.grad is None:
        return torch.zeros_like(param)
    return param.grad.to_dense() if param.grad.is_sparse else param.grad


# --- the factory --------------------------------------------------------------------


def _check_single(name: str, value: Any) -> None:
    if isinstance(value, Tensor) and value.numel() > 1:
        raise HyperparameterError(
            f"Invalid {name}: a tensor of {value.numel()} values (allowed: a number or a "
            f"one-element tensor; lbfgs runs one run at a time, so {name} cannot be run-wise)."
        )


@register
def lbfgs(
    lr: Any = 1,
    max_iter: int = 20,
    max_eval: int | None = None,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
    history_size: int = 100,
    line_search_fn: str | None = None,
) -> Optimizer:
    """L-BFGS, optionally with a strong-Wolfe line search (module docstring)."""
    check_lr(lr)
    _check_single("lr", lr(0) if callable(lr) and not isinstance(lr, Tensor) else lr)
    check_int("max_iter", max_iter, 1)
    if max_eval is not None:  # None: max_iter * 5 // 4, as torch
        check_int("max_eval", max_eval, 1)
    for name, tolerance in (
        ("tolerance_grad", tolerance_grad),
        ("tolerance_change", tolerance_change),
    ):
        check_range(name, tolerance, 0.0)
        _check_single(name, tolerance)
    check_int("history_size", history_size, 1)
    check_choice("line_search_fn", line_search_fn, LINE_SEARCHES)
    hyperparams = dict(
        lr=lr,
        max_iter=max_iter,
        max_eval=max_eval,
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
        history_size=history_size,
        line_search_fn=line_search_fn,
    )
    return LBFGS("lbfgs", hyperparams)
