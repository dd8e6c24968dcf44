"""The figures of a compare study, by file name, each built when called.

paths        each row's paths over the loss on a 2-D slice, a marker at the checkpoint
landscape    the slice as a 3-D surface (plotly), a path per row with true losses
contour      the slice as a filled contour
minibatches  each minibatch's own landscape (when a study has minibatches)
fits         what the fitted models say about the data
curves       loss and distance to the optimum against epochs (median, 10–90 % band)
curves_updates   the same against updates (when rows make different numbers of them)
"""

from __future__ import annotations

from typing import Any

import torch

from descend.plots.bands import progress_curves
from descend.plots.fits import fitted_models
from descend.plots.slices import Slice, minibatch_landscapes, regime_paths, slice_3d, slice_contour
from descend.plots.training import (
    batch_losses,
    evaluation_curves,
    layer_bars,
    lr_curves,
    time_bars,
)
from descend.studies.base import Figures


def figures(study: Any) -> Figures:
    rows = study.rows()
    task = study.task
    out: Figures = {}
    view = _slice(study)
    if view is not None:
        names = " and ".join(view.names)
        held = ", ".join(n for n in view.flat_names if n not in view.names)
        what = f"loss over {names}" + (f", {held} held at the optimum" if held else "")
        out["paths"] = lambda: regime_paths(view, rows, study.checkpoint, f"Paths on the {what}")
        out["landscape"] = lambda: slice_3d(view, rows, f"The {what}, and one path per row")
        out["contour"] = lambda: slice_contour(view, rows, f"The {what}")
        sizes = sorted({r.spec.regime.size(task.examples) for r in study.results})
        batch = next((b for b in sizes if 1 < b < task.examples), None)
        if batch is not None:
            out["minibatches"] = lambda: minibatch_landscapes(view, batch, rows)
    if getattr(task, "predict", None) is not None:
        out["fits"] = lambda: fitted_models(task, rows)
    if "test_loss" in study.metrics():  # a network: what it learned, and what it cost
        return {**out, **_network_figures(study, rows)}
    best = _best_loss(task)
    out["curves"] = lambda: progress_curves(rows, unit="epochs", best_loss=best)
    if len({r.spec.steps for r in study.results}) > 1:
        out["curves_updates"] = lambda: progress_curves(rows, unit="updates", best_loss=best)
    return out


def _network_figures(study: Any, rows: dict) -> Figures:
    out: Figures = {}
    scheduled = any(bool((r.lr != r.lr[0]).any()) for r in study.results)
    if scheduled:
        out["lr"] = lambda: lr_curves(rows)
    out |= {
        "training": lambda: batch_losses(rows, xscale="linear" if scheduled else "log"),
        "evaluations": lambda: evaluation_curves(rows, study.metrics()),
        "time": lambda: time_bars(study.summaries()),
    }
    if len(rows) == 2:
        a, b = list(rows)
        out["layers"] = lambda: layer_bars(study.layer_differences(a, b), a, b)
    return out


def _slice(study: Any) -> Slice | None:
    if study.slice_names is None:
        return None
    run = study.results[0]
    optimum = getattr(study.task, "optimum", None)
    if optimum is not None:
        values = torch.cat([v.reshape(-1) for v in optimum.values()]).tolist()
    else:
        values = run.final_point.tolist()
    return Slice(
        study.task, run, study.slice_names, dict(zip(run.param_names, values, strict=True))
    )


def _best_loss(task: Any) -> float | None:
    optimum = getattr(task, "optimum", None)
    if optimum is None:
        return None
    cpu = task.on(torch.device("cpu"), torch.float64)
    params = {k: v.to(torch.float64)[None] for k, v in optimum.items()}
    with torch.no_grad():
        return float(cpu.losses(params, None, None)[0])
