"""The surface lab: optimizers on a 2-D landscape, from one start or thousands.

    study = descend.surface("anisotropic", ["sgd", "sgd:momentum=0.9", "rmsprop:alpha=0.9"],
                            lr=0.1, steps=50, start=(1, 1))
    study.summaries()          # one line per optimizer
    study.contour()            # figures: contour, surface_3d, loss, animation, basins, ...
    study.save("out/aniso")    # every figure and the table, to files

In Jupyter the study shows itself: its table and main figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from descend import analysis, optim, schedules, theory
from descend.engine import OptimizerSpec, Results, RunSpec, run
from descend.engine.lockstep import Progress
from descend.errors import DescendError
from descend.experiments.calls import parse_call
from descend.tasks.formula import surface_from
from descend.tasks.surfaces import Surface, Window


def surface(
    surface: str | Surface,
    optimizers: Sequence[str | OptimizerSpec] = ("sgd",),
    *,
    lr: float | Sequence[float] | None = None,
    steps: int = 100,
    start: Sequence[float] | None = None,
    starts: int | None = None,
    seed: int | Sequence[int] = 0,
    noise: float = 0.0,
    schedule: str | schedules.Schedule | None = None,
    tolerance: float = 1e-6,
    window: Window | None = None,
    progress: Progress | None = None,
) -> SurfaceStudy:
    """Run each optimizer on the surface and return the study.

    lr: one learning rate for every optimizer that does not set its own, or a list of
    them (a sweep: every optimizer at every lr). schedule: a schedule, or a spec such as
    "cosine:T_max=50" whose lr defaults to the run's lr. start: one starting point;
    starts: a number of starting points on a regular grid over the window (for basin
    maps); neither: the surface's usual start. noise: σ of Gaussian gradient noise;
    seed: its seed, or a list of seeds (every start is run once per seed, and the table
    gives medians over them).
    """
    task = surface if isinstance(surface, Surface) else surface_from(surface)
    window = window or task.window
    sweep = _as_sweep(lr)
    seeds = [seed] if isinstance(seed, int) else list(seed)
    points = _starts(task, window, start, starts)
    specs = []
    for entry in _labelled(optimizers, omit={"lr"} if len(sweep) > 1 else set()):
        for rate in sweep:
            hyper = _with_lr(entry.hyperparams, entry.rule, rate, schedule, sweeping=len(sweep) > 1)
            opt_spec = OptimizerSpec(entry.rule, hyper, entry.name)
            tags = {"lr": rate} if len(sweep) > 1 else {}
            specs += [
                RunSpec(task, opt_spec, steps, p, s, noise, tags) for s in seeds for p in points
            ]
    results = run(specs, progress=progress)
    return SurfaceStudy(task, results, tolerance, window, sweep if len(sweep) > 1 else None)


def parse_optimizer(text: str) -> OptimizerSpec:
    """'sgd:momentum=0.9,label=heavy ball' -> OptimizerSpec (validated)."""
    rule, values = parse_call(text)
    label = values.pop("label", None)
    spec = OptimizerSpec(rule, values, None if label is None else str(label))
    spec.optimizer  # noqa: B018  (build now: a bad rule or hyper-parameter fails here)
    return spec


def _as_sweep(lr: float | Sequence[float] | None) -> list[float | None]:
    if lr is None or isinstance(lr, int | float):
        return [lr]
    values = [float(v) for v in lr]
    if not values:
        raise DescendError("Invalid lr: an empty list (allowed: a number or a list of numbers).")
    return values


def _with_lr(
    hyper: dict[str, Any], rule: str, lr: float | None, schedule: Any, *, sweeping: bool
) -> dict[str, Any]:
    """The hyper-parameters of one run: the study's lr (a spec's own lr wins, unless the
    study sweeps lr), then the schedule built around it."""
    hyper = dict(hyper)
    if lr is not None and ("lr" not in hyper or sweeping):
        hyper["lr"] = lr
    if schedule is not None:
        if isinstance(schedule, str):
            name, params = parse_call(schedule)
            base = hyper.get("lr", optim.hyperparameter_defaults(rule)["lr"])
            schedule = schedules.get(name, **{"lr": base, **params})
        hyper["lr"] = schedule
    return hyper


def _labelled(optimizers: Sequence[str | OptimizerSpec], omit: set[str]) -> list[OptimizerSpec]:
    """Each optimizer with a label: the user's, or the rule and the hyper-parameters the
    user gave it (the study's own lr is not among them; a swept lr is left out); unique."""
    entries = [parse_optimizer(o) if isinstance(o, str) else o for o in optimizers]
    if not entries:
        raise DescendError(
            "No optimizer given (allowed: one or more of " + ", ".join(optim.names()) + ")."
        )
    labels: list[str] = []
    for entry in entries:
        label = entry.name or _derived_label(entry, omit)
        n = sum(existing == label or existing.startswith(label + " #") for existing in labels)
        labels.append(label if n == 0 else f"{label} #{n + 1}")
    return [replace(e, name=label) for e, label in zip(entries, labels, strict=True)]


def _derived_label(entry: OptimizerSpec, omit: set[str]) -> str:
    kept = {k: v for k, v in entry.hyperparams.items() if k not in omit}
    return optim.get(entry.rule, **kept).label if kept else entry.rule


def _starts(
    task: Surface, window: Window, start: Sequence[float] | None, starts: int | None
) -> list[tuple[float, ...]]:
    if start is not None and starts is not None:
        raise DescendError(
            "Give either start (one point) or starts (a number of points), not both."
        )
    if starts is None:
        return [tuple(float(x) for x in (start if start is not None else task.default_start))]
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 1:
        raise DescendError(f"Invalid starts: {starts!r} (allowed: an integer >= 1).")
    side = max(1, round(math.sqrt(starts)))
    (x0, x1), (y0, y1) = window
    xs, ys = (
        torch.linspace(x0, x1, side + 2)[1:-1],
        torch.linspace(y0, y1, side + 2)[1:-1],
    )  # inside
    grid = torch.cartesian_prod(ys, xs)  # row by row: (w2, w1)
    return [(float(w1), float(w2)) for w2, w1 in grid]


@dataclass
class SurfaceStudy:
    """The runs of a surface study, with their table and figures."""

    surface: Surface
    results: Results
    tolerance: float
    window: Window
    lr_sweep: list[float | None] | None = None

    def groups(self) -> dict[str, list]:
        """Runs by label (and by lr, in a sweep: 'adam @ lr=0.01')."""
        if self.lr_sweep is None:
            return self.results.by_label()
        groups: dict[str, list] = {}
        for r in self.results:
            groups.setdefault(f"{r.label} @ lr={r.spec.tags['lr']:g}", []).append(r)
        return groups

    def summaries(self) -> list[analysis.Summary]:
        return [
            replace(analysis.summarize(runs, self.surface, self.tolerance), label=label)
            for label, runs in self.groups().items()
        ]

    @property
    def many_starts(self) -> bool:
        return len({r.spec.start for r in self.results}) > 1

    def stability_limits(self) -> list[tuple[str, float]]:
        """For SGD on a quadratic: the largest stable lr per label, with the rule it comes
        from (theory.py): η·λ_max < 2 for GD, < 2 + 2β with momentum β."""
        if self.surface.hessian is None:
            return []
        eig = theory.eigenvalues(self.surface.hessian)
        limits = {}
        for r in self.results:
            h = r.spec.optimizer.optimizer.hyperparams
            if r.spec.optimizer.rule != "sgd" or h["nesterov"] or h["dampening"] != 0:
                continue
            beta = float(h["momentum"])
            if beta == 0:
                limit, rule = theory.gd_stability_limit(eig), "ηλmax < 2"
            else:
                limit, rule = theory.momentum_stability_limit(beta, eig), "ηλmax < 2 + 2β"
            limits[f"{r.label}: {rule}"] = limit
        return list(limits.items())

    def rates(self) -> list[tuple[str, float, float, float]]:
        """(label, lr, measured, predicted) contraction per step, for SGD on a quadratic."""
        rows = []
        eig = theory.eigenvalues(self.surface.hessian) if self.surface.hessian is not None else None
        for r in self.results:
            h = r.spec.optimizer.optimizer.hyperparams
            unsuitable = not self.surface.minima or r.spec.optimizer.rule != "sgd"
            if eig is None or unsuitable or h["nesterov"] or callable(h["lr"]):
                continue
            lr, beta = float(h["lr"]), float(h["momentum"])
            predicted = (
                theory.gd_rate(lr, eig) if beta == 0 else theory.momentum_rate(lr, beta, eig)
            )
            try:
                measured = theory.measured_rate(r.trajectory, self.surface.minima[0].point)
            except ValueError:
                continue  # too few steps, or diverged
            rows.append((r.label, lr, measured, predicted))
        return rows

    # --- figures (built on demand) ---------------------------------------------------

    def contour(self, overlay: bool | None = None):
        from descend.plots import contour_paths

        if overlay is None:  # one picture for a few paths, a panel each beyond that
            overlay = len(self.results.labels()) <= 4 and not self.many_starts
        sweep = "lr" if self.lr_sweep is not None else None  # panels per lr
        return contour_paths(
            self.surface, list(self.results), overlay=overlay, window=self.window, sweep=sweep
        )

    def surface_3d(self):
        from descend.plots import surface_3d

        return surface_3d(self.surface, list(self.results), window=self.window)

    def loss(self):
        from descend.plots import loss_curves

        sweep = "lr" if self.lr_sweep is not None else None  # a curve per lr
        return loss_curves(list(self.results), self.surface, sweep=sweep)

    def animation(self, fps: int = 10):
        from descend.plots import descent_animation

        return descent_animation(self.surface, list(self.results), fps=fps, window=self.window)

    def basins(self):
        from descend.plots import basin_map

        return basin_map(self.surface, list(self.results), tolerance=max(self.tolerance, 1e-2))

    def sensitivity(self):
        from descend.plots import lr_sensitivity

        points = [(r.label, float(r.spec.tags["lr"]), r.final_loss) for r in self.results]
        return lr_sensitivity(points, limits=self.stability_limits(), rates=self.rates() or None)

    def lr_schedule(self):
        from descend.plots import schedule_curves

        steps = self.results[0].spec.steps
        curves = {
            label: runs[0].spec.optimizer.optimizer.hyperparams["lr"]
            for label, runs in self.results.by_label().items()
        }
        return schedule_curves({k: v for k, v in curves.items() if callable(v)}, steps)

    @property
    def has_schedule(self) -> bool:
        return any(callable(r.spec.optimizer.optimizer.hyperparams["lr"]) for r in self.results)

    def save(self, out: str, *, gif: bool = True) -> dict:
        """Every figure and the table, as files in `out` (see descend.report.save_study)."""
        from descend.report import save_study

        return save_study(self, out, gif=gif)

    def _repr_html_(self) -> str:
        from descend.report import study_html

        return study_html(self)
