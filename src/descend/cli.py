"""The `descend` command: parse, call the library, print. Nothing here that Python lacks."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

import descend
from descend import demo as demo_module

app = typer.Typer(
    help="descend: a laboratory for gradient-based optimizers on PyTorch.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


def _show_version(value: bool) -> None:
    if value:
        console.print(f"descend {descend.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """descend: run, compare, measure and see gradient-based optimizers."""


@app.command()
def demo(
    lr: float | None = typer.Option(
        None, help="One learning rate for every rule (default: each rule's own)."
    ),
) -> None:
    """Every registered optimizer on the anisotropic bowl w1² + 8·w2², from (1, 1)."""
    checkpoints = (50, 500)
    rows = demo_module.bowl_table(checkpoints, lr=lr)
    table = Table(title="f(w) = w1² + 8·w2² from (1, 1); the minimum is 0 at (0, 0)")
    table.add_column("optimizer")
    table.add_column("lr", justify="right")
    for steps in checkpoints:
        table.add_column(f"loss after {steps} steps", justify="right")
    for row in rows:
        table.add_row(row.name, f"{row.lr:g}", *(f"{row.loss_after[s]:.3e}" for s in checkpoints))
    console.print(table)
    console.print(
        "Default hyper-parameters are torch.optim's (lr 0.1 where a rule has none). "
        "One L-BFGS step runs up to max_iter=20 inner iterations."
    )
