"""A user's own surface: a formula in w1 and w2, turned into torch operations safely.

The text is parsed with Python's `ast` (mode "eval"), and only a whitelist of node
types becomes part of the function: numbers, the variables w1 and w2, the constants pi
and e, + - * / ** (and unary - and +), parentheses, and the one-argument functions in
FUNCTIONS. Anything else is refused with a FormulaError that names what was found and
where. No part of the text is ever run by Python (no eval, exec or compile): the
function is a tree of closures over torch operations. Numbers become tensors of w's
dtype, so `w1 + 9**9**9**9` is inf at once (float arithmetic) instead of hours of
big-integer arithmetic.

    surface = parse_formula("w1**2 + 8*w2**2")
    surface(torch.tensor([[1.0, 1.0]]))      # tensor([9.])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from descend.errors import HyperparameterError, UnknownNameError
from descend.expressions import (
    MAX_LENGTH,  # noqa: F401  (re-exported: the limit is the surface formula's too)
    FormulaError,
    allowed,
    compile_formula,
    names_used,
    normalise,
    short,
)
from descend.tasks import surfaces
from descend.tasks.minima import find_minima
from descend.tasks.surfaces import Surface, Window

VARIABLES = ("w1", "w2")
EXAMPLE = "'w1**2 + 8*w2**2'"
ALLOWED = allowed(VARIABLES)


def parse_formula(text: str, window: Window = ((-2.0, 2.0), (-2.0, 2.0))) -> Surface:
    """The surface f(w1, w2) written in `text`, e.g. "sin(w1)*cos(w2) + 0.1*(w1**2 + w2**2)".

    Its minima are found numerically in the window (`descend.tasks.minima`: smooth local
    minima only); it starts at (1, 1), or at the window's centre when (1, 1) is outside
    the window."""
    formula = normalise(text, f" in w1 and w2, e.g. {EXAMPLE}")
    term = compile_formula(formula, VARIABLES)
    if not names_used(formula) & set(VARIABLES):
        raise FormulaError(
            f"Formula: {short(formula)} does not depend on w1 or w2: it is a constant, with "
            f"nothing to minimise. Write an expression in w1 and w2, e.g. {EXAMPLE}."
        )

    def fn(w: Tensor) -> Tensor:
        return term(w.unbind(-1))  # (w1, w2), each (...)

    window = _checked(window)
    _check_finite_somewhere(fn, formula, window)
    (low1, high1), (low2, high2) = window
    inside = low1 <= 1.0 <= high1 and low2 <= 1.0 <= high2
    start = (1.0, 1.0) if inside else ((low1 + high1) / 2, (low2 + high2) / 2)
    minima = find_minima(fn, window)
    return Surface("formula", formula, fn, minima, window, start, minima_found_numerically=True)


def surface_from(name_or_formula: str, **params: Any) -> Surface:
    """A registered surface by name (with its parameters), or else a formula in w1, w2."""
    text = name_or_formula.strip()
    if text in surfaces.names():
        return surfaces.get(text, **params)
    if looks_like_name(text):
        hint = f"Or write a formula in w1 and w2, e.g. {EXAMPLE}."
        raise UnknownNameError("surface", text, surfaces.names(), hint)
    if set(params) - {"window"}:
        unknown = ", ".join(repr(key) for key in sorted(set(params) - {"window"}))
        raise HyperparameterError(f"A formula takes only the parameter 'window', not {unknown}.")
    return parse_formula(text, **params)


def looks_like_name(text: str) -> bool:
    """'rosenbrok' or 'six-hump-camel' (a misspelt name), not 'w1', 'x**2' or 'w1-w2'."""
    if not text.replace("-", "_").isidentifier():
        return False
    return not any(variable in text.split("-") for variable in VARIABLES)


def _checked(window: Window) -> Window:
    try:
        (low1, high1), (low2, high2) = ((float(lo), float(hi)) for lo, hi in window)
    except (TypeError, ValueError):
        low1 = high1 = low2 = high2 = math.nan
    if not (low1 < high1 and low2 < high2 and math.isfinite(high1 - low1 + high2 - low2)):
        raise FormulaError(
            f"Invalid window: {window!r} (allowed: ((w1 min, w1 max), (w2 min, w2 max)), "
            "finite, with min < max)."
        )
    return (low1, high1), (low2, high2)


def _check_finite_somewhere(fn: Callable[[Tensor], Tensor], formula: str, window: Window) -> None:
    """Refuse a formula that is inf or NaN all over its window, e.g. `w1 + 9**9**9**9`."""
    (low1, high1), (low2, high2) = window
    axes = (
        torch.linspace(low1, high1, 9, dtype=torch.float64),
        torch.linspace(low2, high2, 9, dtype=torch.float64),
    )
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)  # (9, 9, 2)
    with torch.no_grad():
        values = fn(grid)  # (9, 9)
    if not torch.isfinite(values).any():
        raise FormulaError(
            f"Formula: {short(formula)} has no finite value anywhere on the window {window}."
        )
