"""The learning-rate range test: the sweep and the rules by hand, the blow-up where GD
theory puts it on a quadratic, the user's model / optimizer / RNGs left bit for bit, every
accepted form of optimizer and data, the CLI end to end, and bad input refused before
any training."""

from __future__ import annotations

import copy
import csv
import functools
import random
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.nn import functional
from torch.utils.data import DataLoader, TensorDataset
from typer.testing import CliRunner

import descend
from descend import report
from descend.cli import app
from descend.errors import DescendError
from descend.lrfind import copies, curves

# --- the quadratic: a linear model with MSE, Hessian known ----------------------------
# X has orthogonal columns with XᵀX / n = diag(λ) / 2, so the mean squared error
# L(w) = |Xw − y|² / n has Hessian H = diag(λ), and with y = Xw* the error e = w − w*
# of full-batch GD obeys e ← (1 − ηλ)·e per coordinate: the loss falls at an update iff
# η < 2/λ_max for every coordinate, and rises once η·λ_max > 2.
LAMBDA = 2 * 10**0.25  # η* = 2/λ = 10^-0.25 lies half way between two lrs of the sweep
SWEEP = {"start": 1e-3, "end": 10.0, "steps": 41}  # 0.1 decade per update


def quadratic(eigenvalues, n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, len(eigenvalues), generator=g, dtype=torch.float64))
    x = q * torch.sqrt(torch.tensor(eigenvalues, dtype=torch.float64) * n / 2)  # (n, d)
    w_star = torch.randn(len(eigenvalues), generator=g, dtype=torch.float64)
    model = nn.Linear(len(eigenvalues), 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, len(eigenvalues), generator=g, dtype=torch.float64))
    return model, (x, (x @ w_star)[:, None]), w_star


def gd_theory(model, w_star, eigenvalues, lrs):
    """The loss before each update of full-batch GD, from e ← (1 − ηλ)·e alone."""
    e = (model.weight.detach()[0] - w_star).numpy()
    lam = np.array(eigenvalues)
    losses = []
    for lr in lrs:
        losses.append(0.5 * np.sum(lam * e**2))
        e = (1 - lr * lam) * e
    return np.array(losses)


def sweep_quadratic(eigenvalues, optimizer=None, **settings):
    model, data, w_star = quadratic(eigenvalues)
    result = descend.lr_find(
        model, functional.mse_loss, data, optimizer or descend.optim.sgd(),
        batch_size=len(data[0]), **{**SWEEP, **settings},
    )  # fmt: skip
    return result, gd_theory(model, w_star, eigenvalues, result.lrs)


def test_without_smoothing_the_loss_turns_up_exactly_past_eta_lambda_2():
    result, theory = sweep_quadratic([LAMBDA] * 3, smooth=0.0, diverge=1.5)
    raw, lrs = result.losses.raw[0], result.lrs
    # the recorded curve is GD's, update for update (float64: rounding only)
    np.testing.assert_allclose(raw, theory[: len(raw)], rtol=1e-9)
    edge = 2 / LAMBDA
    rising = np.diff(raw) > 0  # the update at lrs[k] raised the loss
    assert np.array_equal(rising, lrs[: len(raw) - 1] > edge)
    first_past = int(np.argmax(lrs > edge))
    assert lrs[first_past - 1] < edge < lrs[first_past]
    # η·λ = 2·10^0.05 there, so the loss grows by (2·10^0.05 − 1)² = 1.55 > 1.5 at once:
    # the loss measured before the next update ends the sweep
    assert len(raw) - 1 == first_past + 1
    assert result.curves[0].stopped == "smoothed loss > 1.5 × its best"


def test_smoothed_blow_up_lags_the_edge_by_what_theory_predicts():
    """torch-lr-finder's smoothing (0.05) averages over ~20 updates, so the sweep stops
    some updates past η* = 2/λ: the stop is predicted from GD's losses alone."""
    result, theory = sweep_quadratic([LAMBDA] * 3)
    raw = result.losses.raw[0]
    smoothed = curves.smoothed(theory, 0.05)
    predicted_stop = int(np.argmax(smoothed > 5 * np.minimum.accumulate(smoothed)))
    assert len(raw) - 1 == predicted_stop
    np.testing.assert_allclose(result.losses.smoothed[0], smoothed[: len(raw)], rtol=1e-9)
    assert result.lrs[predicted_stop] > 2 / LAMBDA  # never before the edge
    for lr in result.suggestions.values():
        assert lr is not None and SWEEP["start"] <= lr <= SWEEP["end"]


