"""Errors that tell the user what was wrong and what would have been accepted."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DescendError(ValueError):
    """Base class: every error descend raises on bad input is a ValueError.

    `key` names the setting that was wrong ("lr", "regime", "batch_size", ...) where one
    is to blame, so that a caller holding the text it came from (a TOML file, a command
    line) can point at it without reading the message."""

    def __init__(self, message: str = "", *, key: str | None = None):
        super().__init__(message)
        self.key = key


class UnknownNameError(DescendError):
    """A name (optimizer, schedule, hyper-parameter, ...) that is not known."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = ""):
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(
            f"Unknown {kind} {name!r}.{did_you_mean(name, self.known)} "
            f"Known {kind}s: {', '.join(self.known)}.{' ' + hint if hint else ''}"
        )


class HyperparameterError(DescendError):
    """A hyper-parameter value outside the values its rule accepts."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest known name, or '' when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
