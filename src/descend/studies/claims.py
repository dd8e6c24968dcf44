"""Claims a study can test: "row A ends nearer the optimum than row B", checked seed by
seed. A claim is stated as the source document made it; the runs decide. It is
*supported* when the 95 % interval of the paired difference lies on its side of 0,
*contradicted* when it lies on the other side, and *not shown* when it contains 0, and
each verdict comes with its numbers (and, when the two rows made different numbers of
updates, that fact: equal epochs are not equal updates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from descend import checks


@dataclass(frozen=True)
class Claim:
    text: str
    better: str  # a row of the study
    than: str  # another row
    metric: str = "distance"  # lower is better: distance, train_loss
    epoch: int | None = None  # after this many epochs (None: at the end)

    def __post_init__(self) -> None:
        checks.choice("metric", self.metric, ("distance", "train_loss"))
        if self.epoch is not None:
            checks.integer("epoch", self.epoch, low=0)


def checked_claims(study: Any) -> list[dict[str, Any]]:
    """Each claim with its verdict: supported, contradicted, or not shown."""
    rows = study.rows()
    out = []
    for claim in study.claims:
        result = study.paired(claim.better, claim.than, claim.metric, claim.epoch)
        verdict = {True: "supported", False: "contradicted", None: "not shown"}[result.a_better]
        updates = [_updates(rows[name][0].spec, claim.epoch) for name in (claim.better, claim.than)]
        note = ""
        if updates[0] != updates[1]:
            when = f"by epoch {claim.epoch}" if claim.epoch is not None else "in all"
            note = (
                f" {claim.better} made {updates[0]} updates {when}, {claim.than} {updates[1]}: "
                "equal epochs are not equal updates."
            )
        out.append(
            {
                "claim": claim.text,
                "verdict": verdict,
                "seeds": result.n,
                "mean difference": result.difference.mean,
                "ci low": result.difference.low,
                "ci high": result.difference.high,
                "p": result.p_value,
                "evidence": result.verdict() + note,
            }
        )
    return out


def _updates(spec: Any, epoch: int | None) -> int:
    return spec.steps if epoch is None else epoch * (spec.updates_per_epoch or 1)