def test_an_ill_conditioned_quadratic_falls_below_its_edge_and_never_stops_there():
    eigenvalues = [LAMBDA, 1.0, 0.3, 0.05]  # λ_max sets the edge
    result, theory = sweep_quadratic(eigenvalues)
    raw, lrs = result.losses.raw[0], result.lrs
    np.testing.assert_allclose(raw, theory[: len(raw)], rtol=1e-9)
    below = lrs[: len(raw) - 1] < 2 / LAMBDA
    assert (np.diff(raw)[below] < 0).all()  # every |1 − ηλ| < 1: the loss falls
    assert lrs[len(raw) - 1] > 2 / LAMBDA and result.curves[0].stopped
    for lr in result.suggestions.values():
        assert lr is not None and SWEEP["start"] <= lr <= SWEEP["end"]


# --- the sweep and the rules, by hand --------------------------------------------------


class RecordingSGD(torch.optim.SGD):
    """torch's SGD that notes the lr of every step (a factory: class(params))."""

    seen: ClassVar[list[float]] = []

    def step(self, closure=None):
        RecordingSGD.seen.append(self.param_groups[0]["lr"])
        return super().step(closure)


@pytest.mark.parametrize(
    ("mode", "start", "end", "expected"),
    [
        ("exp", 1e-3, 10.0, [1e-3, 1e-2, 1e-1, 1.0, 10.0]),  # ×10 per update
        ("linear", 0.1, 0.5, [0.1, 0.2, 0.3, 0.4, 0.5]),  # +0.1 per update
    ],
)
def test_sweeps_use_the_lrs_they_should(mode, start, end, expected):
    model, data, _ = quadratic([1.0, 1.0])
    RecordingSGD.seen = []
    result = descend.lr_find(
        model, functional.mse_loss, data, RecordingSGD, start=start, end=end, steps=5,
        mode=mode, diverge=None, batch_size=64,
    )  # fmt: skip
    np.testing.assert_allclose(result.lrs, expected, rtol=1e-12)
    np.testing.assert_allclose(RecordingSGD.seen, expected, rtol=1e-12)  # what stepped


def test_smoothing_by_hand():
    np.testing.assert_allclose(curves.smoothed(np.array([1.0, 2.0, 3.0]), 0.5), [1, 1.5, 2.25])
    np.testing.assert_array_equal(curves.smoothed(np.array([3.0, 1.0]), 0.0), [3.0, 1.0])


# A smoothed curve of 30 points: the window the rules read is points 10..24; steeper
# drops outside it (at 0→1 and 25→26) must be ignored.
WINDOW = [2.0, 2.0, 1.9, 1.7, 1.5, 1.45, 1.4, 1.3, 0.8, 0.75, 0.7, 0.65, 0.7, 1.2, 2.0]
HAND_CURVE = np.array([9.0, 2.0] + [2.0] * 8 + WINDOW + [2.0, 0.1, 5.0, 9.0, 10.0])
HAND_LRS = curves.sweep(1e-4, 1.0, 30, "exp")


def test_steepest_reproduces_torch_lr_finders_rule_on_a_hand_made_curve():
    # np.gradient on the window (central differences): the most negative is at window
    # point 7, (0.8 − 1.4)/2 = −0.30 (point 8 gives (0.75 − 1.3)/2 = −0.275): index 17
    assert curves.steepest(HAND_LRS, HAND_CURVE, "exp") == HAND_LRS[17]


def test_steepest_ignores_the_fall_back_after_a_blow_up():
    # a network's loss blows up past the best lr and falls back towards log(10) without
    # reaching 5× its best: that fall (3.4 → 2.4, steeper than any before) is not learning
    blown = HAND_CURVE.copy()
    blown[10:25] = [2.0, 1.9, 1.7, 1.6, 1.5, 1.45, 3.4, 3.3, 2.4, 2.3, 2.3, 2.3, 2.3, 2.3, 2.3]
    # up to the lowest point (1.45, window point 5): central differences −0.15, −0.15,
    # −0.1 at window points 1, 2 and 3; the first of the two lowest is taken: index 11
    assert curves.steepest(HAND_LRS, blown, "exp") == HAND_LRS[11]
    reading_everything = np.gradient(blown[10:25])  # torch-lr-finder's choice
    assert int(np.argmin(reading_everything)) == 7  # the fall back, at 3.4 → 2.4


def test_minimum_and_valley_on_the_hand_made_curve():
    # the lowest point of the window is 0.65 at window point 11: index 21
    assert curves.minimum_tenth(HAND_LRS, HAND_CURVE) == pytest.approx(HAND_LRS[21] / 10)
    # the longest strictly decreasing subsequence: 2.0, 1.9, ..., 0.65 (11 points) ends at
    # window point e = 11; s = 11 − 11 = 0; s + ⌊11/3⌋ + ⌊11/6⌋ = 0 + 3 + 1 = 4: index 14
    assert curves.valley(HAND_LRS, HAND_CURVE) == HAND_LRS[14]


