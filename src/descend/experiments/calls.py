"""Short call specs, as typed on a command line: `name:key=value,key=value`.

    sgd:momentum=0.9,nesterov=true
    adam:betas=(0.9,0.99),lr=3e-4
    cosine_warm_restarts:lr=0.1,T_0=10,T_mult=2,eta_min=0.01

Values are Python literals (numbers, tuples, lists, quoted strings, True/False/None), or
true/false/none in any case, or else a bare word taken as a string
(`line_search_fn=strong_wolfe`). Lists become tuples (so `betas=[0.9,0.99]` is a pair).
"""

from __future__ import annotations

import ast
from typing import Any

from descend.errors import DescendError

WORDS = {"true": True, "false": False, "none": None}


class CallSpecError(DescendError):
    """A call spec that cannot be read."""


def parse_call(text: str) -> tuple[str, dict[str, Any]]:
    """'name:key=value,...' -> (name, {key: value})."""
    name, _, arguments = text.strip().partition(":")
    name = name.strip()
    if not is_name(name):
        raise CallSpecError(
            f"Cannot read {text!r}: it must start with a name, as in 'sgd:momentum=0.9' "
            "(name, then ':' and key=value pairs separated by commas)."
        )
    values: dict[str, Any] = {}
    for item in split_top_level(arguments):
        key, equals, raw = item.partition("=")
        key = key.strip()
        if not equals or not key.isidentifier():
            raise CallSpecError(f"Cannot read {item.strip()!r} in {text!r}: expected key=value.")
        if key in values:
            raise CallSpecError(f"{key!r} is given twice in {text!r}.")
        values[key] = parse_value(raw.strip())
    return name, values


def is_name(text: str) -> bool:
    """A name as descend spells them: an identifier, hyphens allowed (quadratic-regression)."""
    return text.replace("-", "_").isidentifier()


def parse_value(raw: str) -> Any:
    if raw.lower() in WORDS:
        return WORDS[raw.lower()]
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw  # a bare word: a string such as strong_wolfe or triangular2
    return _tuples(value)


def _tuples(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    return value


def split_top_level(arguments: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes."""
    items, depth, quote, current = [], 0, "", []
    for char in arguments:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    if "".join(current).strip():
        items.append("".join(current))
    return [item for item in items if item.strip()]
