"""The `descend` command: parse, call the library, print. Nothing here that Python lacks."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import descend
from descend import demo as demo_module
from descend.errors import DescendError

app = typer.Typer(
    help="descend: a laboratory for gradient-based optimizers on PyTorch.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
DEFAULT_OUT = Path("descend-out")
DEFAULT_SCHEDULE_PNG = Path("lr.png")


def friendly_errors(command: Callable) -> Callable:
    """Bad input ends with its message (exit status 2), not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DescendError as problem:
            console.print(f"[bold red]Error:[/] {problem}", highlight=False, markup=True)
            raise typer.Exit(2) from None

    return wrapper


def _show_version(value: bool) -> None:
    if value:
        console.print(f"descend {descend.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """descend: run, compare, measure and see gradient-based optimizers."""


@app.command()
@friendly_errors
def demo(
    lr: Annotated[
        float | None,
        typer.Option(help="One learning rate for every rule (default: each rule's own)."),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Where the momentum-vs-rmsprop study writes its figures.")
    ] = DEFAULT_OUT,
) -> None:
    """Every optimizer on the anisotropic bowl, then seed 004's momentum-vs-rmsprop study."""
    checkpoints = (50, 500)
    table = Table(
        title="Every optimizer on f(w) = w1² + 8·w2² from (1, 1); the minimum is 0 at (0, 0)"
    )
    for column in ["optimizer", "lr", *(f"loss after {s} steps" for s in checkpoints)]:
        table.add_column(column, justify="left" if column == "optimizer" else "right")
    for row in demo_module.bowl_table(checkpoints, lr=lr):
        losses = (row.loss_after[s] for s in checkpoints)
        table.add_row(row.name, f"{row.lr:g}", *(_loss_or_diverged(x) for x in losses))
    console.print(table)
    console.print(
        "Default hyper-parameters are torch.optim's (lr 0.1 where a rule has none). "
        "One L-BFGS step runs up to max_iter=20 inner iterations.\n"
    )
    _run_experiment("momentum-vs-rmsprop", out / "momentum-vs-rmsprop", gif=True)


@app.command()
@friendly_errors
def surface(
    surface: Annotated[
        str | None,
        typer.Argument(
            help="A surface name (see --list) or a formula in w1, w2, e.g. 'w1**2 + 8*w2**2'."
        ),
    ] = None,
    opt: Annotated[
        list[str] | None,
        typer.Option(
            "--opt",
            help="An optimizer, e.g. sgd or 'sgd:momentum=0.9,nesterov=true'; "
            "repeat for several (default: sgd).",
        ),
    ] = None,
    lr: Annotated[
        str | None,
        typer.Option(
            help="A learning rate for every optimizer; '0.01,0.1,1' or '1e-3:1:13' "
            "(log-spaced) sweeps it."
        ),
    ] = None,
    steps: Annotated[int, typer.Option(help="Updates per run.")] = 100,
    start: Annotated[
        str | None, typer.Option(help="The start 'w1,w2' (default: the surface's usual start).")
    ] = None,
    starts: Annotated[
        int | None,
        typer.Option(help="Run from this many starts on a grid over the window (basin maps)."),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            help="An lr schedule for every run, e.g. 'cosine:T_max=100' (its lr defaults to --lr)."
        ),
    ] = None,
    noise: Annotated[
        float, typer.Option(help="σ of Gaussian noise added to every gradient.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the gradient noise.")] = 0,
    seeds: Annotated[int, typer.Option(help="Runs per start, with seeds seed, seed+1, ...")] = 1,
    tol: Annotated[
        float, typer.Option(help="Tolerance on f − f* for 'steps to tolerance'.")
    ] = 1e-6,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: ./descend-out/<surface>/).")
    ] = None,
    gif: Annotated[
        bool, typer.Option("--gif/--no-gif", help="Also write the animated descent.")
    ] = True,
    list_surfaces: Annotated[
        bool, typer.Option("--list", help="List the surfaces and exit.")
    ] = False,
) -> None:
    """Optimizers on a 2-D surface: table, contour, 3-D view, loss curves, animation."""
    from descend.tasks import surfaces

    if list_surfaces or surface is None:
        _list_surfaces(surfaces)
        return
    with ProgressBar() as progress:
        study = descend.surface(
            surface, opt or ["sgd"], lr=_parse_lr(lr), steps=steps, start=_parse_point(start),
            starts=starts, seed=list(range(seed, seed + seeds)), noise=noise,
            schedule=schedule, tolerance=tol,
            progress=progress,
        )  # fmt: skip
    folder = out or DEFAULT_OUT / study.surface.name
    _print_study(study)
    _save(study, folder, gif)


