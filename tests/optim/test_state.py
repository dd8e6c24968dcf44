"""Interrupting a run and resuming from a saved state changes nothing, bit for bit."""

from __future__ import annotations

import io

import pytest
import torch

import descend
from optim_cases import PROBLEMS, float64, gradients

# Every rule with hyper-parameters that make every state entry non-trivial.
SETTINGS = {
    "sgd": dict(lr=0.05, momentum=0.9, nesterov=True),
    "adagrad": dict(lr=0.1, lr_decay=0.01),
    "rmsprop": dict(lr=0.002, centered=True, momentum=0.5),
    "adadelta": dict(),
    "adam": dict(lr=0.01, amsgrad=True),
    "adamw": dict(lr=0.01),
    "adamax": dict(lr=0.01),
    "nadam": dict(lr=0.01),
    "radam": dict(lr=0.01),
    "rprop": dict(lr=0.01),
    "asgd": dict(lr=0.01, t0=20),
    "ftrl": dict(lr=0.1, l1=1e-3),
    "lbfgs": dict(lr=0.5, max_iter=3),
    "adafactor": dict(lr=0.01, weight_decay=0.1),  # row_var, col_var and variance
    "muon": dict(lr=0.01),  # matrices and (bias) vectors
}


def _round_trip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def _functional_run(opt, problem, steps, interrupt_at=None):
    params = {k: v.clone() for k, v in problem.start.items()}
    state = opt.init(params)
    for step in range(steps):
        if step == interrupt_at:
            params, state = _round_trip((params, state))
        grads = None if opt.name == "lbfgs" else gradients(problem.loss, params)
        updates, state = opt.update(grads, state, params, value_fn=problem.loss)
        params = descend.optim.apply_updates(params, updates)
    return params


def _torch_run(opt, problem, steps, interrupt_at=None):
    leaves = [torch.nn.Parameter(v.clone()) for v in problem.start.values()]
    names = list(problem.start)
    optimizer = opt.to_torch(leaves)

    def closure():
        optimizer.zero_grad()
        loss = problem.loss(dict(zip(names, leaves, strict=True)))
        loss.backward()
        return loss

    for step in range(steps):
        if step == interrupt_at:
            saved = _round_trip(optimizer.state_dict())
            leaves = [torch.nn.Parameter(p.detach().clone()) for p in leaves]
            optimizer = opt.to_torch(leaves)
            optimizer.load_state_dict(saved)
        optimizer.step(closure)
    return dict(zip(names, leaves, strict=True))


def test_every_rule_is_covered():
    assert set(descend.optim.names()) == set(SETTINGS)


@pytest.mark.parametrize("run", [_functional_run, _torch_run], ids=["functional", "to_torch"])
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_resuming_from_a_saved_state_is_bit_for_bit(name, run):
    with float64():
        problem = PROBLEMS["mlp"]()
        opt = descend.optim.get(name, **SETTINGS[name])
        steps = 20 if name == "lbfgs" else 60
        uninterrupted = run(opt, problem, steps)
        resumed = run(opt, problem, steps, interrupt_at=steps // 2)
        for key, value in uninterrupted.items():
            assert torch.equal(resumed[key], value), key
        moved = any(not torch.equal(v, problem.start[k]) for k, v in uninterrupted.items())
        assert moved  # the comparison is between runs that did something
