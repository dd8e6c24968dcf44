"""What the store holds, as plain records: studies and runs, for tables and exports.

A `RunRecord` is a run's row without its tensors (cheap to list thousands): its key,
spec, how studies show it, its final numbers and its reproducibility record. `rows()`
flattens records into the columns of `runs list`, CSV and pandas.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from descend.engine.plain import plain
from descend.errors import DescendError

EXTRA = "pip install 'descend[tables]'"


@dataclass(frozen=True)
class StudyRecord:
    """A study as the store keeps it: enough to rebuild the object its command returned."""

    name: str
    kind: str  # surface | compare | lr-find
    settings: Mapping[str, Any] = field(default_factory=dict)  # plain data
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class StudyInfo:
    name: str
    kind: str
    title: str
    runs: int  # runs the study has
    stored: int  # of which the store holds
    updated_at: float


@dataclass(frozen=True)
class RunRecord:
    key: str
    spec: dict[str, Any]  # RunSpec.content(), as Python values
    shown: dict[str, Any]  # label, tags, regime text and task as written
    records: dict[str, Any]  # diverged_at, wall_time, final numbers, names, ...
    provenance: dict[str, Any]
    written_at: float
    writer: str
    studies: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return str(self.shown.get("label", ""))

    def row(self) -> dict[str, Any]:
        """The run as one flat row of plain values (CSV, pandas, `runs list`)."""
        spec, records = self.spec, self.records
        optimizer = spec["optimizer"]
        task = self.shown["task"]  # as written: only the parameters a user gave
        task_params = ",".join(f"{k}={_short(v)}" for k, v in task["params"].items())
        row: dict[str, Any] = {
            "key": self.key,
            "studies": " ".join(self.studies),
            "label": self.label,
            "task": f"{task['name']}:{task_params}" if task_params else task["name"],
            "rule": optimizer["rule"],
            "hyperparams": " ".join(
                f"{k}={_short(v)}" for k, v in optimizer["hyperparams"].items()
            ),
            "regime": self.shown.get("regime") or "",
            "seed": spec["seed"],
            "init_seed": spec["init_seed"],
            "updates": records.get("updates"),
            "epochs": spec["budget"]["epochs"],
            "dtype": spec["dtype"],
            "final_loss": records.get("final_loss"),
            "diverged_at": records.get("diverged_at"),
        }
        row.update({f"final_{k}": v for k, v in records.get("final", {}).items()})
        row.update(
            {
                "wall_time": records.get("wall_time"),
                "device": records.get("device"),
                "written_at": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.written_at)),
                "descend": self.provenance.get("descend"),
                "torch": self.provenance.get("torch"),
            }
        )
        return row


class RunRecords(Sequence[RunRecord]):
    """Records of runs, in a study's order (or in the order they were written)."""

    def __init__(self, records: Sequence[RunRecord]):
        self._records = list(records)

    def __getitem__(self, index):  # type: ignore[override]
        return self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self._records)

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows with the same columns (a metric a run lacks is None)."""
        rows = [r.row() for r in self._records]
        columns = list(dict.fromkeys(c for row in rows for c in row))
        return [{c: row.get(c) for c in columns} for row in rows]

    def to_pandas(self) -> Any:
        """A pandas DataFrame of `rows()` (needs pandas)."""
        try:
            import pandas
        except ImportError:
            raise DescendError(f"RunRecords.to_pandas needs pandas: {EXTRA}.") from None
        return pandas.DataFrame(self.rows())


def record_from_row(row: Sequence[Any], studies: tuple[str, ...] = ()) -> RunRecord:
    """A RunRecord from (key, spec, shown, records, provenance, written_at, writer)."""
    key, spec, shown, records, provenance, written_at, writer = row
    presentation = json.loads(shown)
    presentation["tags"] = plain(presentation["tags"])
    presentation["task"]["params"] = plain(presentation["task"]["params"])
    return RunRecord(
        key=key,
        spec=plain(json.loads(spec)),
        shown=presentation,
        records=json.loads(records),
        provenance=json.loads(provenance),
        written_at=float(written_at),
        writer=writer,
        studies=studies,
    )


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ",".join(_short(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
