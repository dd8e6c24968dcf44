"""The surface lab: optimizers on a 2-D landscape, from one start or thousands.

    study = descend.surface("anisotropic", ["sgd", "sgd:momentum=0.9", "rmsprop:alpha=0.9"],
                            lr=0.1, steps=50, start=(1, 1))
    study.summaries()          # one line per optimizer
    study.contour()            # figures: contour, surface_3d, loss, animation, basins, ...
    study.save("out/aniso")    # every figure and the table, to files

In Jupyter the study shows itself: its table and main figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from descend import analysis, checks, schedules, theory
from descend.engine import OptimizerSpec, Progress, Results
from descend.experiments import vocabulary
from descend.experiments.plans import Window, surface_plan
from descend.store import Store
from descend.studies import stored
from descend.studies.base import Figures, Table, number
from descend.tasks.surfaces import Surface


def surface(
    surface: str,
    optimizers: Sequence[str | OptimizerSpec] = ("sgd",),
    *,
    lr: float | Sequence[float] | str | None = None,
    steps: int = 100,
    start: Sequence[float] | None = None,
    starts: int | None = None,
    seed: int | Sequence[int] = 0,
    noise: float = 0.0,
    schedule: str | schedules.Schedule | None = None,
    tolerance: float = 1e-6,
    window: Window | None = None,
    progress: Progress | None = None,
    store: Store | None = None,
) -> SurfaceStudy:
    """Run each optimizer on the surface and return the study.

    surface: a name ("anisotropic", "anisotropic:kappa=100") or a formula in w1, w2.
    lr: one learning rate for every optimizer that does not set its own, or a list of
    them (a sweep: every optimizer at every lr). schedule: a schedule, or a spec such as
    "cosine:T_max=50" whose lr defaults to the run's lr. start: one starting point;
    starts: a number of starting points on a regular grid over the window (for basin
    maps); neither: the surface's usual start. noise: σ of Gaussian gradient noise;
    seed: its seed, or a list of seeds (every start is run once per seed, and the table
    gives medians over them). store: a `descend.open_store()`: runs it holds are read,
    not run again, and the others are kept in it.
    """
    seeds = [seed] if isinstance(seed, int) else list(seed)
    checks.number("tolerance", tolerance, low=0.0, low_open=True)
    task, specs = surface_plan(
        surface,
        optimizers,
        lr=lr,
        steps=steps,
        start=start,
        starts=starts,
        seeds=seeds,
        noise=noise,
        schedule=schedule,
        window=window,
    )
    sweep = vocabulary.lrs(lr)
    return run_surface(
        (task, specs),
        tolerance=tolerance,
        window=window,
        lr_sweep=sweep if len(sweep) > 1 else None,
        progress=progress,
        store=store,
    )


def run_surface(
    plan: tuple[Any, list],
    *,
    tolerance: float = 1e-6,
    window: Window | None = None,
    lr_sweep: list[float | None] | None = None,
    progress: Progress | None = None,
    store: Store | None = None,
    name: str | None = None,
) -> SurfaceStudy:
    """Run a surface study's specs (from `experiments.plans.surface_plan`); with a
    store, only those it does not hold, under the study name `name` (the surface's)."""
    task, specs = plan
    built = task.build()
    record = stored.surface_record(
        task, name or built.name, tolerance=tolerance, window=window, lr_sweep=lr_sweep
    )
    results = stored.results(specs, store, record, progress=progress)
    return SurfaceStudy(built, results, tolerance, window or built.window, lr_sweep)


@dataclass
class SurfaceStudy:
    """The runs of a surface study, with their table and figures."""

    surface: Surface
    results: Results
    tolerance: float
    window: Window
    lr_sweep: list[float | None] | None = None
    _summaries: list[analysis.Summary] | None = field(default=None, init=False, repr=False)

    def groups(self) -> dict[str, list]:
        """Runs by label (and by lr, in a sweep: 'adam @ lr=0.01')."""
        if self.lr_sweep is None:
            return self.results.by_label()
        groups: dict[str, list] = {}
        for r in self.results:
            groups.setdefault(f"{r.label} @ lr={r.spec.tags['lr']:g}", []).append(r)
        return groups

    def summaries(self) -> list[analysis.Summary]:
        """One summary per label (per lr in a sweep), computed once (seconds at 100 000
        runs: the table, the notebook and the report all ask)."""
        if self._summaries is None:
            self._summaries = [
                replace(analysis.summarize(runs, self.surface, self.tolerance), label=label)
                for label, runs in self.groups().items()
            ]
        return self._summaries

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
            h = r.spec.optimizer.build().hyperparams
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
            h = r.spec.optimizer.build().hyperparams
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

    def surface_panels_3d(self):
        """Seed 004's static figure: one 3-D panel per optimizer, the path fading light to
        dark, the final point red."""
        from descend.plots import surface_panels_3d

        return surface_panels_3d(self.surface, list(self.results), window=self.window)

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
            label: runs[0].spec.optimizer.build().hyperparams["lr"]
            for label, runs in self.results.by_label().items()
        }
        return schedule_curves({k: v for k, v in curves.items() if callable(v)}, steps)

    @property
    def has_schedule(self) -> bool:
        return any(callable(r.spec.optimizer.build().hyperparams["lr"]) for r in self.results)

    # --- what the report and the CLI take (descend.studies.base) ---------------------

    @property
    def name(self) -> str:
        return self.surface.name

    @property
    def title(self) -> str:
        return f"{self.surface.label}: {self.surface.formula}"

    @property
    def description(self) -> str:
        return ""

    def tables(self) -> list[Table]:
        """One row per optimizer (per lr in a sweep): medians over its runs."""
        summaries = self.summaries()
        many = any(s.runs > 1 for s in summaries)
        minimum = self.surface.minimum_value
        gap = "final f − f*" if minimum is not None else "final f"
        rows = []
        for s in summaries:
            row: dict[str, Any] = {"optimizer": s.label}
            if many:
                row["runs"] = s.runs
            row[gap] = s.final_loss - (minimum or 0.0)
            row["distance to min"] = s.distance
            row[f"steps to {self.tolerance:g}"] = s.steps_to_tolerance
            if many:
                row["reached"] = s.reached
            row["diverged"] = s.diverged if many else bool(s.diverged)
            for name, flips in zip(("w1", "w2"), s.sign_flips or (None, None), strict=True):
                whole = flips is not None and float(flips).is_integer()
                row[f"sign flips {name}"] = int(flips) if whole else flips
            rows.append(row)
        formats = {f"steps to {self.tolerance:g}": _steps}
        return [Table("summary", "Per optimizer", rows, TABLE_NOTE, formats)]

    def figures(self) -> Figures:
        """Every figure this study calls for, by file name (built when called)."""
        figures: Figures = {"contour": self.contour, "loss": self.loss}
        if self.many_starts:
            figures["basins"] = self.basins
        if self.lr_sweep is not None:
            figures["sensitivity"] = self.sensitivity
        if self.has_schedule:
            figures["lr"] = self.lr_schedule
        figures["surface"] = self.surface_3d
        figures["surface3d"] = self.surface_panels_3d
        figures["descent"] = self.animation
        return figures

    def save(self, out: str, *, gif: bool = True) -> dict:
        """Every figure and the table, as files in `out` (see descend.report.save)."""
        from descend.report import save

        return save(self, out, skip=() if gif else ("descent",))

    def report(self, path: str, *, format: str = "html") -> Any:
        """One self-contained page (or Markdown + PNGs) of the study: descend.report_page."""
        from descend import report_page

        return report_page.write_study(self, path, self.results, format=format)

    def _repr_html_(self) -> str:
        from descend.report import notebook_html

        return notebook_html(self, ["contour", "loss", "basins"])


FIGURES = ("contour", "loss", "basins", "sensitivity", "lr", "surface", "surface3d", "descent")

TABLE_NOTE = (
    "Medians over the runs of each row where there are several (diverged runs left out). "
    "steps to tol: the first step with f − f* <= tol; distance to min: from the final "
    "point to the nearest known minimum; sign flips: how often each coordinate changed "
    "sign (a zig-zag across a valley flips the steep one at every step)."
)


def _steps(value: Any) -> str:
    return "never" if value is None else number(value)
