"""Run-wise hyper-parameters: K runs stacked along a leading axis, each with its own
hyper-parameters, updated at once by `opt.stacked()`, equal the K runs updated one by
one. For the rules that mix a matrix's entries (Adafactor, Muon) a (K, n) tensor is K
vectors and a (K, m, n) tensor K matrices."""

from __future__ import annotations

import pytest
import torch

import descend
from descend.errors import HyperparameterError
from optim_cases import Comparison, float64, gradients

K = 5
STEPS = 60

# For each element-wise rule: the hyper-parameters that vary across the K runs.
RUNWISE_TABLE = {
    "sgd": dict(lr=[0.01, 0.02, 0.03, 0.05, 0.08], momentum=[0.0, 0.5, 0.8, 0.9, 0.95]),
    "adagrad": dict(lr=[0.05, 0.1, 0.2, 0.3, 0.5], lr_decay=[0.0, 0.01, 0.02, 0.05, 0.1]),
    "rmsprop": dict(lr=[0.001, 0.002, 0.005, 0.01, 0.02], alpha=[0.5, 0.9, 0.95, 0.99, 0.999]),
    "adadelta": dict(lr=[0.5, 0.8, 1.0, 1.5, 2.0], rho=[0.5, 0.8, 0.9, 0.95, 0.99]),
    "adam": dict(
        lr=[0.001, 0.003, 0.01, 0.03, 0.1],
        betas=([0.0, 0.5, 0.8, 0.9, 0.95], [0.9, 0.99, 0.999, 0.9999, 0.95]),
        weight_decay=[0.0, 0.01, 0.1, 0.0, 0.2],
    ),
    "adamw": dict(lr=[0.001, 0.003, 0.01, 0.03, 0.1], weight_decay=[0.0, 0.01, 0.1, 0.0, 0.2]),
    "adamax": dict(lr=[0.001, 0.003, 0.01, 0.03, 0.1], betas=([0.5, 0.6, 0.7, 0.8, 0.9], 0.999)),
    "nadam": dict(lr=[0.001, 0.003, 0.01, 0.03, 0.1], momentum_decay=[0.0, 1e-3, 4e-3, 1e-2, 0.1]),
    # β₂ from 0.6 to 0.999: ρ∞ from 4 to ~2000, so some runs rectify and some never do.
    "radam": dict(lr=[0.001, 0.003, 0.01, 0.03, 0.1], betas=(0.9, [0.6, 0.8, 0.9, 0.99, 0.999])),
    "rprop": dict(lr=[0.001, 0.003, 0.01, 0.03, 0.1], etas=([0.3, 0.4, 0.5, 0.6, 0.7], 1.2)),
    "asgd": dict(lr=[0.001, 0.003, 0.01, 0.03, 0.1], t0=[0, 10, 20, 30, 1e6]),
    "ftrl": dict(lr=[0.05, 0.1, 0.2, 0.5, 1.0], l1=[0.0, 0.001, 0.01, 0.1, 0.0]),
    "adafactor": dict(
        lr=[0.001, 0.003, 0.01, 0.03, 0.1],
        beta2_decay=[-0.5, -0.6, -0.8, -0.9, -1.0],
        eps=([1e-30, 1e-20, 1e-10, 1e-3, 1e-30], [1e-3, 1e-2, 1e-1, 1e-3, 1e-4]),
        d=[1.0, 1.2, 1.5, 2.0, 10.0],
        weight_decay=[0.0, 0.1, 0.0, 0.2, 0.5],
    ),
    "muon": dict(
        lr=[0.001, 0.003, 0.01, 0.03, 0.1],
        momentum=[0.0, 0.5, 0.8, 0.9, 0.95],
        weight_decay=[0.0, 0.1, 0.0, 0.2, 0.5],
    ),
}