def test_a_curve_that_never_falls_has_no_steepest_point():
    rising = np.linspace(1.0, 2.0, 30)
    assert curves.steepest(HAND_LRS, rising, "exp") is None
    assert curves.suggest(HAND_LRS, rising[:12], "exp") == {
        "steepest": None, "minimum/10": None, "valley": None,
    }  # fmt: skip


# --- the user's things are left exactly as they were ------------------------------------


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.bn = nn.Linear(4, 8), nn.BatchNorm1d(8)
        self.drop, self.fc2 = nn.Dropout(0.5), nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.drop(torch.relu(self.bn(self.fc1(x)))))


def classification(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(96, 4, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def snapshot(model, optimizer, loader):
    return {
        "params": [(id(p), p.detach().clone(), p.grad.clone()) for p in model.parameters()],
        "buffers": {k: v.clone() for k, v in model.state_dict().items()},
        "training": model.training,
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "loader": loader.generator.get_state(),
    }


def assert_same(before, after):
    for (i0, p0, g0), (i1, p1, g1) in zip(before["params"], after["params"], strict=True):
        assert i0 == i1 and torch.equal(p0, p1) and torch.equal(g0, g1)
    assert before["buffers"].keys() == after["buffers"].keys()
    assert all(torch.equal(before["buffers"][k], after["buffers"][k]) for k in before["buffers"])
    assert before["training"] == after["training"]
    s0, s1 = before["optimizer"], after["optimizer"]
    assert s0["param_groups"] == s1["param_groups"]
    for k in s0["state"]:
        assert all(torch.equal(s0["state"][k][n], s1["state"][k][n]) for n in s0["state"][k])
    assert torch.equal(before["torch"], after["torch"]) and before["python"] == after["python"]
    assert all(np.array_equal(a, b) for a, b in zip(before["numpy"], after["numpy"], strict=True))
    assert torch.equal(before["loader"], after["loader"])


@pytest.mark.parametrize("as_loader", [False, True])
def test_model_optimizer_and_random_state_are_left_bit_for_bit(as_loader):
    torch.manual_seed(1)
    model, (x, y) = SmallNet(), classification()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):  # Adam state after two steps; gradients of a third batch left
        optimizer.zero_grad()
        functional.cross_entropy(model(x), y).backward()
        if _ < 2:
            optimizer.step()
    model.eval()  # the range test trains a copy: the user's model stays in eval mode
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True,
                        generator=torch.Generator().manual_seed(5))  # fmt: skip
    before = snapshot(model, optimizer, loader)
    data = loader if as_loader else (x, y)
    result = descend.lr_find(model, functional.cross_entropy, data, optimizer, steps=30, seeds=2)
    assert_same(before, snapshot(model, optimizer, loader))
    assert len(result.losses.raw) == 2 and np.ptp(result.losses.raw[0]) > 0  # it did train


def test_a_torch_optimizers_state_goes_into_the_copy_not_shared():
    torch.manual_seed(0)
    model, (x, y) = SmallNet(), classification()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    clone = copy.deepcopy(model)
    rebuilt = copies.optimizer_maker(optimizer, model)(clone)
    assert [p for g in rebuilt.param_groups for p in g["params"]] == list(clone.parameters())
    for p, q in zip(model.parameters(), clone.parameters(), strict=True):
        mine, theirs = optimizer.state[p]["momentum_buffer"], rebuilt.state[q]["momentum_buffer"]
        assert torch.equal(mine, theirs) and mine.data_ptr() != theirs.data_ptr()
    # every seed starts from the user's state, not from the state a seed before left
    run = functools.partial(
        descend.lr_find, model, functional.cross_entropy, (x, y), optimizer, steps=15
    )
    np.testing.assert_array_equal(run(seeds=[0, 1]).losses.raw[1], run(seeds=[1]).losses.raw[0])


# --- every form of optimizer and data -----------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda m: torch.optim.SGD(m.parameters(), lr=0.5, momentum=0.9),  # an instance
        lambda m: functools.partial(torch.optim.SGD, momentum=0.9),  # a factory
        lambda m: descend.optim.sgd(momentum=0.9).to_torch(m.parameters()),  # descend's adapter
    ],
    ids=["torch-instance", "torch-factory", "descend-to_torch"],
)
def test_a_descend_rule_and_torch_optimizers_give_the_same_sweep(make):
    rule, _ = sweep_quadratic([LAMBDA, 0.5], descend.optim.sgd(momentum=0.9))
    model, data, _ = quadratic([LAMBDA, 0.5])
    other = descend.lr_find(model, functional.mse_loss, data, make(model), batch_size=64, **SWEEP)
    np.testing.assert_allclose(other.losses.raw[0], rule.losses.raw[0], rtol=1e-9)
    assert other.suggestions == pytest.approx(rule.suggestions)


