"""The registry, the error messages, labels, and `to_torch` as a torch optimizer."""

from __future__ import annotations

import math

import pytest
import torch

import descend
from descend.errors import DescendError, HyperparameterError, UnknownNameError
from optim_cases import PROBLEMS, compare_trajectories, float64, run_adapter, run_torch

ALL_RULES = [
    "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "asgd", "ftrl", "lbfgs",
    "muon", "nadam", "radam", "rmsprop", "rprop", "sgd",
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
    ("adafactor", dict(beta2_decay=0.5), r"Invalid beta2_decay: 0\.5 \(allowed: beta2_decay <= 0\)"),
    ("adafactor", dict(eps=(None, -1.0)), r"Invalid eps\[1\]: -1\.0 \(allowed: 0 <= eps\[1\]\)"),
    ("adafactor", dict(eps=1e-3), r"Invalid eps: 0\.001 \(allowed: a pair \(eps1, eps2\)"),
    ("adafactor", dict(d=0.5), r"Invalid d: 0\.5 \(allowed: 1 <= d\)"),
    ("muon", dict(momentum=-0.1), r"Invalid momentum: -0\.1 \(allowed: 0 <= momentum\)"),
    ("muon", dict(ns_steps=100), r"Invalid ns_steps: 100 \(allowed: an integer 0 <= ns_steps < 100\)"),
    ("muon", dict(ns_coefficients=(3.4, -4.7)), r"Invalid ns_coefficients: \(3\.4, -4\.7\) \(allowed: 3 numbers"),
    ("muon", dict(eps=torch.tensor(1e-7)), r"Invalid eps: tensor\(1\.0000e-07\) \(allowed: a number >= 0\)"),
    ("muon", dict(adjust_lr_fn="rms"), r"Invalid adjust_lr_fn: 'rms' \(allowed: None, 'original', 'match_rms_adamw'\)"),
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


def test_to_torch_sgd_momentum_survives_zero_grad_without_set_to_none():
    """The first momentum buffer is a copy of the gradient, not the gradient itself:
    zeroing .grad in place must not zero the buffer (as in torch)."""

    def run(make):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1).double()
        optimizer = make(model.parameters())
        x = torch.randn(8, 3, dtype=torch.float64)
        for _ in range(5):
            optimizer.zero_grad(set_to_none=False)
            model(x).pow(2).mean().backward()
            optimizer.step()
        return [p.detach().clone() for p in model.parameters()]

    ours = run(descend.optim.sgd(lr=0.1, momentum=0.9).to_torch)
    theirs = run(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-15, atol=0)


def test_to_torch_writes_the_new_state_over_the_old():
    """No new state tensors per step (speed), while the functional API keeps old states."""
    param = torch.nn.Parameter(torch.ones(4))
    optimizer = descend.optim.adam(lr=0.1).to_torch([param])
    param.grad = torch.ones(4)
    optimizer.step()
    first = {k: v for k, v in optimizer.state[param].items() if isinstance(v, torch.Tensor)}
    optimizer.step()
    for key, tensor in first.items():
        assert optimizer.state[param][key] is tensor, key
    assert optimizer.state[param]["step"] == 2


# --- lockstep and stacked -------------------------------------------------------------


def test_lockstep_and_stacked_say_how_k_runs_share_an_update():
    for name in ALL_RULES:
        opt = descend.optim.get(name)
        assert opt.lockstep == (name != "lbfgs"), name
        if isinstance(opt, descend.optim.Matrixwise):
            assert name in {"adafactor", "muon"}
            assert opt.stacked() != opt and opt.stacked().stacked() == opt.stacked()
            assert opt.stacked().hyperparams == opt.hyperparams
            assert opt.stacked().replace(lr=0.5) == opt.replace(lr=0.5).stacked()
        elif opt.lockstep:
            assert opt.stacked() is opt  # element-wise: a run axis changes nothing
    with pytest.raises(DescendError, match="lbfgs cannot update runs stacked"):
        descend.optim.lbfgs().stacked()


@pytest.mark.parametrize(
    ("shape", "stacked"), [((2, 3, 4), False), ((3,), True), ((5, 2, 3, 4), True), ((), False)]
)
def test_muon_refuses_what_is_not_a_matrix_or_a_vector(shape, stacked):
    opt = descend.optim.muon()
    opt = opt.stacked() if stacked else opt
    message = r"muon orthogonalises matrices|a 0-d tensor has none"
    with pytest.raises(DescendError, match=message):
        opt.init({"w": torch.zeros(shape)})
    with pytest.raises(DescendError, match=message):  # at construction, as torch.optim.Muon
        opt.to_torch([torch.nn.Parameter(torch.zeros(shape))])


def test_muon_on_a_vector_steps_along_the_normalised_momentum():
    """A vector is one row: its orthogonalisation is its direction. First step from θ with
    gradient g: the update is −η·s·g/‖g‖ − η·λ·θ, s Newton–Schulz's factor (~0.7–1.2)."""
    lr, decay = 0.01, 0.1
    theta, g = torch.tensor([3.0, -1.0, 2.0]), torch.tensor([0.3, 0.4, -1.2])
    opt = descend.optim.muon(lr=lr, weight_decay=decay)
    updates, _ = opt.update({"w": g}, opt.init({"w": theta}), {"w": theta})
    step = updates["w"] + lr * decay * theta
    s = float(step.norm()) / lr
    assert 0.6 < s < 1.3, s
    torch.testing.assert_close(step / step.norm(), -g / g.norm(), rtol=0, atol=1e-2)


def test_newton_schulz_brings_every_singular_value_near_one():
    from descend.optim.muon import newton_schulz

    gen = torch.Generator().manual_seed(0)
    for shape in [(8, 5), (5, 8), (16, 16)]:
        d = torch.randn(shape, generator=gen) @ torch.diag(torch.logspace(-1, 0.5, shape[1]))
        singular_values = torch.linalg.svdvals(
            newton_schulz(d, (3.4445, -4.775, 2.0315), 5, 1e-7).float()
        )
        assert singular_values.min() > 0.5 and singular_values.max() < 1.3, singular_values


@pytest.mark.parametrize("method", ["update", "step"])
def test_an_elementwise_rule_without_gradients_says_so(method):
    opt = descend.optim.adam()
    params = {"w": torch.ones(2)}
    with pytest.raises(ValueError, match="adam needs the gradients: grads was None"):
        getattr(opt, method)(None, opt.init(params), params)


def test_step_is_update_then_apply_updates_to_rounding_and_leaves_its_inputs_alone():
    opt = descend.optim.get("rmsprop", lr=0.01, momentum=0.9, centered=True)
    params = {"w": torch.linspace(-1, 1, 5, dtype=torch.float64), "b": torch.ones(3)}
    grads = {"w": params["w"] ** 3, "b": -params["b"]}
    state = opt.init(params)
    kept = {k: v.clone() for k, v in params.items()}
    new, new_state = opt.step(grads, state, params)
    updates, update_state = opt.update(grads, opt.init(params), params)
    for key in params:
        torch.testing.assert_close(new[key], params[key] + updates[key], rtol=1e-14, atol=1e-15)
        assert torch.equal(params[key], kept[key])  # the caller's tensors are left alone
        torch.testing.assert_close(new_state[key]["square_avg"], update_state[key]["square_avg"])
    assert all(float(v.abs().max()) == 0 for v in state["w"].values() if torch.is_tensor(v))
