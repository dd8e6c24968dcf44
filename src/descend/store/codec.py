"""A run's results as a row and back: numbers and names as JSON, tensors as safetensors.

safetensors is an 8-byte length, a JSON header (names, dtypes, shapes, offsets), then
the raw little-endian bytes: reading it (the safetensors library's own parser, which
checks every offset) copies numbers and never imports or calls anything, so a store made
by someone else cannot run code here, as pickle and torch.load can. A buffer that is not
valid safetensors is refused as damaged. Writing is done here, in a few lines: the
library's writer costs some 0.15 ms per run of small tensors, 5 % of a surface study.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load

from descend.engine import RunResult, RunSpec
from descend.engine.records import run_flat_names
from descend.store.connection import StoreError

# tensors in the buffer: loss, lr, evaluated_at, epoch_seconds, trajectory (if kept),
# evaluations/<name>, initial/<param>, final/<param>
GROUPS = ("evaluations", "initial", "final")


def encode(result: RunResult) -> tuple[str, bytes]:
    """(records as JSON, tensors as one safetensors buffer) of a finished run."""
    tensors: dict[str, torch.Tensor] = {
        "loss": result.loss,
        "lr": result.lr,
        "evaluated_at": result.evaluated_at,
        "epoch_seconds": result.epoch_seconds,
    }
    if result.trajectory is not None:
        tensors["trajectory"] = result.trajectory
    named = {
        "evaluations": result.evaluations,
        "initial": result.initial_params,
        "final": result.final_params,
    }
    for group, values in named.items():
        tensors.update({f"{group}/{name}": value for name, value in values.items()})
    records = {
        "diverged_at": result.diverged_at,
        "wall_time": result.wall_time,
        "group_size": result.group_size,
        "device": result.device,
        "threads": result.threads,
        "param_names": _names(result),
        "names": {group: list(values) for group, values in named.items()},  # in order
        # for listing and exporting without reading the tensors back:
        "updates": result.updates,
        "final_loss": _finite(result.final_loss),
        "final": {k: _finite(float(v[-1])) for k, v in result.evaluations.items() if len(v)},
    }
    return json.dumps(records), safetensors_bytes(tensors)


DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}  # fmt: skip


def safetensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """The safetensors file of `tensors` (the format's spec: header, then data in order)."""
    assert sys.byteorder == "little"  # the format's byte order is the memory's, here
    arrays = [_host_array(tensor) for tensor in tensors.values()]
    signature = tuple(
        (name, tensor.dtype, tuple(tensor.shape), array.nbytes)
        for (name, tensor), array in zip(tensors.items(), arrays, strict=True)
    )
    header = _HEADERS.get(signature)
    if header is None:  # (a group's runs share one: same names, shapes and dtypes)
        header = _HEADERS[signature] = _header(signature)
        if len(_HEADERS) > 256:
            _HEADERS.pop(next(iter(_HEADERS)))
    return b"".join([header, *(array.data for array in arrays)])


_HEADERS: dict[tuple, bytes] = {}


def _host_array(tensor: torch.Tensor) -> Any:
    """The tensor's numbers as a contiguous numpy array on the host (no copy when they
    are one already, as a run's rows of its group's records are)."""
    flat = tensor.detach() if tensor.requires_grad else tensor
    if flat.device.type != "cpu":
        flat = flat.cpu()
    if not flat.is_contiguous():
        flat = flat.contiguous()
    if flat.dtype == torch.bfloat16:  # (numpy has no bfloat16: its bytes as they are)
        flat = flat.reshape(-1).view(torch.uint8)
    return flat.numpy()


def _header(signature: tuple) -> bytes:
    header: dict[str, Any] = {}
    offset = 0
    for name, dtype, shape, size in signature:
        header[name] = {
            "dtype": DTYPES[dtype],
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data aligned on 8 bytes, as the library writes it
    return len(text).to_bytes(8, "little") + text


FLAT = "flat"  # param_names: those `flat_names` gives (a ConvNet's 14 000: not stored)


def _names(result: RunResult) -> Any:
    names = tuple(result.param_names)
    return FLAT if names == run_flat_names(result.initial_params) else list(names)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no inf or nan


def decode(spec: RunSpec, records_json: str, buffer: bytes, *, key: str = "") -> RunResult:
    """The `RunResult` of `spec` from its stored row."""
    try:
        records = json.loads(records_json)
        tensors = load(bytes(buffer))
        names = records["names"]
        named = {g: {n: tensors[f"{g}/{n}"] for n in names[g]} for g in GROUPS}
        return RunResult(
            spec=spec,
            trajectory=tensors.get("trajectory"),
            loss=tensors["loss"],
            lr=tensors["lr"],
            diverged_at=records["diverged_at"],
            wall_time=float(records["wall_time"]),
            evaluations=named["evaluations"],
            evaluated_at=tensors["evaluated_at"],
            epoch_seconds=tensors["epoch_seconds"],
            initial_params=named["initial"],
            final_params=named["final"],
            param_names=run_flat_names(named["initial"])
            if records["param_names"] == FLAT
            else tuple(records["param_names"]),
            group_size=int(records["group_size"]),
            device=str(records["device"]),
            threads=int(records["threads"]),
        )
    except (SafetensorError, ValueError, KeyError, TypeError) as problem:
        raise StoreError(
            f"The stored run {key or spec.key} is damaged and cannot be read "
            f"({type(problem).__name__}: {str(problem)[:120]}); run it again with --rerun."
        ) from None


def shapes(buffer: bytes) -> dict[str, tuple[str, list[int]]]:
    """name -> (dtype, shape) of every tensor in a stored buffer (for `runs show`)."""
    header_size = int.from_bytes(buffer[:8], "little")
    header: dict[str, Any] = json.loads(bytes(buffer[8 : 8 + header_size]))
    return {k: (v["dtype"], v["shape"]) for k, v in header.items() if k != "__metadata__"}