def test_tensors_and_a_dataloader_give_the_same_full_batch_sweep():
    tensors, _ = sweep_quadratic([LAMBDA, 1.0, 0.1])
    model, (x, y), _ = quadratic([LAMBDA, 1.0, 0.1])
    loader = DataLoader(TensorDataset(x, y), batch_size=len(x))
    batches = descend.lr_find(model, functional.mse_loss, loader, descend.optim.sgd(), **SWEEP)
    np.testing.assert_allclose(batches.losses.raw[0], tensors.losses.raw[0], rtol=1e-9)


def test_seeds_share_the_weights_and_differ_in_data_order_reproducibly():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3))
    x, y = classification()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    run = functools.partial(
        descend.lr_find, model, functional.cross_entropy, loader, descend.optim.adam(),
        start=1e-4, end=1.0, steps=40, seeds=3,
    )  # fmt: skip
    first, again = run(), run()
    assert first.seeds == [0, 1, 2]
    for a, b in zip(first.losses.raw, again.losses.raw, strict=True):
        np.testing.assert_array_equal(a, b)  # the same seeds, the same curves
    assert not np.array_equal(first.losses.raw[0], first.losses.raw[1])  # orders differ
    _, mean, low, high = first.curve()
    assert (low <= mean).all() and (mean <= high).all() and (high > low).any()
    # without dropout, on one batch holding all the data, only the order of its rows
    # differs between seeds: the same initial weights give the same curve
    plain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    full = descend.lr_find(plain, functional.cross_entropy, (x, y), descend.optim.adam(),
                           start=1e-4, end=1.0, steps=20, seeds=3, batch_size=96)  # fmt: skip
    first_loss = functional.cross_entropy(plain(x), y).item()
    assert full.losses.raw[0][0] == pytest.approx(first_loss, rel=1e-6)  # rows reordered
    for other in full.losses.raw[1:]:
        np.testing.assert_allclose(other, full.losses.raw[0], rtol=1e-4)


