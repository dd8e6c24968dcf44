"""The `descend` command: parse, call the library, print. Nothing here that Python lacks."""

from __future__ import annotations

import functools
import inspect
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

import descend
from descend import checks, cli_store
from descend.cli_lr_find import lr_find_command
from descend.cli_store import NoStore, Rerun, StorePath
from descend.errors import DescendError
from descend.studies import demo as demo_module
from descend.studies.surface import FIGURES as SURFACE_FIGURES
from descend.terminal import ProgressBar, check_out, console, print_tables

app = typer.Typer(
    help="descend: a laboratory for gradient-based optimizers on PyTorch.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help (no <bool> after flags) and one-line usage errors
)
DEFAULT_OUT = Path("descend-out")
DEFAULT_SCHEDULE_PNG = Path("lr.png")


def friendly_errors(command: Callable) -> Callable:
    """Bad input ends with its message, one line on stderr (exit status 2), not a
    traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DescendError as problem:
            sys.stderr.write("Error: " + " ".join(str(problem).split()) + "\n")
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
    out: Annotated[Path, typer.Option(help="Where the demo's studies write their figures.")] = (
        DEFAULT_OUT
    ),
    quick: Annotated[
        bool, typer.Option("--quick/--full", help="Short studies (fewer seeds and epochs).")
    ] = True,
) -> None:
    """Every optimizer on the anisotropic bowl, then seed 004's momentum-vs-rmsprop study,
    seed 000's gd-vs-sgd study, seed 002's adam-vs-adadelta and seed 003's schedules on
    digits, and a learning-rate range test of Adam on digits-convnet."""
    folders = ("momentum-vs-rmsprop", "gd-vs-sgd", "adam-vs-adadelta", "schedules", "lr-find")
    for folder in folders:
        check_out(out / folder)
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
    short = {"seeds": 5, "epochs": 100, "checkpoint": 50} if quick else {}
    _run_experiment("gd-vs-sgd", out / "gd-vs-sgd", gif=True, overrides=short)
    digits = {"dataset": "digits", **({"epochs": 3} if quick else {})}
    _run_experiment("adam-vs-adadelta", out / "adam-vs-adadelta", gif=True, overrides=digits)
    few_seeds = {"seeds": 2} if quick else {}
    _run_experiment("schedules", out / "schedules", gif=False, overrides=few_seeds)
    lr_find_command(task="digits-convnet", opt="adam", seeds=3, out=out / "lr-find", no_store=True)


@app.command()
@friendly_errors
def surface(
    surface: Annotated[
        str | None,
        typer.Argument(
            help="A surface name (see --list), with parameters as in 'anisotropic:kappa=100', "
            "or a formula in w1, w2, e.g. 'w1**2 + 8*w2**2'."
        ),
    ] = None,
    opt: Annotated[
        list[str] | None,
        typer.Option(
            "--opt",
            metavar="RULE:KEY=VALUE,...",
            help="An optimizer, e.g. sgd or 'sgd:momentum=0.9,nesterov=true' or "
            "'adam:betas=(0.9,0.99)'; repeat for several (default: sgd).",
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
        typer.Option(
            help="Run from about this many starts on a square grid over the window (basin "
            "maps): rounded to a square, 2000 -> 45×45 = 2025."
        ),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(help="The window 'w1min,w1max,w2min,w2max' (default: the surface's)."),
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
    figures: Annotated[
        str | None,
        typer.Option(help="Only these figures, e.g. contour,loss (default: every one)."),
    ] = None,
    list_surfaces: Annotated[
        bool, typer.Option("--list", help="List the surfaces and exit.")
    ] = False,
    store: StorePath = None,
    no_store: NoStore = False,
    rerun: Rerun = False,
) -> None:
    """Optimizers on a 2-D surface: table, contour, 3-D view, loss curves, animation."""
    from descend.experiments import vocabulary
    from descend.tasks import surfaces

    if list_surfaces or surface is None:
        _list_surfaces(surfaces)
        return
    if seeds < 1:
        raise DescendError(f"Invalid --seeds: {seeds} (allowed: an integer >= 1).")
    if out is not None:
        check_out(out)
    _check_figures(figures, SURFACE_FIGURES)
    # stored only when asked: thousands of starts recompute in seconds, and would write
    # tens of MB to the store at every call
    kept = cli_store.opened(store, no_store, rerun, default=False)
    with ProgressBar() as progress:
        study = descend.surface(
            surface,
            opt or ["sgd"],
            lr=lr,
            steps=steps,
            start=_parse_point(start),
            starts=starts,
            seed=vocabulary.seeds(seeds, seed),
            noise=noise,
            schedule=schedule,
            tolerance=tol,
            window=_parse_window(window),
            progress=progress,
            store=kept,
        )
    folder = check_out(out or DEFAULT_OUT / study.surface.name)
    if starts is not None and starts != len({r.spec.start for r in study.results}):
        side = round(starts**0.5)
        console.print(f"(--starts {starts} ran as a {side}×{side} grid: {side * side} starts)")
    print_tables(study)
    _save(study, folder, gif, figures=figures)


@app.command()
@friendly_errors
def compare(
    task: Annotated[
        str,
        typer.Option(
            help="A task with data: quadratic-regression, linear-regression, "
            "logistic-regression, digits-mlp, digits-convnet, mnist-convnet, mnist-mlp, "
            "fashion-mnist-convnet; parameters as in 'linear-regression:d=5,condition=1000'."
        ),
    ],
    opt: Annotated[
        list[str] | None,
        typer.Option(
            "--opt",
            metavar="RULE:KEY=VALUE,...",
            help="An optimizer, e.g. 'sgd:lr=1e-3'; repeat for several.",
        ),
    ] = None,
    regime: Annotated[
        list[str] | None,
        typer.Option(
            "--regime",
            metavar="REGIME",
            help="full, single, minibatch:B:fixed, minibatch:B:shuffle or "
            "minibatch:B:replacement (add :drop_last to drop a partial last batch); repeat "
            "for several (default: the task's usual: full for a regression, "
            "minibatch:32:shuffle for a network).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Shorthand for --regime minibatch:B:shuffle.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs per run.")] = None,
    updates: Annotated[int | None, typer.Option(help="Updates per run (instead of epochs).")] = (
        None
    ),
    seeds: Annotated[
        str, typer.Option(help="A number of seeds (0, 1, ...) or a list such as 3,7,11.")
    ] = "5",
    lr: Annotated[
        str | None,
        typer.Option(help="A learning rate for every optimizer; '0.01,0.1' or '1e-3:1:13' sweeps."),
    ] = None,
    schedule: Annotated[
        list[str] | None,
        typer.Option(
            "--schedule",
            metavar="NAME:KEY=VALUE,...",
            help="An lr schedule, e.g. 'cosine:T_max=100' (its lr: the optimizer's); repeat "
            "for several: every optimizer runs under each (an optimizer's own, as in "
            "'sgd:lr=cosine(T_max=10)', is kept).",
        ),
    ] = None,
    schedule_unit: Annotated[
        str, typer.Option(help="What a schedule's step counts: step (updates) or epoch.")
    ] = "step",
    fixed_init: Annotated[
        bool,
        typer.Option(
            "--fixed-init",
            help="Every seed starts from the first seed's weights: only the data order varies.",
        ),
    ] = False,
    drop_last: Annotated[
        bool, typer.Option("--drop-last", help="Drop a partial last batch of each epoch.")
    ] = False,
    eval_every: Annotated[int, typer.Option(help="Epochs between evaluations.")] = 1,
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float32",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    slice_: Annotated[
        str | None,
        typer.Option("--slice", help="The two parameters the landscape figures vary, e.g. a,b."),
    ] = None,
    checkpoint: Annotated[
        int | None, typer.Option(help="An epoch marked on the paths and reported.")
    ] = None,
    data_dir: Annotated[
        str | None,
        typer.Option(help="Where MNIST / Fashion-MNIST IDX files are (else $DESCEND_DATA)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: ./descend-out/compare/).")
    ] = None,
    store: StorePath = None,
    no_store: NoStore = False,
    rerun: Rerun = False,
) -> None:
    """Optimizers and data regimes on a task with data, over many seeds, paired."""
    if batch_size is not None and regime:
        raise DescendError("Give --regime or --batch-size, not both.")
    regimes = regime or ([f"minibatch:{batch_size}:shuffle"] if batch_size is not None else None)
    folder = check_out(out or DEFAULT_OUT / "compare")
    kept = cli_store.opened(store, no_store, rerun)
    with ProgressBar() as progress:
        study = descend.compare(
            task,
            opt or ["sgd"],
            regimes=regimes,
            epochs=epochs,
            updates=updates,
            seeds=_parse_seeds(seeds),
            lr=lr,
            schedules=schedule or (),
            schedule_unit=schedule_unit,
            fixed_init=fixed_init,
            drop_last=drop_last,
            eval_every=eval_every,
            dtype=dtype,
            device=device,
            slice=_parse_names(slice_),
            checkpoint=checkpoint,
            data_dir=data_dir,
            progress=progress,
            store=kept,
        )
    print_tables(study)
    _save(study, folder, gif=False)


app.command("lr-find")(friendly_errors(lr_find_command))


@app.command("run")
@friendly_errors
def run_experiment(
    experiment: Annotated[
        str | None, typer.Argument(help="A recipe name (see --list) or a TOML file.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Override a key of the recipe's [study]."),
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
    store: StorePath = None,
    no_store: NoStore = False,
    rerun: Rerun = False,
) -> None:
    """Run an experiment described in TOML: a shipped recipe or your own file."""
    from descend import experiments

    if list_recipes or experiment is None:
        table = Table(title="Recipes (descend run NAME)")
        table.add_column("name")
        table.add_column("what")
        for name in experiments.recipes():
            table.add_row(name, experiments.title_of(name))
        console.print(table)
        return
    overrides = _parse_overrides(set_ or [])
    name = experiments.load(experiment, overrides).name
    kept = cli_store.opened(store, no_store, rerun)
    _run_experiment(experiment, out or DEFAULT_OUT / name, gif=gif, overrides=overrides, store=kept)


def _run_experiment(
    name_or_file: str,
    out: Path,
    *,
    gif: bool,
    overrides: dict[str, Any] | None = None,
    store: Any = None,
) -> None:
    from descend import experiments
    from descend.studies.recipes import studies_of

    experiment = experiments.load(name_or_file, overrides)
    check_out(out)
    console.print(f"[bold]{experiment.title}[/]", highlight=False)
    if experiment.description:
        # one paragraph, re-flowed to the terminal's width
        console.print(" ".join(experiment.description.split()), highlight=False, markup=False)
    with ProgressBar() as progress:
        studies = studies_of(experiment, progress=progress, store=store)
    for study in studies:
        print_tables(study)
        _save(study, out / study.name if len(studies) > 1 else out, gif, quiet=True)
    console.print(f"Figures and tables are in [bold]{out}/[/]", highlight=False)


@app.command()
@friendly_errors
def optimizers() -> None:
    """List the optimizers: their hyper-parameters with defaults (torch.optim's names), and
    where each comes from. Write one as 'adam:lr=3e-4,betas=(0.9,0.99)'."""
    table = Table(title="Optimizers (--opt NAME:KEY=VALUE,...; tuples as betas=(0.9,0.99))")
    for column in ("name", "hyper-parameters (defaults)", "what, and where it comes from"):
        table.add_column(column, overflow="fold")
    for name in descend.optim.names():
        defaults = descend.optim.hyperparameter_defaults(name)
        shown = ", ".join(
            k if v is inspect.Parameter.empty else f"{k}={v!r}" for k, v in defaults.items()
        )
        factory = descend.optim.base.RULES.factory(name)
        module = inspect.getmodule(factory)
        source = " ".join((module.__doc__ or "").split("\n\n")[0].split()) if module else ""
        table.add_row(name, shown, source)
    console.print(table, highlight=False)


data_app = typer.Typer(
    help="Datasets: download MNIST and Fashion-MNIST.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(data_app, name="data")


@data_app.command("download")
@friendly_errors
def data_download(
    name: Annotated[str, typer.Argument(help="mnist or fashion-mnist.")],
    data_dir: Annotated[
        str | None,
        typer.Option(help="The data root (default: $DESCEND_DATA, else ~/.cache/descend)."),
    ] = None,
) -> None:
    """Fetch a dataset's four IDX files from its usual mirrors, checked against their
    published checksums, written atomically."""
    from descend.tasks.download import download

    sizes: dict[str, int] = {}

    def report(url: str, done: int, total: int | None) -> None:
        if url not in sizes:
            console.print(f"fetching {url}", highlight=False)
        sizes[url] = done

    folder = download(name, data_dir, progress=report)
    console.print(f"{name}: 4 files verified in [bold]{folder}[/]", highlight=False)
    if data_dir is not None:
        console.print(f"Pass --data-dir {data_dir} (or set DESCEND_DATA) to use them.")


@app.command()
@friendly_errors
def schedule(
    specs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Schedules, e.g. 'cosine_warm_restarts:lr=0.1,T_0=10,T_mult=2,eta_min=0.01'."
        ),
    ] = None,
    steps: Annotated[int, typer.Option(help="Steps to draw.")] = 100,
    out: Annotated[
        Path, typer.Option(help="The figure to write: .png, .svg or .pdf.")
    ] = DEFAULT_SCHEDULE_PNG,
    list_schedules: Annotated[
        bool, typer.Option("--list", help="List the schedules and their parameters, and exit.")
    ] = False,
) -> None:
    """Plot learning-rate schedules (lr against step) and print their telling values:
    the first and last steps, restarts and turns."""
    from descend.analysis.schedules import telling_steps
    from descend.experiments import parse_call
    from descend.experiments.vocabulary import check_schedule
    from descend.plots import schedule_curves
    from descend.report import atomic_write, png_bytes

    if list_schedules or not specs:
        _list_schedules()
        return
    checks.integer("--steps", steps, low=1)
    if out.suffix.lower() not in FIGURE_SUFFIXES:
        raise DescendError(
            f"Invalid --out {str(out)!r}: not a figure file (allowed: a name ending in "
            f"{', '.join(FIGURE_SUFFIXES)})."
        )
    check_out(out.parent)
    if out.is_dir():
        raise DescendError(f"Invalid --out {str(out)!r}: it is a folder (allowed: a file name).")
    curves = {}
    for text in specs or []:
        name, params = parse_call(text)
        curves[text] = check_schedule(descend.schedules.get(name, **params), steps)
    table = Table(title="Learning rate by step (step 0 is the first update)")
    table.add_column("step", justify="right")
    for label in curves:
        table.add_column(label, justify="right", overflow="fold")
    for k in telling_steps(curves, steps):
        table.add_row(str(k), *(f"{float(s(k)):.6g}" for s in curves.values()))
    console.print(table)
    figure = schedule_curves(curves, steps)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, png_bytes(figure, 120, out.suffix.lower().lstrip(".")))
    console.print(f"Wrote [bold]{out}[/]", highlight=False)


FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def _list_schedules() -> None:
    table = Table(title="Schedules (descend schedule NAME:lr=...,KEY=VALUE)")
    for column in ("name", "parameters (defaults)", "what"):
        table.add_column(column, overflow="fold")
    for name in descend.schedules.names():
        defaults = descend.schedules.SCHEDULES.defaults(name)
        shown = ", ".join(
            k if v is inspect.Parameter.empty else f"{k}={v!r}" for k, v in defaults.items()
        )
        doc = (descend.schedules.SCHEDULES.factory(name).__doc__ or "").strip().split("\n")[0]
        table.add_row(name, shown, doc)
    console.print(table, highlight=False)


# --- helpers ----------------------------------------------------------------------


def _loss_or_diverged(loss: float) -> str:
    return f"{loss:.3e}" if math.isfinite(loss) else "diverged"


def _parse_seeds(text: str) -> int | list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise DescendError(
            f"Invalid --seeds {text!r} (allowed: a count such as 5, or a list such as 3,7,11)."
        )
    return values[0] if len(values) == 1 and "," not in text else values


def _parse_names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",")]


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    """--set KEY=VALUE, the value read as in an optimizer call (numbers, lists, words)."""
    from descend.experiments.calls import parse_value

    overrides: dict[str, Any] = {}
    for item in items:
        key, equals, raw = item.partition("=")
        if not equals or not key.strip():
            raise DescendError(f"Invalid --set {item!r} (allowed: KEY=VALUE, e.g. seeds=3).")
        value = parse_value(raw.strip())
        overrides[key.strip()] = list(value) if isinstance(value, tuple) else value
    return overrides


def _check_figures(figures: str | None, known: tuple[str, ...]) -> None:
    """Refuse, before any work, a figure name no such study draws."""
    names = [] if figures is None else [f.strip() for f in figures.split(",") if f.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise DescendError(
            f"Invalid --figures: {', '.join(unknown)} (allowed: {', '.join(known)}; a study "
            "draws those that apply to it)."
        )


def _parse_window(text: str | None) -> tuple[tuple[float, float], tuple[float, float]] | None:
    if text is None:
        return None
    try:
        x0, x1, y0, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise DescendError(
            f"Invalid --window {text!r} (allowed: four numbers 'w1min,w1max,w2min,w2max', "
            "e.g. -2,2,-1,3)."
        ) from None
    if not (x0 < x1 and y0 < y1) or not all(math.isfinite(v) for v in (x0, x1, y0, y1)):
        raise DescendError(
            f"Invalid --window {text!r} (allowed: finite numbers with w1min < w1max and "
            "w2min < w2max)."
        )
    return (x0, x1), (y0, y1)


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


def _save(
    study: Any, folder: Path, gif: bool, quiet: bool = False, figures: str | None = None
) -> None:
    from descend.report import save

    only = None if figures is None else [f.strip() for f in figures.split(",") if f.strip()]
    written = save(
        study, folder, skip=() if gif else ("descent",), only=only,
        on_file=lambda names: console.print(f"writing {names} ...", highlight=False),
    )  # fmt: skip
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


cli_store.register(app, friendly_errors)  # descend runs list|show|export|import, descend report
