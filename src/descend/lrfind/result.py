"""What a range test returns: the curves of every seed, the suggested lrs with their
rules, and the study protocol (tables, figures) that `descend.report.save` writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from descend.lrfind import curves
from descend.studies.base import Figures, Table, number


@dataclass(frozen=True)
class SeedCurve:
    """One seed's sweep: the loss of each update's batch, raw and smoothed (as long as
    the sweep went on: lrs[: len(raw)]), and why it stopped early ('' if it did not)."""

    seed: int
    raw: np.ndarray  # (n,) float64
    smoothed: np.ndarray  # (n,) float64
    stopped: str


@dataclass(frozen=True)
class Losses:
    """Per seed, in `result.seeds` order: `raw[i]` and `smoothed[i]`, (n_i,) each."""

    raw: list[np.ndarray]
    smoothed: list[np.ndarray]


@dataclass
class LRFindResult:
    """A range test's result; a study (`tables()`, `figures()`) for `descend.report`."""

    lrs: np.ndarray  # (steps,) the sweep as planned; a seed that stopped early used a prefix
    curves: list[SeedCurve]
    mode: str
    smooth: float
    diverge: float | None
    title: str
    what: str = ""  # the model, optimizer and data, for the description
    name: str = "lr-find"  # in a store: lr-find/<task>/<optimizer> (lrfind.stored)
    provenance: list[dict[str, Any]] = field(default_factory=list)  # a record per seed

    @property
    def seeds(self) -> list[int]:
        return [c.seed for c in self.curves]

    @property
    def losses(self) -> Losses:
        return Losses([c.raw for c in self.curves], [c.smoothed for c in self.curves])

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """lrs, mean, lowest and highest smoothed loss over the seeds, (n,) each, where
        n is as far as every seed went (the mean of smoothed curves is the smoothed
        mean curve: the smoothing is linear)."""
        n = min(len(c.smoothed) for c in self.curves)
        stacked = np.stack([c.smoothed[:n] for c in self.curves])  # (seeds, n)
        return self.lrs[:n], stacked.mean(axis=0), stacked.min(axis=0), stacked.max(axis=0)

    @cached_property
    def suggestions(self) -> dict[str, float | None]:
        """rule -> lr, each rule applied to the mean smoothed curve (`curves.RULES` says
        how); None where the curve is too short or, for 'steepest', never falls."""
        _, mean, _, _ = self.curve()
        return curves.suggest(self.lrs, mean, self.mode)

    @property
    def suggestion(self) -> float | None:
        """The 'valley' rule's lr: the first guess. On digits-convnet (3 seeds, 10 epochs
        of training at each rule's lr) it trained well for Adam (97.9 % test accuracy)
        and SGD with momentum 0.9 (96.9 %), where 'steepest' chose an lr at which SGD
        did not learn at all (0.20: 10 %). It is fastai's default rule too."""
        return self.suggestions["valley"]

    @cached_property
    def per_seed(self) -> list[dict[str, float | None]]:
        """Each seed's own suggestions (how much they move between seeds)."""
        return [curves.suggest(self.lrs, c.smoothed, self.mode) for c in self.curves]

    @property
    def description(self) -> str:
        kind = "Exponential" if self.mode == "exp" else "Linear"
        stops = [
            f"seed {c.seed} after {len(c.raw)} updates: {c.stopped}"
            for c in self.curves
            if c.stopped
        ]
        rule = (
            "never stopped early"
            if self.diverge is None
            else f"a sweep stops once the smoothed loss exceeds {self.diverge:g} × its best "
            "or is not finite"
        )
        return (
            f"{kind} lr sweep from {self.lrs[0]:.3g} to {self.lrs[-1]:.3g} over "
            f"{len(self.lrs)} updates, one batch each, from the same initial weights for "
            f"seeds {', '.join(map(str, self.seeds))} (each its own data order and dropout); "
            f"loss smoothed exponentially with factor {self.smooth:g}; {rule} "
            f"({'; '.join(stops) if stops else 'none did'}). {self.what}"
        )

    # --- the study protocol -----------------------------------------------------------

    def tables(self) -> list[Table]:
        return [self._suggestions_table(), self._curve_table()]

    def figures(self) -> Figures:
        return {"lr-find": self.plot}

    def plot(self) -> Any:
        """Smoothed loss against lr (log axis): the mean over seeds with a min–max band,
        each suggestion marked and named by its rule, the points no rule reads shaded."""
        from descend.plots.lr_find import range_test_figure

        lrs, mean, low, high = self.curve()
        return range_test_figure(
            lrs, mean, low, high, self.suggestions,
            skipped=(curves.SKIP_START, curves.SKIP_END), seeds=len(self.curves),
            title=self.title,
        )  # fmt: skip

    def report(self, path: str, *, format: str = "html") -> Any:
        """One self-contained page (or Markdown + PNG) of the test: descend.report_page,
        its reproducibility record from `provenance`."""
        from descend import report_page

        return report_page.write_study(self, path, [], format=format)

    def _repr_html_(self) -> str:
        from descend.report import notebook_html

        return notebook_html(self, ["lr-find"])

    def _suggestions_table(self) -> Table:
        rows = []
        for rule, lr in self.suggestions.items():
            found = [s[rule] for s in self.per_seed if s[rule] is not None]
            rows.append({
                "rule": rule,
                "lr": lr,
                "lowest seed": min(found) if found else None,
                "highest seed": max(found) if found else None,
                "how": curves.RULES[rule],
            })  # fmt: skip
        seeds = len(self.curves)
        return Table(
            "suggestions",
            "Suggested learning rates",
            rows,
            note=(
                f"Each rule reads the mean smoothed loss of {seeds} seed(s), without the first "
                f"{curves.SKIP_START} and last {curves.SKIP_END} points; 'lowest/highest "
                "seed': the rule on each seed's own curve. " + curves.VALLEY_EXACTLY
            ),
            formats={
                "how": str,
                "rule": str,
                **{k: _lr for k in ("lr", "lowest seed", "highest seed")},
            },
        )

    def _curve_table(self) -> Table:
        rows = []
        _, mean, _, _ = self.curve()
        for i, lr in enumerate(self.lrs):
            row: dict[str, Any] = {"update": i, "lr": float(lr)}
            row["mean smoothed"] = float(mean[i]) if i < len(mean) else None
            for c in self.curves:
                row[f"seed {c.seed} raw"] = float(c.raw[i]) if i < len(c.raw) else None
                row[f"seed {c.seed} smoothed"] = float(c.smoothed[i]) if i < len(c.raw) else None
            rows.append(row)
        return Table("curve", "The sweep: lr and loss at each update", rows, printed=False)


def _lr(value: Any) -> str:
    return "—" if value is None else f"{value:.3g}" if isinstance(value, float) else number(value)
