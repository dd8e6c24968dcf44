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

import ast
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from descend.errors import DescendError, HyperparameterError, UnknownNameError
from descend.tasks import surfaces
from descend.tasks.minima import find_minima
from descend.tasks.surfaces import Surface, Window

MAX_LENGTH = 500  # characters: a formula, not a program
VARIABLES = ("w1", "w2")
CONSTANTS = {"pi": math.pi, "e": math.e}
FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
}
_BINARY: dict[type[ast.operator], Callable[[Tensor, Tensor], Tensor]] = {
    ast.Add: torch.add,
    ast.Sub: torch.sub,
    ast.Mult: torch.mul,
    ast.Div: torch.div,
    ast.Pow: torch.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Tensor], Tensor]] = {
    ast.USub: torch.neg,
    ast.UAdd: torch.positive,
}
_SYMBOLS = {
    **{ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"},
    **{ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitXor: "^", ast.BitOr: "|"},
    **{ast.BitAnd: "&", ast.LShift: "<<", ast.RShift: ">>", ast.Not: "not", ast.Invert: "~"},
}
_NOUNS = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Call: "call of",
    ast.Compare: "comparison",
    ast.BoolOp: "boolean operator in",
    ast.IfExp: "conditional expression",
    ast.Lambda: "lambda",
    ast.NamedExpr: "assignment expression",
    ast.Starred: "starred expression",
    ast.JoinedStr: "f-string",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Set: "set",
    ast.Dict: "dict",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_CONSTANT_KINDS = {
    **{str: "string", bytes: "bytes", bool: "boolean", complex: "complex number"},
    **{type(None): "constant", type(...): "constant"},
}
ALLOWED = (
    f"allowed names: {', '.join([*VARIABLES, *CONSTANTS])}; "
    f"functions: {', '.join(FUNCTIONS)} (one argument each); "
    "operators: + - * / ** and unary -; numbers; parentheses"
)
EXAMPLE = "'w1**2 + 8*w2**2'"

Term = Callable[[Tensor, Tensor], Tensor]  # (w1, w2) -> value, all of shape (...)


class FormulaError(DescendError):
    """A formula that cannot be turned into a surface."""


def parse_formula(text: str, window: Window = ((-2.0, 2.0), (-2.0, 2.0))) -> Surface:
    """The surface f(w1, w2) written in `text`, e.g. "sin(w1)*cos(w2) + 0.1*(w1**2 + w2**2)".

    Its minima are found numerically in the window (`descend.tasks.minima`: smooth local
    minima only); it starts at (1, 1), or at the window's centre when (1, 1) is outside
    the window."""
    formula = _normalise(text)
    tree = _parse(formula)
    term = _compile(tree.body, formula)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    if not used & set(VARIABLES):
        raise FormulaError(
            f"Formula: {_short(formula)} does not depend on w1 or w2: it is a constant, with "
            f"nothing to minimise. Write an expression in w1 and w2, e.g. {EXAMPLE}."
        )

    def fn(w: Tensor) -> Tensor:
        w1, w2 = w.unbind(-1)  # (...), (...)
        return term(w1, w2)

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


def _normalise(text: str) -> str:
    """Whitespace runs (newlines included) become single spaces; length is checked."""
    if not isinstance(text, str):
        raise FormulaError(f"Formula: must be a string, got {type(text).__name__}.")
    formula = " ".join(text.split())
    if not formula:
        raise FormulaError(f"Formula: empty; write an expression in w1 and w2, e.g. {EXAMPLE}.")
    if not formula.isprintable():
        bad = next(c for c in formula if not c.isprintable())
        raise FormulaError(
            f"Formula: control character {bad!r} at column {formula.index(bad) + 1}."
        )
    if len(formula) > MAX_LENGTH:
        raise FormulaError(f"Formula: {len(formula)} characters long; the limit is {MAX_LENGTH}.")
    return formula


def _parse(formula: str) -> ast.Expression:
    try:
        return ast.parse(formula, mode="eval")
    except SyntaxError as error:
        where = f"column {error.offset}" if error.offset else "the end"  # 0: ran out of text
        raise FormulaError(f"Formula: syntax error at {where}: {error.msg}.") from None
    except (RecursionError, MemoryError):
        raise FormulaError("Formula: nested too deeply.") from None


def _compile(node: ast.expr, formula: str) -> Term:
    """The function of (w1, w2) that `node` denotes, built from whitelisted nodes only."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        number = _number(node, formula)
        return lambda w1, w2: torch.as_tensor(number, dtype=w1.dtype, device=w1.device)
    if isinstance(node, ast.Name) and node.id in VARIABLES:
        index = VARIABLES.index(node.id)
        return lambda w1, w2: (w1, w2)[index]
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        constant = CONSTANTS[node.id]
        return lambda w1, w2: torch.as_tensor(constant, dtype=w1.dtype, device=w1.device)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        unary, operand = _UNARY[type(node.op)], _compile(node.operand, formula)
        return lambda w1, w2: unary(operand(w1, w2))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        binary = _BINARY[type(node.op)]
        left, right = _compile(node.left, formula), _compile(node.right, formula)
        return lambda w1, w2: binary(left(w1, w2), right(w1, w2))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        function = FUNCTIONS[node.func.id]
        argument = _compile(_only_argument(node, formula), formula)
        return lambda w1, w2: function(argument(w1, w2))
    raise FormulaError(
        f"Formula: {_describe(node, formula)} at column {_column(node, formula)} "
        f"is not allowed ({ALLOWED})."
    )


def _number(node: ast.Constant, formula: str) -> float:
    try:
        number = float(node.value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        segment = ast.get_source_segment(formula, node) or ""
        raise FormulaError(
            f"Formula: the number {_short(segment)} at column {_column(node, formula)} is too "
            "large for a float."
        )
    return number


def _only_argument(call: ast.Call, formula: str) -> ast.expr:
    name = call.func.id  # type: ignore[attr-defined]  # checked by the caller
    if call.keywords:
        keyword = call.keywords[0].arg
        raise FormulaError(
            f"Formula: {name}() at column {_column(call, formula)} takes no keyword "
            f"arguments, got {f'{keyword}=' if keyword else '**'} ({ALLOWED})."
        )
    if len(call.args) != 1:
        raise FormulaError(
            f"Formula: {name}() at column {_column(call, formula)} takes exactly one "
            f"argument, got {len(call.args)} ({ALLOWED})."
        )
    return call.args[0]


def _describe(node: ast.expr, formula: str) -> str:
    """What a refused node is, in the user's words: "'x'", "call of 'print'", ..."""
    segment = ast.get_source_segment(formula, node) or ""
    if isinstance(node, ast.Name):
        return repr(node.id)
    if isinstance(node, ast.Constant):
        kind = _CONSTANT_KINDS.get(type(node.value), type(node.value).__name__)
        return f"{kind} {segment[:40]}"
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        symbol = _SYMBOLS.get(type(node.op), type(node.op).__name__)
        return f"operator {symbol!r}" + (" (for a power write **)" if symbol == "^" else "")
    if isinstance(node, ast.Call):
        segment = ast.get_source_segment(formula, node.func) or ""
    noun = _NOUNS.get(type(node), type(node).__name__)
    return f"{noun} {_short(segment)}"


def _short(text: str, limit: int = 40) -> str:
    """`text` quoted, cut to `limit` characters: error messages quote, never flood."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _column(node: ast.expr, formula: str) -> int:
    """1-based column of `node` (of its operator, for operators) in the one-line formula."""
    offset = node.col_offset  # in UTF-8 bytes, not characters
    if isinstance(node, ast.BinOp) and node.left.end_col_offset is not None:
        between = formula.encode()[node.left.end_col_offset : node.right.col_offset].decode()
        offset = node.left.end_col_offset + len(between) - len(between.lstrip(" )"))
    return len(formula.encode()[:offset].decode()) + 1


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
            f"Formula: {_short(formula)} has no finite value anywhere on the window {window}."
        )
