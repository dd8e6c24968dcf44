"""Safe formulas: a line of arithmetic turned into torch operations, never run by Python.

The text is parsed with Python's `ast` (mode "eval"), and only a whitelist of node types
becomes part of the function: numbers, the formula's variables (w1 and w2 for a surface,
k for a schedule's factor), the constants pi and e, + - * / ** (and unary - and +),
parentheses, and the one-argument functions in FUNCTIONS. Anything else is refused with
a FormulaError that names what was found and where. No part of the text is ever run by
Python (no eval, exec or compile): the function is a tree of closures over torch
operations. Numbers become tensors of the variables' dtype, so `w1 + 9**9**9**9` is inf
at once (float arithmetic) instead of hours of big-integer arithmetic.

    f = compile_formula("0.95**k", ("k",))
    f(torch.tensor(10.0))                    # tensor(0.5987)
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from descend.errors import DescendError

MAX_LENGTH = 500  # characters: a formula, not a program
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
Term = Callable[[Sequence[Tensor]], Tensor]  # the variables' values -> value, same shape


class FormulaError(DescendError):
    """A formula that cannot be turned into a function."""


def allowed(variables: Sequence[str]) -> str:
    return (
        f"allowed names: {', '.join([*variables, *CONSTANTS])}; "
        f"functions: {', '.join(FUNCTIONS)} (one argument each); "
        "operators: + - * / ** and unary -; numbers; parentheses"
    )


def compile_formula(text: str, variables: Sequence[str], example: str = "") -> Term:
    """The function of `variables` written in `text`, checked node by node."""
    formula = normalise(text, example)
    return compile_node(parse(formula).body, formula, tuple(variables))


def names_used(text: str) -> set[str]:
    return {node.id for node in ast.walk(parse(normalise(text))) if isinstance(node, ast.Name)}


def normalise(text: str, example: str = "") -> str:
    """Whitespace runs (newlines included) become single spaces; length is checked.
    `example` ends the message for an empty text (" in k, e.g. '0.95**k'")."""
    if not isinstance(text, str):
        raise FormulaError(f"Formula: must be a string, got {type(text).__name__}.")
    formula = " ".join(text.split())
    if not formula:
        raise FormulaError(f"Formula: empty; write an expression{example}.")
    if not formula.isprintable():
        bad = next(c for c in formula if not c.isprintable())
        raise FormulaError(
            f"Formula: control character {bad!r} at column {formula.index(bad) + 1}."
        )
    if len(formula) > MAX_LENGTH:
        raise FormulaError(f"Formula: {len(formula)} characters long; the limit is {MAX_LENGTH}.")
    return formula


def parse(formula: str) -> ast.Expression:
    try:
        return ast.parse(formula, mode="eval")
    except SyntaxError as error:
        where = f"column {error.offset}" if error.offset else "the end"  # 0: ran out of text
        raise FormulaError(f"Formula: syntax error at {where}: {error.msg}.") from None
    except (RecursionError, MemoryError):
        raise FormulaError("Formula: nested too deeply.") from None


def compile_node(node: ast.expr, formula: str, variables: tuple[str, ...]) -> Term:
    """The function that `node` denotes, built from whitelisted nodes only."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        number = _number(node, formula)
        return lambda v: torch.as_tensor(number, dtype=v[0].dtype, device=v[0].device)
    if isinstance(node, ast.Name) and node.id in variables:
        index = variables.index(node.id)
        return lambda v: v[index]
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        constant = CONSTANTS[node.id]
        return lambda v: torch.as_tensor(constant, dtype=v[0].dtype, device=v[0].device)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        unary, operand = _UNARY[type(node.op)], compile_node(node.operand, formula, variables)
        return lambda v: unary(operand(v))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        binary = _BINARY[type(node.op)]
        left = compile_node(node.left, formula, variables)
        right = compile_node(node.right, formula, variables)
        return lambda v: binary(left(v), right(v))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        function = FUNCTIONS[node.func.id]
        argument = compile_node(_only_argument(node, formula, variables), formula, variables)
        return lambda v: function(argument(v))
    raise FormulaError(
        f"Formula: {_describe(node, formula)} at column {_column(node, formula)} "
        f"is not allowed ({allowed(variables)})."
    )


def _number(node: ast.Constant, formula: str) -> float:
    try:
        number = float(node.value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        segment = ast.get_source_segment(formula, node) or ""
        raise FormulaError(
            f"Formula: the number {short(segment)} at column {_column(node, formula)} is too "
            "large for a float."
        )
    return number


def _only_argument(call: ast.Call, formula: str, variables: tuple[str, ...]) -> ast.expr:
    name = call.func.id  # type: ignore[attr-defined]  # checked by the caller
    if call.keywords:
        keyword = call.keywords[0].arg
        raise FormulaError(
            f"Formula: {name}() at column {_column(call, formula)} takes no keyword "
            f"arguments, got {f'{keyword}=' if keyword else '**'} ({allowed(variables)})."
        )
    if len(call.args) != 1:
        raise FormulaError(
            f"Formula: {name}() at column {_column(call, formula)} takes exactly one "
            f"argument, got {len(call.args)} ({allowed(variables)})."
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
    return f"{noun} {short(segment)}"


def short(text: str, limit: int = 40) -> str:
    """`text` quoted, cut to `limit` characters: error messages quote, never flood."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _column(node: ast.expr, formula: str) -> int:
    """1-based column of `node` (of its operator, for operators) in the one-line formula."""
    offset = node.col_offset  # in UTF-8 bytes, not characters
    if isinstance(node, ast.BinOp) and node.left.end_col_offset is not None:
        between = formula.encode()[node.left.end_col_offset : node.right.col_offset].decode()
        offset = node.left.end_col_offset + len(between) - len(between.lstrip(" )"))
    return len(formula.encode()[:offset].decode()) + 1
