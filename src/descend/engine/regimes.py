"""Data regimes: which training examples each update sees.

    full                        all n examples, one update per epoch (GD)
    single                      one example per update, a new order every epoch (SGD)
    minibatch:B:fixed           B examples per update, the same order every epoch
    minibatch:B:shuffle         B examples per update, a new permutation every epoch
    minibatch:B:replacement     B examples drawn with replacement for every update

`single` is `minibatch:1:shuffle` (seed 001's "one random sample per update"); it too
takes an order (`single:fixed`). When B does not divide n, the last batch of an epoch is
partial: kept (the default, as torch's DataLoader) or dropped (`drop_last`, or a fourth
field `minibatch:32:shuffle:drop_last`). With replacement, an epoch is the same number
of updates as without.

The order of a run comes from its data seed alone, so runs with the same seed see the
same batches under the same regime, whatever group they run in; a fixed order is the
first epoch's order of a shuffled run with the same seed (the two differ only from the
second epoch on: a paired comparison). A batch is a (K, B) tensor of indices, one row per
run: one gather gives K runs their K different batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from descend import checks
from descend.errors import DescendError

KINDS = ("full", "single", "minibatch")
ORDERS = ("fixed", "shuffle", "replacement")
FORMS = (
    "full, single, single:ORDER, minibatch:B, minibatch:B:ORDER (ORDER: fixed, shuffle, "
    "replacement; add :drop_last to drop a partial last batch)"
)


@dataclass(frozen=True)
class Regime:
    kind: str  # full | single | minibatch
    batch_size: int | None = None  # minibatch only
    order: str = "shuffle"  # fixed | shuffle | replacement (not for full)
    drop_last: bool = False

    def __post_init__(self) -> None:
        checks.choice("regime", self.kind, KINDS)
        checks.choice("order", self.order, ORDERS)
        checks.flag("drop_last", self.drop_last)
        if self.kind == "minibatch":
            checks.integer("batch size", self.batch_size, low=1)
        elif self.batch_size is not None:
            raise DescendError(
                f"Regime {self.kind!r} takes no batch size (allowed forms: {FORMS}).",
                key="regime",
            )

    @classmethod
    def parse(cls, text: str) -> Regime:
        """'full', 'single', 'minibatch:25:fixed', 'minibatch:32:shuffle:drop_last'."""
        parts = [p.strip() for p in str(text).split(":")]
        drop_last = parts[-1] == "drop_last"
        if drop_last:
            parts = parts[:-1]
        kind, rest = parts[0], parts[1:]
        try:
            if kind == "full" and not rest:
                return cls("full", drop_last=drop_last)
            if kind == "single" and len(rest) <= 1:
                return cls("single", None, *rest, drop_last=drop_last)
            if kind == "minibatch" and 1 <= len(rest) <= 2:
                return cls("minibatch", _batch_size(rest[0]), *rest[1:], drop_last=drop_last)
        except DescendError as problem:
            raise DescendError(f"Invalid regime {text!r}: {problem}", key="regime") from None
        raise DescendError(f"Invalid regime {text!r} (allowed: {FORMS}).", key="regime")

    def __str__(self) -> str:
        if self.kind == "full":
            text = "full"
        elif self.kind == "single":
            text = "single" if self.order == "shuffle" else f"single:{self.order}"
        else:
            text = f"minibatch:{self.batch_size}:{self.order}"
        return text + (":drop_last" if self.drop_last else "")

    def content(self) -> dict[str, object]:
        """What the regime computes (`single:fixed` is `minibatch:1:fixed`)."""
        if self.kind == "full":
            return {"batch": "all", "drop_last": self.drop_last}
        size = 1 if self.kind == "single" else self.batch_size
        return {"batch": size, "order": self.order, "drop_last": self.drop_last}

    def size(self, examples: int) -> int:
        """Examples per (full) batch."""
        return {"full": examples, "single": 1}.get(self.kind, self.batch_size or 0)

    def check(self, examples: int) -> None:
        """Refuse a batch larger than the data (a run would make no update)."""
        if self.size(examples) > examples:
            raise DescendError(
                f"Invalid batch size: {self.size(examples)} is more than the {examples} "
                f"training examples (allowed: 1 to {examples}).",
                key="batch_size",
            )

    def updates_per_epoch(self, examples: int) -> int:
        size = self.size(examples)
        return examples // size if self.drop_last else math.ceil(examples / size)

    def batch_sizes(self, examples: int) -> list[int]:
        """The sizes of one epoch's batches, in order."""
        size, updates = self.size(examples), self.updates_per_epoch(examples)
        if self.order == "replacement" or self.drop_last or examples % size == 0:
            return [size] * updates
        return [size] * (updates - 1) + [examples % size]

    def describe(self, examples: int) -> str:
        """One line for summaries: what an epoch is under this regime."""
        sizes = self.batch_sizes(examples)
        head = f"{self}: {len(sizes)} update{'s' * (len(sizes) != 1)} per epoch of {examples}"
        if len(set(sizes)) > 1:
            return f"{head}, batches of {sizes[0]} and a last one of {sizes[-1]} (kept)"
        dropped = examples - sum(sizes) if self.order != "replacement" else 0
        tail = f", the last {dropped} dropped" if dropped else ""
        return f"{head}, batches of {sizes[0]}{tail}"


def _batch_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise DescendError(
            f"batch size {text!r} is not an integer (allowed: an integer >= 1)", key="batch_size"
        ) from None
    return checks.integer("batch size", value, low=1)


class BatchOrders:
    """The batches of K runs, epoch by epoch: for each update a (K, B) index tensor.

    Runs that share a data seed share one generator, drawn once per epoch; a full batch
    is None (every example: no gather needed)."""

    def __init__(self, regime: Regime, examples: int, data_seeds: Sequence[int], device):
        self.regime, self.examples, self.device = regime, examples, torch.device(device)
        distinct = list(dict.fromkeys(data_seeds))
        self.generators = [torch.Generator().manual_seed(s) for s in distinct]
        self.run_to_seed = torch.tensor([distinct.index(s) for s in data_seeds])  # (K,)
        self.fixed: Tensor | None = None

    def epoch(self) -> Iterator[Tensor | None]:
        """The batches of the next epoch, in order."""
        regime, n = self.regime, self.examples
        sizes = regime.batch_sizes(n)
        if regime.kind == "full":
            yield from [None] * len(sizes)
            return
        if regime.order == "replacement":
            draws = torch.stack(
                [torch.randint(n, (len(sizes), sizes[0]), generator=g) for g in self.generators]
            )  # (S, U, B)
            rows = draws[self.run_to_seed].to(self.device)  # (K, U, B)
            yield from (batch.contiguous() for batch in rows.unbind(1))
            return
        order = self.fixed if regime.order == "fixed" else None
        if order is None:
            order = torch.stack([torch.randperm(n, generator=g) for g in self.generators])
            if regime.order == "fixed":
                self.fixed = order
        rows = order[self.run_to_seed].to(self.device)  # (K, n)
        start = 0
        for size in sizes:
            # contiguous: a strided index tensor makes the gather some 50x slower
            yield rows[:, start : start + size].contiguous()  # (K, B)
            start += size
