"""Factories of one kind by name: the optimizers, the schedules, the surfaces.

One mechanism for all three, so that every name a user types is checked the same way: an
unknown name lists the known ones, an unknown parameter (a typo) names the allowed ones
with a suggestion, before anything is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from descend.errors import HyperparameterError, UnknownNameError, did_you_mean


class Registry:
    def __init__(self, kind: str, parameter: str = "parameter"):
        self.kind = kind  # "optimizer", "schedule", "surface": for messages
        self.parameter = parameter  # what its factories' arguments are called
        self._factories: dict[str, Callable[..., Any]] = {}

    def add(self, name: str, factory: Callable[..., Any]) -> None:
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def factory(self, name: str) -> Callable[..., Any]:
        if name not in self._factories:
            raise UnknownNameError(self.kind, name, self._factories)
        return self._factories[name]

    def defaults(self, name: str) -> dict[str, Any]:
        """{parameter: default} of a factory (inspect.Parameter.empty where it has none)."""
        parameters = inspect.signature(self.factory(name)).parameters.values()
        return {p.name: p.default for p in parameters}

    def check(self, name: str, given: Iterable[str]) -> None:
        """Refuse a parameter the factory `name` does not take."""
        allowed = list(self.defaults(name))
        for key in given:
            if key not in allowed:
                raise HyperparameterError(
                    f"{self.kind.capitalize()} {name!r} has no {self.parameter} {key!r}."
                    f"{did_you_mean(key, allowed)} Allowed: {', '.join(allowed) or 'none'}."
                )

    def get(self, name: str, **params: Any) -> Any:
        self.check(name, params)
        return self.factory(name)(**params)
