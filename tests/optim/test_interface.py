"""The registry, the error messages, labels, and `to_torch` as a torch optimizer."""

from __future__ import annotations

import math

import pytest
import torch

import descend
from descend.errors import HyperparameterError, UnknownNameError
from optim_cases import PROBLEMS, compare_trajectories, float64, run_adapter, run_torch

ALL_RULES = [
    "adadelta", "adagrad", "adam", "adamax", "adamw", "asgd", "ftrl", "lbfgs", "nadam",
    "radam", "rmsprop", "rprop", "sgd",
]  # fmt: skip


def test_names_lists_every_rule():
    assert descend.optim.names() == ALL_RULES


def test_get_and_the_factory_give_the_same_rule():
    assert repr(descend.optim.get("adam", lr=0.1)) == repr(descend.optim.adam(lr=0.1))


def test_unknown_rule_lists_the_known_names():
    with pytest.raises(UnknownNameError) as error:
        descend.optim.get("adamm")
    message = str(error.value)
    assert "Unknown optimizer 'adamm'. Did you mean 'adam'?" in message
    assert "Known optimizers: " + ", ".join(ALL_RULES) in message


@pytest.mark.parametrize(
    "call", [lambda: descend.optim.get("adam", lrr=0.1), lambda: descend.optim.adam(lrr=0.1)]
)
def test_unknown_hyperparameter_names_it_and_lists_the_allowed(call):
    with pytest.raises(
        HyperparameterError,
        match=r"Optimizer 'adam' has no hyper-parameter 'lrr'\. Did you mean 'lr'\? Allowed: lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay\.",
    ):
        call()


BAD_INPUT = [
    ("sgd", dict(lr=-1.0), r"Invalid learning rate lr=-1\.0 \(allowed: a finite number >= 0"),
    ("adam", dict(lr=math.nan), r"Invalid learning rate lr=nan \(allowed: a finite number >= 0"),
    ("adam", dict(lr=torch.tensor([0.1, -0.1])), r"Invalid learning rate lr=tensor"),
    ("sgd", dict(lr=lambda step: -0.1), r"Invalid learning rate lr=-0\.1"),
    ("adam", dict(betas=(1.0, 0.999)), r"Invalid betas\[0\]: 1\.0 \(allowed: 0 <= betas\[0\] < 1\)"),
    ("adamw", dict(betas=(0.9, -0.1)), r"Invalid betas\[1\]: -0\.1 \(allowed: 0 <= betas\[1\] < 1\)"),
    ("nadam", dict(betas=(0.9,)), r"Invalid betas: \(0\.9,\) \(allowed: a pair"),
    ("sgd", dict(momentum=-0.5), r"Invalid momentum: -0\.5 \(allowed: 0 <= momentum\)"),
    ("rmsprop", dict(momentum=-0.5), r"Invalid momentum: -0\.5 \(allowed: 0 <= momentum\)"),
    ("sgd", dict(lr=0.1, nesterov=True), r"Invalid nesterov=True with momentum=0\.0, dampening=0\.0 \(allowed: nesterov needs momentum > 0 and dampening = 0\)"),
    ("sgd", dict(momentum=0.9, dampening=0.1, nesterov=True), r"nesterov needs momentum > 0 and dampening = 0"),
    ("adadelta", dict(rho=1.5), r"Invalid rho: 1\.5 \(allowed: 0 <= rho <= 1\)"),
    ("rmsprop", dict(alpha=-0.1), r"Invalid alpha: -0\.1 \(allowed: 0 <= alpha <= 1\)"),
    ("adam", dict(eps=0.0), r"Invalid eps: 0\.0 \(allowed: 0 < eps\)"),
    ("adagrad", dict(eps=-1e-10), r"Invalid eps: -1e-10 \(allowed: 0 < eps\)"),
    ("rmsprop", dict(eps=torch.tensor([1e-8, 0.0])), r"Invalid eps: 0\.0 \(allowed: 0 < eps\)"),
    ("adam", dict(weight_decay=-0.01), r"Invalid weight_decay: -0\.01 \(allowed: 0 <= weight_decay\)"),
    ("adam", dict(amsgrad="yes"), r"Invalid amsgrad: 'yes' \(allowed: True or False\)"),
    ("sgd", dict(momentum_form="polyak"), r"Invalid momentum_form: 'polyak' \(allowed: 'torch', 'classical'\)"),
    ("rprop", dict(etas=(1.5, 1.2)), r"Invalid etas\[0\]: 1\.5 \(allowed: 0 < etas\[0\] < 1\)"),
    ("ftrl", dict(learning_rate_power=0.5), r"Invalid learning_rate_power: 0\.5 \(allowed: learning_rate_power <= 0\)"),
    ("ftrl", dict(l1=-1.0), r"Invalid l1: -1\.0 \(allowed: 0 <= l1\)"),
    ("adam", dict(eps="small"), r"Invalid eps: 'small' must be a number, got str; allowed: 0 < eps\."),
    ("adam", dict(lr=torch.ones(2, 2)), r"Invalid learning rate"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "hyperparams", "message"), BAD_INPUT)
