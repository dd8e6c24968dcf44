"""The compare study: optimizers and data regimes on a task with data, over many seeds.

    study = descend.compare("quadratic-regression", ["sgd:lr=1e-3"],
                            regimes=["full", "minibatch:25:fixed", "minibatch:25:shuffle"],
                            epochs=300, seeds=20)
    study.summaries()      # one row per optimizer × regime: mean ± sd and 95 % CI over seeds
    study.paths()          # figures: paths, landscape, minibatches, fits, curves
    study.save("out/regimes")

Runs with the same seed start from the same weights and, under the same regime, see
the same batches, so rows are compared seed by seed (`study.paired`, claims).
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from descend import analysis, checks
from descend.analysis.training import layer_differences
from descend.engine import (
    OptimizerSpec,
    Progress,
    Regime,
    Results,
    RunResult,
    RunSpec,
    TaskSpec,
    check_device,
)
from descend.engine.records import MAX_RECORDED, flat_names
from descend.errors import DescendError
from descend.experiments.plans import compare_plan
from descend.store import Store
from descend.studies import metrics, stored
from descend.studies.base import Figures, Table
from descend.studies.claims import Claim, checked_claims


def compare(
    task: str | TaskSpec,
    optimizers: Sequence[str | OptimizerSpec] = ("sgd",),
    *,
    regimes: Sequence[Any] | None = None,
    epochs: int | None = None,
    updates: int | None = None,
    seeds: int | Sequence[int] = 5,
    lr: Any = None,
    schedule: Any = None,
    fixed_init: bool = False,
    drop_last: bool = False,
    eval_every: int = 1,
    dtype: str = "float32",
    dataset: str | None = None,
    data_dir: str | None = None,
    schedules: Sequence[Any] = (),
    schedule_unit: str = "step",
    device: str = "cpu",
    slice: Sequence[str] | None = None,
    checkpoint: int | None = None,
    claims: Sequence[Claim] = (),
    name: str = "compare",
    title: str = "",
    description: str = "",
    progress: Progress | None = None,
    store: Store | None = None,
) -> CompareStudy:
    """Run every optimizer (at every lr) under every regime, once per seed.

    regimes: "full", "single", "minibatch:B:fixed|shuffle|replacement" (see
    descend.engine.regimes); by default the task's usual one (full batch for regressions,
    minibatches of 32 reshuffled every epoch for networks). epochs or updates: the budget.
    seeds: a count or a list. schedules: each optimizer runs under each (a row apiece);
    schedule_unit: "step" or "epoch". fixed_init: every seed starts from the first
    seed's weights (only the data order varies). slice: the two parameters the landscape
    figures vary (default: the first two). checkpoint: an epoch marked on the paths and
    reported in the tables. store: a `descend.open_store()`: runs it holds are read, not
    run again; the others are kept.
    """
    spec, specs = compare_plan(
        task,
        optimizers,
        regimes=regimes,
        epochs=epochs,
        updates=updates,
        seeds=seeds,
        lr=lr,
        schedule=schedule,
        fixed_init=fixed_init,
        drop_last=drop_last,
        eval_every=eval_every,
        dtype=dtype,
        dataset=dataset,
        data_dir=data_dir,
        schedules=schedules,
        schedule_unit=schedule_unit,
    )
    return run_compare(
        (spec, specs),
        device=device,
        slice=slice,
        checkpoint=checkpoint,
        claims=claims,
        name=name,
        title=title,
        description=description,
        progress=progress,
        store=store,
    )


def run_compare(
    plan: tuple[TaskSpec, list[RunSpec]],
    *,
    device: str = "cpu",
    slice: Sequence[str] | None = None,
    checkpoint: int | None = None,
    claims: Sequence[Claim] = (),
    name: str = "compare",
    title: str = "",
    description: str = "",
    progress: Progress | None = None,
    store: Store | None = None,
) -> CompareStudy:
    """Run a compare study's specs (from `experiments.plans.compare_plan`); with a store,
    only those it does not hold."""
    spec, specs = plan
    claims = [_checked_claim(c, _row_names(specs)) for c in claims]
    slice_names = _checked_slice(specs[0], slice)
    for epoch, what in [(checkpoint, "checkpoint"), *((c.epoch, "claim epoch") for c in claims)]:
        _check_epoch(specs, epoch, what)
    check_device(device)
    record = stored.compare_record(
        spec, name, title=title, description=description, claims=claims,
        checkpoint=checkpoint, slice_names=slice_names,
    )  # fmt: skip
    results = stored.results(specs, store, record, device=device, progress=progress)
    return CompareStudy(spec, results, name, title, description, claims, checkpoint, slice_names)


def _checked_slice(spec: RunSpec, names: Sequence[str] | None) -> tuple[str, str] | None:
    """The two parameters the landscape figures vary (default: the first two), checked
    against the task's own names; None when runs are too large to keep their paths."""
    start = spec.built_task.initial_params(spec, torch.Generator().manual_seed(0))
    known = flat_names({k: v[None] for k, v in start.items()})
    if len(known) > MAX_RECORDED:
        return None
    chosen = tuple(names) if names is not None else tuple(known[:2])
    if len(chosen) != 2 or any(n not in known for n in chosen):
        raise DescendError(
            f"Invalid slice: {', '.join(map(str, chosen))} (allowed: two of {', '.join(known)}).",
            key="slice",
        )
    return chosen  # type: ignore[return-value]


