"""descend on a CUDA GPU: the rules against torch.optim there, networks in lockstep there
against one by one, a study end to end. Skipped where torch sees no GPU (CI, most
machines); run on a lent GPU with `python -m pytest tests/test_cuda.py`."""

from __future__ import annotations

import pytest
import torch

import descend
from descend.engine import OptimizerSpec, Regime, RunSpec, TaskSpec, run
from descend.engine.lockstep import group_runs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")

# descend's rules with a torch.optim twin of the same name and defaults
TWINS = {
    "sgd": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "adagrad": (torch.optim.Adagrad, {"lr": 0.05}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5}),
    "adadelta": (torch.optim.Adadelta, {"lr": 0.5}),
    "adam": (torch.optim.Adam, {"lr": 0.01, "amsgrad": True}),
    "adamw": (torch.optim.AdamW, {"lr": 0.01}),
    "adamax": (torch.optim.Adamax, {"lr": 0.01}),
    "nadam": (torch.optim.NAdam, {"lr": 0.01}),
    "radam": (torch.optim.RAdam, {"lr": 0.01}),
    "rprop": (torch.optim.Rprop, {"lr": 0.01}),
}


def _problem(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(64, 16, generator=generator, dtype=torch.float64)
    b = torch.randn(64, generator=generator, dtype=torch.float64)
    return a.to(device), b.to(device)


def _torch_trajectory(make, settings, device: str, steps: int) -> torch.Tensor:
    a, b = _problem(device)
    w = torch.zeros(16, dtype=torch.float64, device=device, requires_grad=True)
    optimizer = make([w], **settings)
    for _ in range(steps):
        optimizer.zero_grad()
        ((a @ w - b) ** 2).mean().backward()
        optimizer.step()
    return w.detach()


def _descend_trajectory(rule: str, settings, device: str, steps: int) -> torch.Tensor:
    a, b = _problem(device)
    optimizer = descend.optim.get(rule, **settings)
    params = {"w": torch.zeros(16, dtype=torch.float64, device=device)}
    state = optimizer.init(params)
    for _ in range(steps):
        w = params["w"].detach().requires_grad_()
        (grad,) = torch.autograd.grad(((a @ w - b) ** 2).mean(), [w])
        updates, state = optimizer.update({"w": grad}, state, params)
        params = descend.optim.apply_updates({"w": w.detach()}, updates)
    return params["w"]


@pytest.mark.parametrize("rule", sorted(TWINS))
def test_every_rule_on_cuda_is_torchs_on_cuda(rule: str) -> None:
    make, settings = TWINS[rule]
    ours = _descend_trajectory(rule, settings, "cuda", 60)
    theirs = _torch_trajectory(make, settings, "cuda", 60)
    assert ours.device.type == "cuda"
    # (torch keeps NAdam's product of momentum factors in float32: 7e-10 apart on the CPU too)
    rtol = 1e-8 if rule == "nadam" else 1e-10
    torch.testing.assert_close(ours, theirs, rtol=rtol, atol=1e-12)
    # and the GPU's result is the CPU's, to float64 rounding
    torch.testing.assert_close(ours.cpu(), _descend_trajectory(rule, settings, "cpu", 60))


def _convnet(seed: int, rule: str = "adam") -> RunSpec:
    return RunSpec(
        TaskSpec("digits-convnet"), OptimizerSpec(rule, {"lr": 1e-3}), updates=30,
        regime=Regime.parse("minibatch:16:shuffle"), seed=seed, dtype="float64",
    )  # fmt: skip


def test_convnets_in_lockstep_on_cuda_equal_each_run_alone() -> None:
    specs = [_convnet(seed) for seed in range(4)]
    assert group_runs(specs, "cuda") == [[0, 1, 2, 3]]  # one stacked computation
    together = run(specs, device="cuda")
    for spec, joint in zip(specs, together, strict=True):
        [alone] = run([spec], device="cuda")
        assert joint.device.startswith("cuda") and joint.group_size == 4
        torch.testing.assert_close(joint.loss, alone.loss, rtol=1e-9, atol=1e-12)
        for name, value in alone.final_params.items():
            torch.testing.assert_close(joint.final_params[name], value, rtol=1e-9, atol=1e-12)


def test_a_convnet_on_cuda_starts_as_on_the_cpu_and_repeats_itself() -> None:
    """The same initial weights and test metrics as on the CPU; the training differs
    because dropout masks come from the device's own generator (CUDA's stream is not the
    CPU's, as in torch), but a seed gives the same masks at every run on the GPU."""
    [gpu] = run([_convnet(3)], device="cuda")
    [again] = run([_convnet(3)], device="cuda")
    [cpu] = run([_convnet(3)], device="cpu")
    assert gpu.loss.device.type == "cpu"  # records come back to the host
    for name, value in cpu.initial_params.items():
        torch.testing.assert_close(gpu.initial_params[name], value, rtol=0, atol=0)
    for metric in ("test_loss", "test_accuracy", "train_loss"):
        torch.testing.assert_close(
            gpu.evaluations[metric][0], cpu.evaluations[metric][0], rtol=1e-10, atol=1e-12
        )
    torch.testing.assert_close(
        gpu.loss, again.loss, rtol=1e-9, atol=0
    )  # (cuDNN may sum in any order)
    assert float(gpu.evaluations["train_loss"][-1]) < float(gpu.evaluations["train_loss"][0])


def test_a_study_and_a_range_test_run_on_cuda() -> None:
    study = descend.compare(
        "digits-mlp", ["adam:lr=1e-2", "sgd:lr=cosine(lr=0.1,T_max=3),momentum=0.9"],
        epochs=3, seeds=2, device="cuda", schedule_unit="epoch",
    )  # fmt: skip
    for result in study.results:
        assert result.device.startswith("cuda")
        assert float(result.evaluations["test_accuracy"][-1]) > 0.8
    result = descend.lr_find_task("digits-mlp", "adam", seeds=1, steps=30, device="cuda")
    assert result.suggestion is not None