def test_bad_hyperparameters_are_refused_with_a_clear_message(name, hyperparams, message):
    with pytest.raises(HyperparameterError, match=message):
        descend.optim.get(name, **hyperparams)


def test_label_shows_only_what_differs_from_the_defaults():
    assert descend.optim.sgd(lr=0.1, momentum=0.9).label == "sgd lr=0.1 momentum=0.9"
    assert descend.optim.adam().label == "adam"
    assert descend.optim.adam(betas=(0.5, 0.999)).label == "adam betas=(0.5, 0.999)"


def test_replace_changes_and_validates():
    opt = descend.optim.sgd(lr=0.1, momentum=0.9)
    assert opt.replace(lr=0.2).hyperparams["lr"] == 0.2
    assert opt.replace(lr=0.2).hyperparams["momentum"] == 0.9
    with pytest.raises(HyperparameterError, match="momentum"):
        opt.replace(momentum=-1.0)


def test_a_parameter_without_gradient_is_left_alone():
    opt = descend.optim.adam(lr=0.1)
    params = {"a": torch.ones(2), "b": torch.ones(2)}
    state = opt.init(params)
    updates, new_state = opt.update({"a": torch.ones(2)}, state, params)
    assert set(updates) == {"a"}
    assert new_state["b"] is state["b"]
    assert torch.equal(descend.optim.apply_updates(params, updates)["b"], params["b"])


def test_update_returns_new_state_and_leaves_the_old_one_intact():
    opt = descend.optim.adam(lr=0.1)
    params = {"w": torch.ones(3)}
    state = opt.init(params)
    _, new_state = opt.update({"w": torch.ones(3)}, state, params)
    assert state["w"]["step"] == 0 and torch.equal(state["w"]["exp_avg"], torch.zeros(3))
    assert new_state["w"]["step"] == 1 and not torch.equal(
        new_state["w"]["exp_avg"], torch.zeros(3)
    )


# --- to_torch -----------------------------------------------------------------------


def test_to_torch_is_a_torch_optimizer_with_param_groups():
    model = torch.nn.Linear(3, 2)
    optimizer = descend.optim.adam(lr=0.1).to_torch(
        [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.01}]
    )
    assert isinstance(optimizer, torch.optim.Optimizer)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.01]
    model(torch.ones(4, 3)).sum().backward()
    bias_before = model.bias.detach().clone()
    optimizer.step()
    # Adam's first step moves each coordinate by lr (up to ε): the group lr is used.
    torch.testing.assert_close((model.bias - bias_before).abs(), torch.full((2,), 0.01))
    optimizer.zero_grad()
    assert model.weight.grad is None


def test_to_torch_validates_a_group_override():
    with pytest.raises(HyperparameterError, match="Invalid betas"):
        descend.optim.adam().to_torch(
            [{"params": [torch.nn.Parameter(torch.ones(1))], "betas": (2.0, 0.9)}]
        )


def test_to_torch_follows_a_torch_lr_scheduler_exactly():
    with float64():
        problem = PROBLEMS["mlp"]()

        def schedule(optimizer):
            return torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)

        expected = run_torch(torch.optim.Adam, dict(lr=0.02), problem, 60, schedule)
        ours = run_adapter(descend.optim.adam(lr=0.02), problem, 60, schedule)
        compare_trajectories(ours, expected)