def _check_epoch(specs: Sequence[RunSpec], epoch: int | None, what: str) -> None:
    """An epoch the tables report must have an evaluation in every run."""
    if epoch is None:
        return
    checks.integer(what, epoch, low=0)
    for spec in specs:
        last = (
            spec.epochs if spec.epochs is not None else spec.steps // (spec.updates_per_epoch or 1)
        )
        if epoch > last or epoch % spec.eval_every:
            raise DescendError(
                f"Invalid {what}: epoch {epoch} (allowed: an epoch evaluated in every run: "
                f"a multiple of eval_every={spec.eval_every}, at most {last}).",
                key="checkpoint",
            )


def _row_names(specs: Sequence[RunSpec]) -> list[str]:
    labels = {s.label for s in specs}
    regimes = {str(s.regime) for s in specs}
    names = []
    for s in specs:
        if len(labels) > 1 and len(regimes) > 1:
            names.append(f"{s.label} @ {s.regime}")
        else:
            names.append(s.label if len(labels) > 1 else str(s.regime))
    return list(dict.fromkeys(names))


def _checked_claim(claim: Claim, rows: list[str]) -> Claim:
    """The claim with its rows in their canonical form ('minibatch:25' is
    'minibatch:25:shuffle'), refused before any run if a row is not in the study."""
    names = []
    for name in (claim.better, claim.than):
        with contextlib.suppress(DescendError):  # a regime written another way
            name = str(Regime.parse(name)) if str(Regime.parse(name)) in rows else name
        if name not in rows:
            raise DescendError(
                f"Claim {claim.text!r}: no row {name!r} in this study (rows: {', '.join(rows)}).",
                key="claims",
            )
        names.append(name)
    return replace(claim, better=names[0], than=names[1])


