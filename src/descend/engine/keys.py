"""Content keys: a run spec's data, written canonically and hashed.

Two specs that describe the same run have the same key however they were written
(`sgd` and `sgd:lr=0.001,momentum=0`; `(0.9, 0.99)` and `[0.9, 0.99]`); any change to
what the run computes changes it. The store finds finished runs by it, and a distributed
backend can ship a spec by it. Labels and tags are presentation, not content.

Only plain data has a key: numbers, strings, booleans, None, sequences and mappings of
them, tensors (by dtype, shape and values) and schedules (by name and parameters). A
Python function has none: two lambdas cannot be told apart, so a spec holding one can
run but cannot be stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

import torch

from descend.errors import DescendError

KEY_VERSION = 1  # bumped when what a key covers changes: old keys then simply miss


class NotPlainDataError(DescendError):
    """A value with no canonical form (a Python function, an arbitrary object)."""


def canonical(value: Any) -> Any:
    """`value` as JSON-ready plain data, the same for equal values however written."""
    kind = type(value)  # (the common plain types first, by type: a store keys every run)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {"map": {str(k): canonical(v) for k, v in sorted(value.items(), key=_by_key)}}
    if kind is tuple or kind is list:
        return [canonical(v) for v in value]
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return int(value)  # 1.0 and 1 compute the same: momentum=0 is momentum=0.0
        return {"float": repr(value)}  # exact (repr round-trips), and nan/inf are JSON too
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu()
        return {"tensor": str(data.dtype), "shape": list(data.shape), "values": data.tolist()}
    if isinstance(value, Mapping):
        return {"map": {str(k): canonical(v) for k, v in sorted(value.items(), key=_by_key)}}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    from descend.schedules import Schedule  # (schedules are data: a name and parameters)

    if isinstance(value, Schedule):
        return {"schedule": value.name, "params": canonical(value.params)}
    if is_dataclass(value) and not isinstance(value, type) and hasattr(value, "content"):
        return canonical(value.content())
    if is_dataclass(value) and not isinstance(value, type):
        return {
            type(value).__name__: {f.name: canonical(getattr(value, f.name)) for f in fields(value)}
        }
    raise NotPlainDataError(
        f"{value!r} is not plain data (a {type(value).__name__}): a run holding it can run, "
        "but has no content key and cannot be stored. Use numbers, strings, tuples, "
        "tensors or descend schedules."
    )


def _by_key(item: tuple[Any, Any]) -> str:
    return str(item[0])


def content_key(data: Mapping[str, Any]) -> str:
    """A 20-hex-digit SHA-256 of the canonical JSON of `data`."""
    return digest(canonical(data))


def digest(canonical_data: Any) -> str:
    """The key of data already canonical (the store has it at hand: one pass, not two):
    the SHA-256 of json.dumps({"v": KEY_VERSION, "data": canonical_data}, sort_keys=True)."""
    return text_digest(canonical_text(canonical_data))


def canonical_text(canonical_data: Any) -> str:
    """The JSON text a key is the digest of (the store keeps it as the run's spec)."""
    return json.dumps(canonical_data, sort_keys=True)


def text_digest(text: str) -> str:
    """`digest` of the data whose `canonical_text` is `text`: the same JSON, wrapped as
    json.dumps writes {"v": ..., "data": ...} with sorted keys, without dumping twice."""
    wrapped = f'{{"data": {text}, "v": {KEY_VERSION}}}'
    return hashlib.sha256(wrapped.encode()).hexdigest()[:20]
