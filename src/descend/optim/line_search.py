"""Strong-Wolfe line search with cubic interpolation (Nocedal & Wright 2006, Alg. 3.5
and 3.6), decision for decision as torch.optim.LBFGS runs it (a port of minFunc's and
torch7's lswolfe).

Along a direction d from x, φ(t) = f(x + t·d) and φ'(t) = ∇f(x + t·d)·d. A step t is
accepted when it satisfies the strong Wolfe conditions

    φ(t) <= φ(0) + c₁·t·φ'(0)          (sufficient decrease, Armijo)
    |φ'(t)| <= −c₂·φ'(0)               (curvature)

Bracketing: from the initial t, extrapolate (the minimiser of the cubic through the last
two points, kept in [t + 0.01·(t − t_prev), 10·t]) until an interval is known to hold an
acceptable step. Zoom: shrink that interval by cubic interpolation, kept at least 10% of
its width away from its ends, until a step is accepted, the interval is narrower than
tolerance_change / max|d|, or the evaluations are spent. The best point seen is returned.

Step lengths keep the types torch's arithmetic gives them (the int 0 for the start, a
float, or a 0-d tensor), so that the state an L-BFGS update leaves is torch's, entry for
entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

Step = Any  # int, float or 0-d tensor: whatever torch's arithmetic on it produces


@dataclass(frozen=True)
class LinePoint:
    """One evaluated point x + t·d of the line."""

    t: Step
    loss: float
    grad: Tensor  # (n,) ∇f(x + t·d)
    slope: Tensor  # 0-d: φ'(t) = grad·d


class Line:
    """φ along d: evaluates points and counts the evaluations."""

    def __init__(self, evaluate_at: Callable[[Step], tuple[float, Tensor]], d: Tensor):
        self.evaluate_at, self.d, self.evals = evaluate_at, d, 0

    def __call__(self, t: Step) -> LinePoint:
        loss, grad = self.evaluate_at(t)
        self.evals += 1
        return LinePoint(t, loss, grad, grad.dot(self.d))


def cubic_minimizer(a: LinePoint, b: LinePoint, bounds: tuple[Step, Step] | None = None) -> Step:
    """The minimiser of the cubic matching φ and φ' at a.t and b.t, clipped to `bounds`
    (by default the interval between them); the midpoint if the cubic has none."""
    low, high = bounds if bounds is not None else ((a.t, b.t) if a.t <= b.t else (b.t, a.t))
    d1 = a.slope + b.slope - 3 * (a.loss - b.loss) / (a.t - b.t)
    d2_squared = d1**2 - a.slope * b.slope
    if d2_squared >= 0:
        d2 = d2_squared.sqrt()
        left, right = (a, b) if a.t <= b.t else (b, a)
        t = right.t - (right.t - left.t) * (
            (right.slope + d2 - d1) / (right.slope - left.slope + 2 * d2)
        )
        return min(max(t, low), high)
    return (low + high) / 2.0


@dataclass(frozen=True)
class Wolfe:
    """The two conditions, relative to the start of the line."""

    start: LinePoint
    c1: float
    c2: float

    def insufficient_decrease(self, p: LinePoint) -> bool:
        """φ(t) > φ(0) + c₁·t·φ'(0): above the Armijo line (a NaN φ(t) is not, as in torch)."""
        return bool(p.loss > self.start.loss + self.c1 * p.t * self.start.slope)

    def curvature_holds(self, p: LinePoint) -> bool:
        """|φ'(t)| <= −c₂·φ'(0)."""
        return bool(abs(p.slope) <= -self.c2 * self.start.slope)


def strong_wolfe(
    evaluate_at: Callable[[Step], tuple[float, Tensor]],
    d: Tensor,
    start: LinePoint,
    t: Step,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[LinePoint, int]:
    """The accepted (or best) point, and the number of evaluations made.

    `evaluate_at(t)` returns (f, ∇f) at x + t·d; `start` is the point t = 0; after the
    first trial at `t`, at most `max_ls` more evaluations are made (torch's budget)."""
    line, wolfe = Line(evaluate_at, d), Wolfe(start, c1, c2)
    bracket, accepted, tries = _bracket(line, wolfe, t, max_ls)
    if accepted:
        return bracket[0], line.evals
    too_narrow = _NarrowBracket(d.abs().max(), tolerance_change)
    return _zoom(line, wolfe, bracket, tries, max_ls, too_narrow), line.evals


def _bracket(line: Line, wolfe: Wolfe, t: Step, max_ls: int) -> tuple[list[LinePoint], bool, int]:
    """([lo, hi] holding an acceptable step, or [the accepted point]), accepted?, tries."""
    prev, new = wolfe.start, line(t)
    for tries in range(max_ls):
        rising = tries > 1 and new.loss >= prev.loss  # (torch looks from the third trial on)
        if wolfe.insufficient_decrease(new) or rising:
            return [prev, new], False, tries
        if wolfe.curvature_holds(new):
            return [new], True, tries
        if new.slope >= 0:  # past a minimum of φ
            return [prev, new], False, tries
        # φ still decreasing: extrapolate, at least 1% further and at most 10 times as far
        bounds = (new.t + 0.01 * (new.t - prev.t), new.t * 10)
        prev, new = new, line(cubic_minimizer(prev, new, bounds))
    return [wolfe.start, new], False, max_ls  # out of evaluations, nothing bracketed


def _zoom(
    line: Line,
    wolfe: Wolfe,
    bracket: list[LinePoint],
    tries: int,
    max_ls: int,
    too_narrow: Callable[[list[LinePoint]], bool],
) -> LinePoint:
    """Shrink the bracket around an acceptable step; the lowest point in it."""
    low, high = (0, 1) if bracket[0].loss <= bracket[-1].loss else (1, 0)
    was_near_end = False
    while tries < max_ls and not too_narrow(bracket):
        t = cubic_minimizer(bracket[0], bracket[1])
        t, was_near_end = _away_from_ends(t, bracket[0].t, bracket[1].t, was_near_end)
        new = line(t)
        tries += 1
        if wolfe.insufficient_decrease(new) or new.loss >= bracket[low].loss:
            bracket[high] = new  # no better than the low end: it closes the bracket in
            low, high = (0, 1) if bracket[0].loss <= bracket[1].loss else (1, 0)
            continue
        if wolfe.curvature_holds(new):
            return new
        if new.slope * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]  # the minimum lies on the other side of `new`
        bracket[low] = new
    return bracket[low]


@dataclass(frozen=True)
class _NarrowBracket:
    """Whether the bracket moves x by less than tolerance_change in every coordinate."""

    d_norm: Tensor  # 0-d: max|d|
    tolerance_change: float

    def __call__(self, bracket: list[LinePoint]) -> bool:
        return bool(abs(bracket[1].t - bracket[0].t) * self.d_norm < self.tolerance_change)


def _away_from_ends(t: Step, a: Step, b: Step, was_near_end: bool) -> tuple[Step, bool]:
    """Keep a trial step 10% of the bracket's width from its ends: interpolation that
    hugs an end shrinks the bracket too slowly. A first trial near (but inside) an end is
    allowed, a second one in a row, or one on or past an end, is moved."""
    lo, hi = min(a, b), max(a, b)
    margin = 0.1 * (hi - lo)
    if not min(hi - t, t - lo) < margin:
        return t, False
    if was_near_end or t >= hi or t <= lo:
        return (hi - margin if abs(t - hi) < abs(t - lo) else lo + margin), False
    return t, True