def _stacked_problem(seed: int = 0):
    """K independent problems, one per run, in parameters of shape (K, 4), (K, 3, 2) and
    (K, 2, 5): a quadratic, and least squares in a tall and a wide matrix.

    Returns the stacked start and `loss(params, run)`: with run=None the sum over all
    runs of stacked parameters, with run=k the loss of run k alone (unstacked)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(K, 4, 4, generator=g)
    hessians = a @ a.transpose(1, 2) / 4 + 0.1 * torch.eye(4)  # (K, 4, 4)
    targets = torch.randn(K, 3, 2, generator=g)  # (K, 3, 2)
    inputs = torch.randn(K, 5, 7, generator=g)  # (K, 5, 7): W maps them to outputs
    outputs = torch.randn(K, 2, 7, generator=g)  # (K, 2, 7)
    start = {
        "w": torch.randn(K, 4, generator=g),
        "M": torch.randn(K, 3, 2, generator=g),
        "W": torch.randn(K, 2, 5, generator=g),
    }

    def loss(p, run=None):
        runs = slice(None) if run is None else run
        w, m, big_w = p["w"], p["M"], p["W"]
        quadratic = 0.5 * torch.einsum("...i,...ij,...j->...", w, hessians[runs], w)
        fit = ((m - targets[runs]) ** 2).sum(dim=(-2, -1))
        mapped = ((big_w @ inputs[runs] - outputs[runs]) ** 2).sum(dim=(-2, -1))
        return (quadratic + fit + 0.1 * mapped + w.sum(dim=-1)).sum()

    return start, loss


def _run(opt, start, loss, steps=STEPS):
    params = dict(start)
    state = opt.init(params)
    for _ in range(steps):
        updates, state = opt.update(gradients(loss, params), state, params)
        params = descend.optim.apply_updates(params, updates)
    return params, state


def _as_runwise(value):
    if isinstance(value, tuple):
        return tuple(_as_runwise(v) for v in value)
    return torch.tensor(value) if isinstance(value, list) else value


def _for_run(value, k):
    if isinstance(value, tuple):
        return tuple(_for_run(v, k) for v in value)
    return value[k] if isinstance(value, list) else value


@pytest.mark.parametrize("name", sorted(RUNWISE_TABLE))
def test_k_runs_at_once_equal_k_runs_one_by_one(name):
    with float64():
        start, loss = _stacked_problem()
        varied = RUNWISE_TABLE[name]
        runwise = {k: _as_runwise(v) for k, v in varied.items()}
        stacked = descend.optim.get(name, **runwise).stacked()
        params, state = _run(stacked, start, loss)

        comparison = Comparison(rtol=1e-12)
        for k in range(K):
            single = descend.optim.get(name, **{h: _for_run(v, k) for h, v in varied.items()})
            start_k = {key: value[k] for key, value in start.items()}
            params_k, state_k = _run(single, start_k, lambda p, k=k: loss(p, run=k))
            for key in params_k:
                comparison.check(f"run {k} {key}", params[key][k], params_k[key], name)
                for entry, value in state_k[key].items():
                    stacked_value = state[key][entry]
                    if isinstance(stacked_value, torch.Tensor) and stacked_value.ndim > 0:
                        stacked_value = stacked_value[k]
                    comparison.check(f"run {k} {key}.{entry}", stacked_value, value, name)


def test_the_runs_really_differ():
    """Guard against a vacuous equality: different run-wise lrs give different results."""
    with float64():
        start, loss = _stacked_problem()
        opt = descend.optim.adam(lr=torch.tensor([0.001, 0.003, 0.01, 0.03, 0.1]))
        params, _ = _run(opt, start, loss)
        params_same, _ = _run(descend.optim.adam(lr=0.001), start, loss)
        assert torch.allclose(params["w"][0], params_same["w"][0])
        assert not torch.allclose(params["w"][4], params_same["w"][4])


def test_every_lockstep_rule_is_in_the_runwise_table():
    lockstep = {name for name in descend.optim.names() if descend.optim.get(name).lockstep}
    assert lockstep == set(RUNWISE_TABLE)
    assert set(descend.optim.names()) - lockstep == {"lbfgs"}


def test_runwise_length_must_match_the_leading_dimension():
    """Refused when the state is made (init, or to_torch's construction), not later."""
    opt = descend.optim.sgd(lr=torch.tensor([0.1, 0.2, 0.3]))
    message = r"'lr' has 3 values.*leading \(run\) dim"
    with pytest.raises(HyperparameterError, match=message):
        opt.init({"w": torch.zeros(4, 2)})
    with pytest.raises(HyperparameterError, match=message):
        opt.to_torch([torch.nn.Parameter(torch.zeros(4, 2))])


@pytest.mark.parametrize("name", ["adafactor", "muon"])
def test_without_stacked_a_matrix_rule_takes_the_runs_as_one_matrix(name):
    """The run axis matters: unstacked, the (K, 4) tensor is one K × 4 matrix."""
    with float64():
        start, loss = _stacked_problem()
        vectors = {"w": start["w"]}  # (K, 4)

        def loss_of_w(p):
            return loss({**start, "w": p["w"]})

        opt = descend.optim.get(name)
        as_runs, _ = _run(opt.stacked(), vectors, loss_of_w, steps=5)
        as_matrix, _ = _run(opt, vectors, loss_of_w, steps=5)
        assert not torch.allclose(as_runs["w"], as_matrix["w"], rtol=1e-6)


@pytest.mark.parametrize("name", ["adafactor", "muon"])
def test_runwise_values_need_stacked(name):
    opt = descend.optim.get(name, lr=torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(HyperparameterError, match=r"'lr'.*axis 0 holds runs \(opt\.stacked\(\)\)"):
        opt.init({"w": torch.zeros(3, 2, 2)})
    opt.stacked().init({"w": torch.zeros(3, 2, 2)})  # taken: three 2 × 2 matrices
