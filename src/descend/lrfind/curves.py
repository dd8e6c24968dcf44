"""The sweep, the smoothing and the three suggestion rules: plain functions on arrays.

Every rule reads the smoothed curve inside one window: the first `SKIP_START` and the
last `SKIP_END` recorded points are left out (torch-lr-finder's plot defaults, and
fastai's `num_it // 10` and `-5` for its default 100 updates). The first points are
noise around the starting loss; the last ones are the blow-up that ended the sweep.
"""

from __future__ import annotations

import numpy as np

MODES = ("exp", "linear")
SKIP_START, SKIP_END = 10, 5
RULES = {  # what each rule does, in a line (exactly: the functions below)
    "steepest": "where the smoothed loss falls fastest per unit of log lr, before its lowest "
    "point (torch-lr-finder's rule)",
    "minimum/10": "the lr of the lowest smoothed loss, divided by 10 (fastai's 'minimum')",
    "valley": "half way down the longest decreasing stretch of the smoothed loss (fastai's)",
}
VALLEY_EXACTLY = (
    "valley, exactly: lds[i] = length of the longest strictly decreasing subsequence ending "
    "at point i; e = the first i with the largest lds; s = e − lds[e]; the point "
    "s + ⌊(e − s)/3⌋ + ⌊(e − s)/6⌋ (fastai.callback.schedule.valley)."
)


def sweep(start: float, end: float, steps: int, mode: str) -> np.ndarray:
    """(steps,) the lr of each update, start and end included (torch-lr-finder's
    schedules): exp: start·(end/start)^(i/(steps−1)); linear: start + (end−start)·i/(steps−1)."""
    t = np.arange(steps, dtype=np.float64) / (steps - 1)
    if mode == "exp":
        return start * (end / start) ** t
    return start + (end - start) * t


def smooth_next(previous: float | None, loss: float, factor: float) -> float:
    """One step of exponential smoothing, s_i = f·loss_i + (1 − f)·s_(i−1), s_0 = loss_0,
    without bias correction (torch-lr-finder's); f = 0 leaves the loss as it is."""
    if previous is None or factor == 0:
        return loss
    return factor * loss + (1 - factor) * previous


def smoothed(raw: np.ndarray, factor: float) -> np.ndarray:
    """The whole curve smoothed as `smooth_next` does it point by point."""
    out = np.empty(len(raw), dtype=np.float64)
    previous = None
    for i, loss in enumerate(raw):
        out[i] = previous = smooth_next(previous, float(loss), factor)
    return out


def window(losses: np.ndarray) -> slice:
    """The points the rules read: the finite prefix, less SKIP_START and SKIP_END."""
    finite = np.isfinite(losses)
    n = len(losses) if finite.all() else int(np.argmin(finite))
    return slice(SKIP_START, max(SKIP_START, n - SKIP_END))


def steepest(lrs: np.ndarray, losses: np.ndarray, mode: str) -> float | None:
    """The lr where the smoothed loss falls fastest per unit of log lr, up to the curve's
    lowest point; None when that holds fewer than 2 points or the loss never falls in it.

    Only the part before the minimum is read (torch-lr-finder reads the whole window):
    a network's cross-entropy rarely reaches 5× its best, so a sweep runs on past the
    blow-up, and the loss falling back from its peak there (weights wrecked, the loss
    settling near log 10) was the steepest fall on digits-convnet with Adam (lr 1.3).

    An exponential sweep spaces its points evenly in log lr, so the gradient is taken
    over their indices, exactly as torch-lr-finder's `np.gradient(losses)`; a linear
    sweep's points are not, so its gradient is taken against log lr itself."""
    window_ = window(losses)
    lowest = window_.start + int(np.argmin(losses[window_])) if window_.stop > window_.start else 0
    part = slice(window_.start, lowest + 1)
    y = losses[part]
    if len(y) < 2:
        return None
    grad = np.gradient(y) if mode == "exp" else np.gradient(y, np.log(lrs[part]))
    best = int(np.argmin(grad))
    return float(lrs[part][best]) if grad[best] < 0 else None


def minimum_tenth(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """A tenth of the lr of the lowest smoothed loss in the window (fastai's 'minimum')."""
    part = window(losses)
    y = losses[part]
    return float(lrs[part][int(np.argmin(y))]) / 10 if len(y) else None


def valley(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """fastai's 'valley' (fastai.callback.schedule.valley), on the window.

    lds[i] is the length of the longest strictly decreasing subsequence ending at point
    i; e is the first point where lds is largest, L = lds[e], s = e − L (one before the
    subsequence's earliest possible start: fastai's arithmetic, kept). The suggestion is
    the point s + ⌊(e − s)/3⌋ + ⌊(e − s)/6⌋, about half way down the valley; it is clamped
    at the window's first point (for 2 falling points fastai's index would be −1)."""
    part = window(losses)
    y = losses[part]
    if not len(y):
        return None
    lds = np.ones(len(y), dtype=np.int64)
    for i in range(1, len(y)):
        higher = y[:i] > y[i]  # earlier points a decreasing subsequence can come from
        if higher.any():
            lds[i] = lds[:i][higher].max() + 1
    end = int(np.argmax(lds))  # fastai moves its end only on a strictly longer valley
    begin = end - int(lds[end])
    sections = (end - begin) / 3
    index = max(0, begin + int(sections) + int(sections / 2))
    return float(lrs[part][index])


def suggest(lrs: np.ndarray, losses: np.ndarray, mode: str) -> dict[str, float | None]:
    """Every rule's lr on one smoothed curve (lrs[: len(losses)] are its lrs)."""
    lrs = lrs[: len(losses)]
    return {
        "steepest": steepest(lrs, losses, mode),
        "minimum/10": minimum_tenth(lrs, losses),
        "valley": valley(lrs, losses),
    }
