"""Networks as tasks: the stacked forward is the nn.Module's arithmetic, runs start from
the module's own initialisation under their seed, dropout is per run and per update, and
K runs in lockstep equal K runs alone."""

from __future__ import annotations

import pytest
import torch

from descend.engine import OptimizerSpec, Regime, RunSpec, Step, TaskSpec, run
from descend.engine.lockstep import group_runs, run_group
from descend.errors import DescendError, UnknownNameError
from descend.tasks import networks, stacked


def _stacked_params(modules):
    names = [n for n, _ in modules[0].named_parameters()]
    return {
        n: torch.stack([dict(m.named_parameters())[n].detach() for m in modules]) for n in names
    }


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 10, 12)])
def test_the_stacked_convnet_is_the_module_without_dropout(shape):
    torch.manual_seed(0)
    modules = [networks.convnet(shape, 10).double().eval() for _ in range(3)]
    x = torch.randn(3, 5, *shape, dtype=torch.float64)  # each run its own inputs
    out = stacked.convnet(shape)(_stacked_params(modules), x, None)  # (3, 5, 10)
    for k, module in enumerate(modules):
        torch.testing.assert_close(out[k], module(x[k]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_stacked_convnets_gradients_are_the_modules_even_where_the_pool_ties(dtype):
    """The stacked forward pools before its ReLU (max commutes with ReLU) and, on the CPU,
    pools channels-last: the same gradients as the module's ReLU-then-pool, also on images
    with a flat background (as MNIST's), where pooling windows tie."""
    torch.manual_seed(2)
    modules = [networks.convnet((1, 12, 12), 10).to(dtype) for _ in range(2)]
    x = torch.zeros(2, 6, 1, 12, 12, dtype=dtype)
    x[..., 3:8, 4:9] = torch.rand(2, 6, 1, 5, 5, dtype=dtype)  # a stroke on a flat background
    y = torch.randint(0, 10, (2, 6))
    params = {k: v.requires_grad_() for k, v in _stacked_params(modules).items()}
    log_p = stacked.convnet((1, 12, 12))(params, x, None)
    loss = -log_p.gather(2, y[..., None]).sum()
    grads = torch.autograd.grad(loss, list(params.values()))
    for k, module in enumerate(modules):
        module.eval()
        module_loss = torch.nn.functional.nll_loss(module(x[k]), y[k], reduction="sum")
        module_grads = torch.autograd.grad(module_loss, list(module.parameters()))
        for name, stacked_grad, module_grad in zip(params, grads, module_grads, strict=True):
            tolerance = 1e-12 if dtype == torch.float64 else 1e-5
            torch.testing.assert_close(
                stacked_grad[k], module_grad, rtol=tolerance, atol=tolerance, msg=name
            )


def test_the_stacked_convnet_applies_the_masks_where_the_module_drops():
    """With masks that keep everything the stacked forward is the eval-mode module; with a
    mask that drops one flattened feature, it equals the module whose fc1 ignores it."""
    torch.manual_seed(1)
    module = networks.convnet((1, 8, 8), 10).double().eval()
    params = _stacked_params([module])
    x = torch.randn(1, 4, 1, 8, 8, dtype=torch.float64)
    forward = stacked.convnet((1, 8, 8))
    ones = [torch.ones(1, 4, f, dtype=torch.float64) for f in forward.dropout_features]
    torch.testing.assert_close(forward(params, x, ones), forward(params, x, None))
    dropped = [m.clone() for m in ones]
    dropped[0][..., 7] = 0.0
    with torch.no_grad():
        module.fc1.weight[:, 7] = 0.0
    torch.testing.assert_close(forward(params, x, dropped)[0], module(x[0]), rtol=1e-12, atol=1e-12)


def test_the_stacked_mlp_is_the_module():
    torch.manual_seed(2)
    modules = [networks.mlp((1, 8, 8), (32, 16), 10).double() for _ in range(2)]
    x = torch.randn(2, 6, 1, 8, 8, dtype=torch.float64)
    out = stacked.mlp(2)(_stacked_params(modules), x, None)
    for k, module in enumerate(modules):
        torch.testing.assert_close(out[k], module(x[k]), rtol=1e-12, atol=1e-12)


def _spec(seed=0, rule="adam", task="digits-convnet", **hyper):
    return RunSpec(
        TaskSpec(task), OptimizerSpec(rule, hyper or {"lr": 1e-3}), updates=12,
        regime=Regime.parse("minibatch:16:shuffle"), seed=seed, dtype="float64",
    )  # fmt: skip


def test_runs_start_from_the_modules_own_initialisation_under_their_seed():
    spec = _spec(seed=3)
    torch.manual_seed(spec.stream("init"))
    module = networks.convnet((1, 8, 8), 10)
    start = spec.built_task.initial_params(spec, torch.Generator())
    assert list(start) == [n for n, _ in module.named_parameters()]
    for name, value in module.named_parameters():
        assert torch.equal(start[name], value.detach())
    other = _spec(seed=4).built_task.initial_params(_spec(seed=4), torch.Generator())
    assert not torch.equal(other["conv1.weight"], start["conv1.weight"])


def test_the_callers_random_state_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _spec().built_task.initial_params(_spec(), torch.Generator())
    assert torch.equal(torch.rand(3), expected)


def test_dropout_masks_are_a_runs_own_whatever_its_group():
    task = _spec().built_task
    params = {
        k: v[None].double() for k, v in task.initial_params(_spec(), torch.Generator()).items()
    }
    x = task.data.train_x[:8].double()
    alone = task._masks(Step(5, (11,)), torch.Size([1, 8]), x.device, torch.float64)
    grouped = task._masks(Step(5, (99, 11, 7)), torch.Size([3, 8]), x.device, torch.float64)
    later = task._masks(Step(6, (11,)), torch.Size([1, 8]), x.device, torch.float64)
    for a, g, n in zip(alone, grouped, later, strict=True):
        assert torch.equal(a[0], g[1]) and not torch.equal(a[0], n[0])
        keep = (a[0] > 0).double().mean()
        assert 0.6 < float(keep) < 0.98  # p = 0.10 and 0.25: most units kept
    del params


def test_runs_in_lockstep_equal_runs_alone_with_dropout():
    """Stacked as one group (as on a GPU; on the CPU the engine runs ConvNets one by one,
    see Classification.stacks_on) they equal each run alone."""
    specs = [_spec(0), _spec(1, lr=3e-3), _spec(2, lr=1e-2)]
    together = run_group(specs)
    for spec, result in zip(specs, together, strict=True):
        alone = run([spec])[0]
        torch.testing.assert_close(result.loss, alone.loss, rtol=1e-10, atol=1e-12)
        for name, value in result.final_params.items():
            torch.testing.assert_close(value, alone.final_params[name], rtol=1e-10, atol=1e-12)
        for name in ("test_loss", "test_accuracy", "train_loss"):
            torch.testing.assert_close(result.evaluations[name], alone.evaluations[name])


def test_training_the_digits_mlp_learns_and_the_evaluation_adds_up():
    spec = RunSpec(
        TaskSpec("digits-mlp"), OptimizerSpec("adam", {"lr": 1e-2}), epochs=5,
        regime=Regime.parse("minibatch:32:shuffle"), seed=0,
    )  # fmt: skip
    result = run([spec])[0]
    accuracy = result.evaluations["test_accuracy"]
    assert accuracy[0] < 0.3 and accuracy[-1] > 0.9  # from chance to most of the digits
    assert result.evaluated_at.tolist() == [0, 45, 90, 135, 180, 225]  # 1437 / 32 → 45
    task = spec.built_task.on(torch.device("cpu"), torch.float64)
    params = {k: v[None] for k, v in result.final_params.items()}
    log_p = task.forward(params, task.data.test_x[None], None)[0]
    nll = -log_p.gather(1, task.data.test_y[:, None]).sum() / len(task.data.test_y)
    assert float(result.evaluations["test_loss"][-1]) == pytest.approx(float(nll), rel=1e-6)


@pytest.mark.parametrize(
    ("task", "error", "message"),
    [
        (TaskSpec("digits-convnet", {"train_eval": 0}), DescendError, r"Invalid train_eval: 0"),
        (TaskSpec("convnet", {"dataset": "cifar"}), UnknownNameError, r"Unknown dataset 'cifar'"),
        (TaskSpec("mlp", {"widths": (0,)}), DescendError, r"Invalid widths: 0"),
        (TaskSpec("digits-cnn"), UnknownNameError, r"Unknown task 'digits-cnn'"),
    ],
)
def test_bad_tasks_are_refused(task, error, message):
    with pytest.raises(error, match=message):
        if task.name == "digits-cnn":
            from descend.experiments import vocabulary

            vocabulary.task(task.name)
        else:
            task.build()


def test_convnets_run_one_by_one_on_the_cpu_and_mlps_together():
    convnets = [_spec(0), _spec(1)]
    mlps = [_spec(0, task="digits-mlp"), _spec(1, task="digits-mlp")]
    assert group_runs(convnets, "cpu") == [[0], [1]]
    assert group_runs(mlps, "cpu") == [[0, 1]]
    assert group_runs(convnets, "cuda") == [[0, 1]]  # (grouping alone needs no GPU)


def test_the_digits_mlp_trains_as_the_plain_pytorch_loop_does():
    """The same network, initial weights, batches and rule, written the usual way (an
    nn.Sequential, a DataLoader, torch.optim.Adam): the same weights and test accuracy."""
    spec = RunSpec(
        TaskSpec("digits-mlp"), OptimizerSpec("adam", {"lr": 1e-2}), epochs=3,
        regime=Regime.parse("minibatch:32:shuffle"), seed=5, dtype="float64",
    )  # fmt: skip
    result = run([spec])[0]
    data = spec.built_task.data
    torch.manual_seed(spec.stream("init"))
    model = spec.built_task.make_network().double()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    order = torch.Generator().manual_seed(spec.stream("data"))
    for _ in range(3):
        for batch in torch.randperm(len(data.train_y), generator=order).split(32):
            optimizer.zero_grad()
            log_p = model(data.train_x[batch].double())
            torch.nn.functional.nll_loss(log_p, data.train_y[batch]).backward()
            optimizer.step()
    for name, value in model.named_parameters():
        torch.testing.assert_close(result.final_params[name], value.detach(), rtol=1e-9, atol=1e-10)
    accuracy = (model(data.test_x.double()).argmax(1) == data.test_y).double().mean()
    assert float(result.evaluations["test_accuracy"][-1]) == float(accuracy) > 0.85


def test_the_digits_convnet_trains_as_the_plain_pytorch_loop_does():
    """Seed 002's nn.Module, torch.optim.Adam and the same batches, with the same dropout
    masks fed to its two dropout layers: the same weights and test accuracy after an
    epoch (descend's forward runs channels-last and pools before its ReLU on the CPU)."""
    spec = RunSpec(
        TaskSpec("digits-convnet"), OptimizerSpec("adam", {"lr": 1e-3}), epochs=1,
        regime=Regime.parse("minibatch:32:shuffle"), seed=3, dtype="float64",
    )  # fmt: skip
    result = run([spec])[0]
    task = spec.built_task.on(torch.device("cpu"), torch.float64)
    torch.manual_seed(spec.stream("init"))
    model = task.make_network().double()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    masks: list[torch.Tensor] = []
    model.dropout1 = _GivenMask(masks, 0)
    model.dropout2 = _GivenMask(masks, 1)
    order = torch.Generator().manual_seed(spec.stream("data"))
    data = task.data
    for t, batch in enumerate(torch.randperm(len(data.train_y), generator=order).split(32)):
        step = Step(t, (spec.stream("dropout"),))
        masks[:] = task._masks(step, (1, len(batch)), "cpu", torch.float64)
        optimizer.zero_grad()
        torch.nn.functional.nll_loss(model(data.train_x[batch]), data.train_y[batch]).backward()
        optimizer.step()
    for name, value in model.named_parameters():
        torch.testing.assert_close(result.final_params[name], value.detach(), rtol=1e-9, atol=1e-10)
    model.eval()
    accuracy = (model(data.test_x).argmax(1) == data.test_y).double().mean()
    assert float(result.evaluations["test_accuracy"][-1]) == float(accuracy) > 0.5


class _GivenMask(torch.nn.Module):
    """A dropout layer that multiplies by the mask it is given (already scaled)."""

    def __init__(self, masks: list[torch.Tensor], layer: int):
        super().__init__()
        self.masks, self.layer = masks, layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x.flatten(1) * self.masks[self.layer][0]