def test_the_result_is_a_study_with_its_figure_and_tables(tmp_path):
    result, _ = sweep_quadratic([LAMBDA, 1.0, 0.1])
    figure = result.plot()
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for rule, lr in result.suggestions.items():
        assert f"{rule}: {lr:.3g}" in labels
    written = report.save(result, tmp_path)
    assert {p.name for p in written.values()} >= {"lr-find.png", "suggestions.csv", "curve.csv"}
    with open(tmp_path / "suggestions.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["rule"] for r in rows] == ["steepest", "minimum/10", "valley"]
    assert float(rows[2]["lr"]) == result.suggestion  # valley: the first guess
    assert "torch-lr-finder" in rows[0]["how"] and "fastai" in rows[2]["how"]


# --- descend's tasks and the command line ----------------------------------------------


def test_the_lr_find_command_end_to_end_on_digits(tmp_path):
    out = tmp_path / "lrf"
    result = CliRunner().invoke(app, [
        "lr-find", "--task", "digits-convnet", "--opt", "sgd:momentum=0.9", "--seeds", "2",
        "--steps", "30", "--out", str(out),
    ], catch_exceptions=False, env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Learning-rate range test: sgd momentum=0.9 on digits-convnet" in text
    assert "Suggested learning rates" in text and "fastai" in text
    with Image.open(out / "lr-find.png") as image:
        assert image.size[0] > 500 and image.size[1] > 300
    with open(out / "suggestions.csv") as f:
        rows = {r["rule"]: r for r in csv.DictReader(f)}
    with open(out / "curve.csv") as f:
        curve = list(csv.DictReader(f))
    assert len(curve) == 30 and {"seed 0 raw", "seed 1 smoothed"} <= set(curve[0])
    # the command is the library: the same call gives the same suggestions
    same = descend.lr_find_task("digits-convnet", "sgd:momentum=0.9", seeds=2, steps=30)
    for rule, lr in same.suggestions.items():
        assert lr is not None and 1e-7 <= lr <= 10
        assert float(rows[rule]["lr"]) == pytest.approx(lr, rel=1e-12)
    assert "Initial weights of seed 0" in (out / "summary.md").read_text()


def test_lr_find_task_starts_from_the_weights_compare_uses():
    result = descend.lr_find_task("digits-mlp", "adam", seeds=1, steps=12, batch_size=1437)
    study = descend.compare(
        "digits-mlp", ["adam"], regimes=["full"], epochs=1, seeds=1, eval_every=1
    )
    # one batch holding all the data, before any update: the compare run's first loss
    first = study.results[0].loss[0].item()
    assert result.losses.raw[0][0] == pytest.approx(first, rel=1e-5)


# --- bad input: refused before any training ---------------------------------------------


class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.calls = nn.Linear(2, 1), 0

    def forward(self, x):
        self.calls += 1
        return self.fc(x)


GOOD = {"data": (torch.randn(8, 2), torch.randn(8, 1)), "optimizer": descend.optim.sgd()}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"start": 1.0, "end": 0.1},
            "Invalid lr range: start 1 >= end 0.1 (allowed: 0 < start < end).",
        ),
        ({"start": 0.0}, "Invalid start: 0.0 (allowed: a finite number > 0)."),
        ({"end": -1.0}, "Invalid end: -1.0 (allowed: a finite number > 0)."),
        ({"start": float("nan")}, "Invalid start: nan"),
        ({"steps": 1}, "Invalid steps: 1 (allowed: an integer >= 2)."),
        ({"mode": "expo"}, "Invalid mode: 'expo'. Did you mean 'exp'? Allowed: exp, linear."),
        ({"smooth": 1.0}, "Invalid smooth: 1.0 (allowed: a number in [0, 1); 0 for no smoothing)."),
        ({"diverge": 1.0}, "Invalid diverge: 1.0 (allowed: a finite number > 1)."),
        ({"seeds": 0}, "Invalid seeds: 0 (allowed: an integer >= 1)."),
        (
            {"seeds": [1, 1]},
            "Invalid seeds: [1, 1] (allowed: a count >= 1 or a list of distinct integers).",
        ),
        ({"batch_size": 0}, "Invalid batch_size: 0 (allowed: an integer >= 1)."),
        ({"device": "tpu"}, "Invalid device: 'tpu'"),
        ({"optimizer": "adam"}, "Invalid optimizer: 'adam' (allowed: a descend rule"),
        (
            {"optimizer": descend.optim.lbfgs()},
            "Invalid optimizer: lbfgs takes its steps by a line search",
        ),
        (
            {"optimizer": torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)},
            "it updates parameters that are not the model's",
        ),
        (
            {"data": (torch.randn(8, 2), torch.randn(7, 1))},
            "Invalid data: tensors of shapes (8, 2) and (7, 1)",
        ),
        ({"data": 3}, "Invalid data: int (allowed: tensors (x, y), a Dataset"),
    ],
)
def test_bad_input_is_refused_before_any_training(changes, message):
    model = Counting()
    settings = {**GOOD, **changes}
    data, optimizer = settings.pop("data"), settings.pop("optimizer")
    with pytest.raises(DescendError) as caught:
        descend.lr_find(model, functional.mse_loss, data, optimizer, **settings)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert model.calls == 0


def test_a_loss_that_is_not_one_number_is_refused_at_the_first_batch():
    with pytest.raises(DescendError, match=r"Invalid loss_fn: it returned \(8, 1\)"):
        descend.lr_find(Counting(), lambda out, y: (out - y) ** 2, *GOOD.values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "1", "--end", "0.1"], "Error: Invalid lr range: start 1 >= end 0.1"),
        (["--mode", "cubic"], "Error: Invalid mode: 'cubic'. Allowed: exp, linear."),
        (["--opt", "adamm"], "Error: Unknown optimizer 'adamm'. Did you mean 'adam'?"),
        (["--opt", "adam:lr=0.01"], "the range test sweeps the lr, so leave it out"),
        (
            ["--task", "digits-convnett"],
            "Error: Unknown task 'digits-convnett'. Did you mean 'digits-convnet'?",
        ),
        (["--task", "rosenbrock"], "rosenbrock is a surface with no data"),
        (
            ["--task", "quadratic-regression"],
            "Invalid task: quadratic-regression has no network to copy",
        ),
        (["--steps", "1"], "Error: Invalid steps: 1 (allowed: an integer >= 2)."),
    ],
)
def test_bad_command_lines_end_with_one_line_and_status_2(args, message, tmp_path):
    out = tmp_path / "lrf"
    command = ["lr-find", "--task", "digits-convnet", *args, "--out", str(out)]
    if args[0] == "--task":
        command = ["lr-find", *args, "--out", str(out)]
    result = CliRunner().invoke(app, command, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not out.exists()
