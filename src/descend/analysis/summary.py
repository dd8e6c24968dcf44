"""Statistics over seeds: a mean with its confidence interval, and paired comparisons.

Runs compared in a study share their seeds (same initial weights, same batches), so two
settings are compared seed by seed: the differences d_s = A_s − B_s carry the effect
without the seed-to-seed noise both share. For them:

    mean d̄ ± t(0.975, n−1)·sd/√n        the 95 % confidence interval (Student's t)
    p of the paired t-test                 (scipy.stats.ttest_rel), two-sided
    a bootstrap interval of d̄             (scipy.stats.bootstrap, percentile, 10 000
                                           resamples, fixed seed: reproducible)

and a verdict in plain words that says when the seeds are too few to tell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
FEW_SEEDS = 5  # below this a "no difference" is called what it is: too few seeds to tell


@dataclass(frozen=True)
class Estimate:
    """Mean, standard deviation and 95 % t-interval of the finite values among `n`."""

    mean: float
    sd: float
    low: float
    high: float
    n: int  # finite values used
    excluded: int = 0  # non-finite values left out (diverged runs)

    def __str__(self) -> str:
        if self.n == 0:
            return "—"
        if self.n == 1:
            return f"{self.mean:.4g}"
        return f"{self.mean:.4g} ± {self.sd:.2g}"


def estimate(values: Sequence[float]) -> Estimate:
    """The mean of the finite values, their sd, and the 95 % t confidence interval."""
    data = np.asarray(values, dtype=np.float64)
    finite = data[np.isfinite(data)]
    n, excluded = len(finite), len(data) - len(finite)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan, 0, excluded)
    mean = float(finite.mean())
    if n == 1:
        return Estimate(mean, math.nan, math.nan, math.nan, 1, excluded)
    sd = float(finite.std(ddof=1))
    from scipy import stats  # (half a second to import: only when statistics are asked)

    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
    return Estimate(mean, sd, mean - half, mean + half, n, excluded)


@dataclass(frozen=True)
class Paired:
    """A − B over the seeds both have, for one metric."""

    a: str
    b: str
    metric: str
    n: int
    difference: Estimate  # of the per-seed differences A − B
    p_value: float  # paired t-test, two-sided (nan below 2 seeds or with no spread)
    bootstrap_low: float
    bootstrap_high: float
    a_lower: int  # seeds where A's value is below B's
    lower_is_better: bool = True
    a_higher: int = 0  # seeds where A's value is above B's

    @property
    def a_better(self) -> bool | None:
        """True / False when the 95 % interval excludes 0, None when it cannot tell."""
        low, high = self.difference.low, self.difference.high
        if self.n < 2 or math.isnan(low):
            return None
        if high < 0 or low > 0:
            return (high < 0) == self.lower_is_better
        return None

    def verdict(self) -> str:
        """One sentence in plain words, with the numbers behind it."""
        d = self.difference
        numbers = (
            f"mean difference {d.mean:+.3g} (95 % CI [{d.low:.3g}, {d.high:.3g}], bootstrap "
            f"[{self.bootstrap_low:.3g}, {self.bootstrap_high:.3g}]), paired t-test p = "
            f"{self.p_value:.2g}; {self._count()}"
        )
        if self.n < 2:
            return (
                f"{self.n} seed: no statistics (run several seeds); {self.metric} "
                f"{self.a} − {self.b} = {d.mean:+.3g}."
            )
        better = self.a_better
        if better is None:
            few = f" — {self.n} seeds are too few to tell" if self.n < FEW_SEEDS else ""
            return (
                f"No clear difference in {self.metric} between {self.a} and {self.b}{few}: "
                f"{numbers}."
            )
        winner, loser = (self.a, self.b) if better else (self.b, self.a)
        word = "lower" if self.lower_is_better else "higher"
        return f"{winner} has a {word} {self.metric} than {loser}: {numbers}."

    def _count(self) -> str:
        if self.lower_is_better:
            return f"{self.a} lower in {self.a_lower} of {self.n} seeds"
        return f"{self.a} higher in {self.a_higher} of {self.n} seeds"


def paired(
    a: Sequence[float],
    b: Sequence[float],
    *,
    names: tuple[str, str] = ("A", "B"),
    metric: str = "value",
    lower_is_better: bool = True,
) -> Paired:
    """Compare A and B seed by seed (a[i] and b[i] come from the same seed); pairs with a
    non-finite value (a diverged run) are left out."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"Paired values must match: {len(x)} and {len(y)}.")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    d = x - y
    p_value, low, high = math.nan, math.nan, math.nan
    from scipy import stats

    if len(d) >= 2 and np.ptp(d) > 0:
        p_value = float(stats.ttest_rel(x, y).pvalue)
        interval = stats.bootstrap(
            (d,),
            np.mean,
            confidence_level=CONFIDENCE,
            n_resamples=10_000,
            method="percentile",
            rng=np.random.default_rng(0),
        ).confidence_interval
        low, high = float(interval.low), float(interval.high)
    elif len(d) >= 2:  # every seed gives the same difference: no spread to test
        low = high = float(d[0])
    difference = estimate(d)
    if len(d) >= 2 and np.ptp(d) == 0:
        difference = Estimate(float(d[0]), 0.0, float(d[0]), float(d[0]), len(d))
    return Paired(
        names[0],
        names[1],
        metric,
        len(d),
        difference,
        p_value,
        low,
        high,
        int((d < 0).sum()),
        lower_is_better,
        int((d > 0).sum()),
    )