@dataclass
class CompareStudy:
    task_spec: TaskSpec
    results: Results
    name: str = "compare"
    title_text: str = ""
    description: str = ""
    claims: list[Claim] = field(default_factory=list)
    checkpoint: int | None = None  # an epoch
    slice_names: tuple[str, str] | None = None

    @property
    def task(self) -> Any:
        return self.results[0].spec.built_task

    @property
    def title(self) -> str:
        return self.title_text or f"Compare on {self.task.label}"

    def rows(self) -> dict[str, list[RunResult]]:
        """Runs by row: 'label' with one regime, 'regime' with one label, else both."""
        labels = self.results.labels()
        regimes = list(dict.fromkeys(str(r.spec.regime) for r in self.results))
        rows: dict[str, list[RunResult]] = {}
        for r in self.results:
            rows.setdefault(row_name(r, len(labels) > 1, len(regimes) > 1), []).append(r)
        return {k: sorted(v, key=lambda r: r.spec.seed) for k, v in rows.items()}

    # --- numbers ---------------------------------------------------------------------

    def summaries(self) -> list[dict[str, Any]]:
        """Per row: mean ± sd and 95 % CI over seeds of each metric (`metrics()`)."""
        out = []
        for name, runs in self.rows().items():
            first = runs[0]
            row: dict[str, Any] = {
                "row": name,
                "optimizer": first.label,
                "regime": str(first.spec.regime),
                "runs": len(runs),
                "updates": first.spec.steps,
                "diverged": sum(r.diverged for r in runs),
            }
            for metric in self.metrics():
                e = analysis.estimate([metrics.value(r, metric) for r in runs])
                row.update(
                    {
                        metric: e.mean,
                        f"{metric} sd": e.sd,
                        f"{metric} ci low": e.low,
                        f"{metric} ci high": e.high,
                    }
                )
            if self.checkpoint is not None and "distance" in self.metrics():
                e = analysis.estimate([at_epoch(r, "distance", self.checkpoint) for r in runs])
                row[f"distance at epoch {self.checkpoint}"] = e.mean
            out.append(row)
        return out

    def metrics(self) -> list[str]:
        """The measures of this study's runs (descend.studies.metrics)."""
        return metrics.chosen(self.results[0])

    def paired(self, a: str, b: str, metric: str = "distance", epoch: int | None = None):
        """Row a against row b, seed by seed (see descend.analysis.paired)."""
        rows = self.rows()
        for name in (a, b):
            if name not in rows:
                raise DescendError(f"Unknown row {name!r} (allowed: {', '.join(rows)}).", key="row")
        by_seed = [{r.spec.seed: r for r in rows[n]} for n in (a, b)]
        seeds = sorted(set(by_seed[0]) & set(by_seed[1]))
        values = [[metrics.value(s[seed], metric, epoch) for seed in seeds] for s in by_seed]
        lower = metrics.METRICS[metric].lower_is_better
        return analysis.paired(
            values[0],
            values[1],
            names=(a, b),
            metric=metric.replace("_", " "),
            lower_is_better=lower,
        )

    def layer_differences(self, a: str, b: str) -> list[dict[str, Any]]:
        """Per layer, how rows a and b moved the weights: each seed's pair (same start)
        compared (analysis.training.layer_differences), averaged over seeds."""
        rows = self.rows()
        pairs = [
            (ra, rb)
            for ra in rows[a]
            for rb in rows[b]
            if ra.spec.seed == rb.spec.seed and not (ra.diverged or rb.diverged)
        ]
        per_seed = [
            layer_differences(ra.final_params, rb.final_params, ra.initial_params)
            for ra, rb in pairs
        ]
        out = []
        for i, first in enumerate(per_seed[0] if per_seed else []):
            fields = {k: v for k, v in vars(first).items() if k not in ("layer", "numbers")}
            mean = {k: statistics.fmean(vars(s[i])[k] for s in per_seed) for k in fields}
            out.append(
                {"layer": first.layer, "numbers": first.numbers, "seeds": len(per_seed), **mean}
            )
        return out

    # --- what the report and the CLI take -------------------------------------------

    def tables(self) -> list[Table]:
        from descend.studies.compare_tables import tables

        return tables(self)

    def figures(self) -> Figures:
        from descend.studies.compare_figures import figures

        return figures(self)

    def paths(self):
        return self.figures()["paths"]()

    def save(self, out: str) -> dict:
        from descend.report import save

        return save(self, out)

    def report(self, path: str, *, format: str = "html") -> Any:
        """One self-contained page (or Markdown + PNGs) of the study: descend.report_page."""
        from descend import report_page

        return report_page.write_study(self, path, self.results, format=format)

    def checked_claims(self):
        return checked_claims(self)

    def _repr_html_(self) -> str:
        from descend.report import notebook_html

        return notebook_html(self, ["paths", "curves"])


def row_name(run: RunResult, many_labels: bool, many_regimes: bool) -> str:
    if many_labels and many_regimes:
        return f"{run.label} @ {run.spec.regime}"
    return run.label if many_labels else str(run.spec.regime)


def final(run: RunResult, metric: str) -> float:
    """A metric at the end: inf for a run that diverged (NaN for an accuracy)."""
    return metrics.value(run, metric)


def at_epoch(run: RunResult, metric: str, epoch: int | None) -> float:
    """A metric at the evaluation after `epoch` epochs (None: the last)."""
    return metrics.value(run, metric, epoch)
