"""The tables of a compare study: per row (summary, final parameters), per claim, per run.

Raw numbers in separate columns (`summary.csv`: mean, sd and the 95 % interval each in
its own column); the terminal and Markdown show them combined, `mean ± sd [low, high]`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from descend import analysis
from descend.analysis.training import SETTLED_DEFINITION
from descend.studies import metrics
from descend.studies.base import Table, number


def tables(study: Any) -> list[Table]:
    out = [summary_table(study)]
    if study.results[0].trajectory is not None:
        out.append(parameter_table(study))
    if study.claims:
        out.append(claims_table(study))
    elif len(study.rows()) > 1:
        out.append(paired_table(study))
    if study.results[0].trajectory is None and len(study.rows()) == 2:
        out.append(layer_table(study))
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
                row[f"{metrics.METRICS[metric].csv}_{suffix}"] = s[key]
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
        compact = len(study.metrics()) > 3  # many columns: the sd stays in the CSV
        for metric in study.metrics():
            m = metrics.METRICS[metric].csv
            out[metrics.METRICS[metric].name] = _mean_sd_ci(
                row[f"{m}_mean"],
                None if compact else row[f"{m}_sd"],
                row[f"{m}_ci_low"],
                row[f"{m}_ci_high"],
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
    shown_as = (
        "mean [95 % t-interval]"
        if len(study.metrics()) > 3
        else "mean ± sd [95 % t-interval of the mean]"
    )
    lines.append(
        f"Values: {shown_as} over seeds, at the end of training (summary.csv has the sd too). "
        + METRIC_NOTES[study.metrics()[1] if len(study.metrics()) > 1 else "train_loss"]
        + " Runs with the same seed start from the same weights and, under the same regime, "
        "see the same batches. Diverged runs are left out of the statistics."
    )
    if "settled_at" in study.metrics():
        lines.append(SETTLED_DEFINITION[0].upper() + SETTLED_DEFINITION[1:] + ".")
    return Table("summary", "Per optimizer and regime", rows, " ".join(lines), shown=shown)


METRIC_NOTES = {
    "train_loss": "Loss on all training data.",
    "distance": "Loss on all training data; distance: Euclidean, from the final parameters "
    "to the optimum.",
    "test_loss": "Train loss on the task's evaluation subset; test loss: summed NLL over the "
    "test set / N (seed 002's); epoch time: median seconds per epoch, evaluation excluded, "
    "this run's share of its group; optimizer step: the rule's update, per step.",
}


def paired_table(study: Any) -> Table:
    """Every row against the first, seed by seed, on the study's main measures."""
    rows = list(study.rows())
    main = [m for m in ("test_accuracy", "test_loss", "distance") if m in study.metrics()]
    out = []
    for other in rows[1:]:
        for metric in main or ["train_loss"]:
            result = study.paired(other, rows[0], metric)
            out.append({
                "a": other, "b": rows[0], "metric": metric, "seeds": result.n,
                "mean difference": result.difference.mean, "ci low": result.difference.low,
                "ci high": result.difference.high, "p": result.p_value,
                "bootstrap low": result.bootstrap_low, "bootstrap high": result.bootstrap_high,
                "verdict": result.verdict(),
            })  # fmt: skip

    def shown(row: dict[str, Any]) -> dict[str, str]:
        return {"A − B": f"{row['a']} − {row['b']}", "metric": row["metric"],
                "verdict": row["verdict"]}  # fmt: skip

    note = (
        "Paired over seeds: per seed A − B (same initial weights, same batches), its mean "
        "with a 95 % t-interval and a bootstrap interval (10 000 resamples), the paired "
        "t-test's p. With fewer than 5 seeds a 'no clear difference' means too few to tell."
    )
    return Table("paired", "Paired differences", out, note, shown=shown)


def layer_table(study: Any) -> Table:
    """The two rows' final weights compared layer by layer (mean over seeds)."""
    a, b = list(study.rows())
    rows = study.layer_differences(a, b)

    def shown(row: dict[str, Any]) -> dict[str, str]:
        return {
            "layer": row["layer"], "numbers": str(row["numbers"]),
            "mean A − B": f"{row['mean_difference']:.3g}",
            "‖A − B‖": f"{row['l2_distance']:.3g}",
            "moved A": f"{row['relative_change_a']:.3g}",
            "moved B": f"{row['relative_change_b']:.3g}",
            "cosine": f"{row['cosine_similarity']:.4f}",
            "seed's normalised": f"{row['normalised_difference']:.3g}",
        }  # fmt: skip

    note = (
        f"A = {a}, B = {b}, each pair from the same initial weights W0, averaged over "
        "seeds. moved: ‖W − W0‖ / ‖W0‖; cosine: between A and B; seed's normalised: seed "
        "002's (max A − mean(A − B)) / (max A − min A), which is about max A / (max A − "
        "min A) whenever mean(A − B) is small (≈ 0.5 for weights spread evenly around 0), "
        "whatever B is: read ‖A − B‖ and moved to see where the rules differ."
    )
    return Table("layers", "Final weights, layer by layer", rows, note, shown=shown)


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
            "final_loss": metrics.value(r, "train_loss"),
            "distance_to_optimum": (
                metrics.value(r, "distance") if "distance" in r.evaluations else None
            ),
        }
        for metric in study.metrics():
            if metric not in ("train_loss", "distance"):
                row[metrics.METRICS[metric].csv] = metrics.value(r, metric)
        row.update({"diverged_at": r.diverged_at, "seconds": r.wall_time})
        if r.trajectory is not None:
            point = r.final_point.tolist()
            row.update({f"param.{p}": x for p, x in zip(r.param_names, point, strict=True)})
        rows.append(row)
    return Table("runs", "Every run", rows, printed=False)


def _mean_sd_ci(mean: float, sd: float | None, low: float, high: float) -> str:
    if math.isnan(mean):
        return "—"
    text = f"{mean:.4g}"
    if sd is not None and not math.isnan(sd):
        text += f" ± {sd:.2g}"
    if not math.isnan(low):
        text += f" [{low:.4g}, {high:.4g}]"
    return text
