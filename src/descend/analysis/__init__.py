"""Analysis of results: where surface runs ended (`surfaces`), statistics over seeds and
paired comparisons (`summary`). No plotting, no I/O."""

from descend.analysis.summary import Estimate, Paired, estimate, paired
from descend.analysis.surfaces import (
    DIVERGED,
    NOT_CONVERGED,
    Summary,
    basin,
    loss_gap,
    nearest_minimum,
    sign_flips,
    steps_to_tolerance,
    summarize,
)

__all__ = [
    "DIVERGED",
    "NOT_CONVERGED",
    "Estimate",
    "Paired",
    "Summary",
    "basin",
    "estimate",
    "loss_gap",
    "nearest_minimum",
    "paired",
    "sign_flips",
    "steps_to_tolerance",
    "summarize",
]
