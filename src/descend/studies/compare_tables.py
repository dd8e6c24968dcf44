"""The tables of a compare study: per row (summary, final parameters), per claim, per run.

Raw numbers in separate columns (`summary.csv`: mean, sd and the 95 % interval each in
its own column); the terminal and Markdown show them combined, `mean ± sd [low, high]`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from descend import analysis
from descend.studies.base import Table, number
from descend.studies.compare import final

METRIC_NAMES = {"train_loss": "final loss", "distance": "distance to optimum"}


def tables(study: Any) -> list[Table]:
    out = [summary_table(study)]
    if study.results[0].trajectory is not None:
        out.append(parameter_table(study))
    if study.claims:
        out.append(claims_table(study))
    out.append(runs_table(study))
    return out


def summary_table(study: Any) -> Table:
    rows = []
    for s in study.summaries():
        row = {
            "row": s["row"],
            "optimizer": s["optimizer"],
            "regime": s["regime"],
            "runs": s["runs"],
            "updates": s["updates"],
            "diverged": s["diverged"],
        }
        for metric in study.metrics():
            for suffix, key in (
                ("mean", metric),
                ("sd", f"{metric} sd"),
                ("ci_low", f"{metric} ci low"),
                ("ci_high", f"{metric} ci high"),
            ):
                row[f"{_csv(metric)}_{suffix}"] = s[key]
        checkpoint = f"distance at epoch {study.checkpoint}"
        if checkpoint in s:
            row[f"distance_epoch_{study.checkpoint}_mean"] = s[checkpoint]
        rows.append(row)

    def shown(row: dict[str, Any]) -> dict[str, str]:
        out = {
            "row": row["row"],
            "runs": str(row["runs"]),
            "updates": str(row["updates"]),
        }
        for metric in study.metrics():
            m = _csv(metric)
            out[METRIC_NAMES[metric]] = _mean_sd_ci(
                row[f"{m}_mean"], row[f"{m}_sd"], row[f"{m}_ci_low"], row[f"{m}_ci_high"]
            )
        if study.checkpoint is not None:
            key = f"distance_epoch_{study.checkpoint}_mean"
            out[f"distance at epoch {study.checkpoint}"] = number(row.get(key))
        out["diverged"] = f"{row['diverged']}/{row['runs']}"
        return out

    task = study.task
    regimes = {str(r.spec.regime): r.spec.regime for r in study.results}
    lines = [f"Task: {task.description}."] if getattr(task, "description", "") else []
    lines += [f"Regime {r.describe(task.examples)}." for r in regimes.values()]
    lines.append(
        "Values: mean ± sd over seeds [95 % t-interval of the mean], at the end of training; "
        "loss on all training data; distance: Euclidean, from the final parameters to the "
        "optimum. Runs with the same seed start from the same weights and, under the same "
        "regime, see the same batches. Diverged runs are left out of the statistics."
    )
    return Table("summary", "Per optimizer and regime", rows, " ".join(lines), shown=shown)


def parameter_table(study: Any) -> Table:
    """Final parameters by name, mean ± sd over seeds, and the optimum where known."""
    names = study.results[0].param_names
    rows = []
    for name, runs in study.rows().items():
        finals = torch.stack(
            [r.final_point for r in runs if not r.diverged] or [torch.full((len(names),), math.nan)]
        )
        row: dict[str, Any] = {"row": name}
        for i, p in enumerate(names):
            e = analysis.estimate(finals[:, i].tolist())
            row[f"{p}_mean"], row[f"{p}_sd"] = e.mean, e.sd
        rows.append(row)
    optimum = getattr(study.task, "optimum", None)
    if optimum is not None:
        flat = torch.cat([v.reshape(-1) for v in optimum.values()]).tolist()
        row = {"row": "optimum"}
        for p, x in zip(names, flat, strict=True):
            row[f"{p}_mean"], row[f"{p}_sd"] = x, 0.0
        rows.append(row)

    def shown(row: dict[str, Any]) -> dict[str, str]:
        out = {"": row["row"]}
        for p in names:
            sd = row[f"{p}_sd"]
            out[p] = number(row[f"{p}_mean"]) + ("" if not sd or math.isnan(sd) else f" ± {sd:.2g}")
        return out

    meanings = getattr(study.task, "meanings", {})
    note = "; ".join(f"{k}: {v}" for k, v in meanings.items())
    return Table(
        "parameters",
        "Final parameters (mean ± sd over seeds)",
        rows,
        note + ("." if note else ""),
        shown=shown,
    )


def claims_table(study: Any) -> Table:
    rows = study.checked_claims()

    def shown(row: dict[str, Any]) -> dict[str, str]:
        return {"claim": row["claim"], "verdict": row["verdict"], "evidence": row["evidence"]}

    note = (
        "Paired over seeds (A − B per seed): supported when the 95 % interval of the mean "
        "difference lies below 0, contradicted when above, not shown when it contains 0."
    )
    return Table("claims", "The source's claims, tested", rows, note, shown=shown)


def runs_table(study: Any) -> Table:
    rows = []
    for r in study.results:
        row: dict[str, Any] = {
            "label": r.label,
            "regime": str(r.spec.regime),
            "seed": r.spec.seed,
            "epochs": r.spec.epochs,
            "updates": r.updates,
            "final_loss": final(r, "train_loss"),
            "distance_to_optimum": final(r, "distance") if "distance" in r.evaluations else None,
            "diverged_at": r.diverged_at,
            "seconds": r.wall_time,
        }
        if r.trajectory is not None:
            point = r.final_point.tolist()
            row.update({f"param.{p}": x for p, x in zip(r.param_names, point, strict=True)})
        rows.append(row)
    return Table("runs", "Every run", rows, printed=False)


def _csv(metric: str) -> str:
    return {"train_loss": "final_loss", "distance": "distance"}[metric]


def _mean_sd_ci(mean: float, sd: float, low: float, high: float) -> str:
    if math.isnan(mean):
        return "—"
    text = f"{mean:.4g}"
    if not math.isnan(sd):
        text += f" ± {sd:.2g} [{low:.4g}, {high:.4g}]"
    return text