@app.command("run")
@friendly_errors
def run_experiment(
    experiment: Annotated[
        str | None, typer.Argument(help="A recipe name (see --list) or a TOML file.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: ./descend-out/<experiment>/).")
    ] = None,
    gif: Annotated[
        bool, typer.Option("--gif/--no-gif", help="Also write the animated descents.")
    ] = True,
    list_recipes: Annotated[
        bool, typer.Option("--list", help="List the shipped recipes and exit.")
    ] = False,
) -> None:
    """Run an experiment described in TOML: a shipped recipe or your own file."""
    from descend import experiments

    if list_recipes or experiment is None:
        table = Table(title="Recipes (descend run NAME)")
        table.add_column("name")
        table.add_column("what")
        for name in experiments.recipes():
            table.add_row(name, experiments.load(name).title)
        console.print(table)
        return
    name = experiments.load(experiment).name
    _run_experiment(experiment, out or DEFAULT_OUT / name, gif=gif)


def _run_experiment(name_or_file: str, out: Path, *, gif: bool) -> None:
    from descend import experiments

    experiment = experiments.load(name_or_file)
    console.print(f"[bold]{experiment.title}[/]", highlight=False)
    if experiment.description:
        # one paragraph, re-flowed to the terminal's width
        console.print(" ".join(experiment.description.split()), highlight=False, markup=False)
    with ProgressBar() as progress:
        studies = experiment.run(progress=progress)
    for study in studies:
        _print_study(study)
        _save(study, out / study.surface.name if len(studies) > 1 else out, gif, quiet=True)
    console.print(f"Figures and tables are in [bold]{out}/[/]", highlight=False)


@app.command()
@friendly_errors
def schedule(
    specs: Annotated[
        list[str],
        typer.Argument(
            help="Schedules, e.g. 'cosine_warm_restarts:lr=0.1,T_0=10,T_mult=2,eta_min=0.01'."
        ),
    ],
    steps: Annotated[int, typer.Option(help="Steps to draw.")] = 100,
    out: Annotated[Path, typer.Option(help="The PNG to write.")] = DEFAULT_SCHEDULE_PNG,
) -> None:
    """Plot learning-rate schedules (lr against step) and print some of their values."""
    from descend.experiments import parse_call
    from descend.plots import schedule_curves

    curves = {}
    for text in specs:
        name, params = parse_call(text)
        curves[text] = descend.schedules.get(name, **params)
    table = Table(title="Learning rate by step (step 0 is the first update)")
    table.add_column("step", justify="right")
    for label in curves:
        table.add_column(label, justify="right", overflow="fold")
    for k in sorted({*range(0, steps, max(1, steps // 10)), steps - 1}):
        table.add_row(str(k), *(f"{float(s(k)):.6g}" for s in curves.values()))
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    schedule_curves(curves, steps).savefig(out, dpi=120, bbox_inches="tight")
    console.print(f"Wrote [bold]{out}[/]", highlight=False)


# --- helpers ----------------------------------------------------------------------


def _loss_or_diverged(loss: float) -> str:
    return f"{loss:.3e}" if math.isfinite(loss) else "diverged"


def _parse_lr(text: str | None) -> float | list[float] | None:
    if text is None:
        return None
    try:
        if ":" in text:
            low, high, count = text.split(":")
            return torch.logspace(
                torch.tensor(float(low)).log10(), torch.tensor(float(high)).log10(), int(count)
            ).tolist()
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise DescendError(
            f"Invalid --lr {text!r} (allowed: 0.1, or 0.01,0.1,1, or low:high:count)."
        ) from None
    return values[0] if len(values) == 1 else values


def _parse_point(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        w1, w2 = (float(v) for v in text.split(","))
    except ValueError:
        raise DescendError(
            f"Invalid --start {text!r} (allowed: two numbers 'w1,w2', e.g. 1,1)."
        ) from None
    return (w1, w2)


class ProgressBar:
    """A rich progress bar fed by the engine's progress callback."""

    def __enter__(self) -> Callable[[int, int], None]:
        self.bar = Progress(
            TextColumn("running"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("steps", total=None)
        return lambda done, total: self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: Any) -> None:
        self.bar.stop()


def _print_study(study: Any) -> None:
    from descend.report import TABLE_NOTE, summary_rows

    rows = summary_rows(study)
    table = Table(
        title=f"{study.surface.label}: {study.surface.formula}",
        title_justify="left",
        caption=TABLE_NOTE,
        caption_justify="left",
    )
    for column in rows[0]:
        if column == "optimizer":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right", overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    console.print(table, highlight=False)


def _save(study: Any, folder: Path, gif: bool, quiet: bool = False) -> None:
    written = study.save(folder, gif=gif)
    if not quiet:
        names = ", ".join(p.name for p in written.values())
        console.print(f"Wrote {names}\nto [bold]{folder}/[/]", highlight=False)


def _list_surfaces(surfaces: Any) -> None:
    table = Table(title="Surfaces (or give a formula in w1, w2)")
    for column in ["name", "f(w1, w2)", "global minimum"]:
        table.add_column(column)
    for name in surfaces.names():
        s = surfaces.get(name)
        value = s.minimum_value
        table.add_row(name, s.formula, "none" if value is None else f"{value:g}")
    console.print(table, highlight=False)
