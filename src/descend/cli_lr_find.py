"""`descend lr-find`: the learning-rate range test on a network task, from the shell.

Registered in cli.py by `app.command("lr-find")(friendly_errors(lr_find_command))`, so a
bad input ends as one line on stderr (exit status 2). Everything here is
`descend.lr_find_task(..., store=...)` then `descend.report.save(...)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from descend import cli_store
from descend.cli_store import NoStore, Rerun, StorePath
from descend.terminal import check_out, console

DEFAULT_OUT = Path("descend-out") / "lr-find"


def lr_find_command(
    task: Annotated[
        str,
        typer.Option(help="A network task: digits-convnet, digits-mlp, mnist-convnet, ..."),
    ],
    opt: Annotated[
        str,
        typer.Option(
            "--opt",
            metavar="RULE:KEY=VALUE,...",
            help="The optimizer without its lr (the sweep sets it), e.g. adam or "
            "'sgd:momentum=0.9'.",
        ),
    ] = "adam",
    seeds: Annotated[
        int, typer.Option(help="Sweeps from the same weights, each its own data order.")
    ] = 3,
    start: Annotated[float, typer.Option(help="The first lr of the sweep.")] = 1e-7,
    end: Annotated[float, typer.Option(help="The last lr of the sweep.")] = 10.0,
    steps: Annotated[int, typer.Option(help="Updates in the sweep, one batch each.")] = 100,
    mode: Annotated[str, typer.Option(help="exp (evenly spaced in log lr) or linear.")] = "exp",
    smooth: Annotated[
        float, typer.Option(help="Exponential smoothing of the loss, in [0, 1); 0: none.")
    ] = 0.05,
    diverge: Annotated[
        float, typer.Option(help="Stop when the smoothed loss exceeds this × its best.")
    ] = 5.0,
    batch_size: Annotated[int, typer.Option(help="Examples per update.")] = 32,
    init_seed: Annotated[
        int, typer.Option(help="Initial weights of this seed (as descend compare's run).")
    ] = 0,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    data_dir: Annotated[
        str | None,
        typer.Option(help="Where MNIST / Fashion-MNIST IDX files are (else $DESCEND_DATA)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder for the figure and tables.")] = (
        DEFAULT_OUT
    ),
    store: StorePath = None,
    no_store: NoStore = False,
    rerun: Rerun = False,
) -> None:
    """Learning-rate range test: sweep the lr over one short run, plot the smoothed loss
    against it, and suggest lrs by three stated rules (steepest, minimum/10, valley).
    Kept in the store as the study lr-find/<task>/<opt>, read back when asked again."""
    from descend.lrfind import lr_find_task
    from descend.report import save

    folder = check_out(out)
    kept = cli_store.opened(store, no_store, rerun)
    result = lr_find_task(
        task, opt, seeds=seeds, init_seed=init_seed, data_dir=data_dir, start=start, end=end,
        steps=steps, mode=mode, smooth=smooth, diverge=diverge, batch_size=batch_size,
        device=device, store=kept,
    )  # fmt: skip
    _print_suggestions(result)
    written = save(result, folder)
    names = ", ".join(p.name for p in written.values())
    console.print(f"Wrote {names}\nto [bold]{folder}/[/]", highlight=False)


def _print_suggestions(result: Any) -> None:
    """The title and the suggestions, rules and their text left-aligned, lrs right."""
    console.print(f"[bold]{escape(result.title)}[/]", highlight=False)
    table = next(t for t in result.tables() if t.name == "suggestions")
    shown = Table(title=table.title, title_justify="left", caption=escape(table.note),
                  caption_justify="left")  # fmt: skip
    rows = table.formatted()
    for column in rows[0]:
        shown.add_column(column, justify="left" if column in ("rule", "how") else "right")
    for row in rows:
        shown.add_row(*(escape(v) for v in row.values()))
    console.print(shown, highlight=False)
