"""The adapter's shortcut: one Hyper per step serves every tensor of a group whose
hyper-parameters hold no tensor; a tensor-valued one is fitted to each parameter."""

from __future__ import annotations

import torch

import descend
from descend.optim.hyper import shareable


def _pair(dtype_a, dtype_b):
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(5, dtype=dtype_a))
    b = torch.nn.Parameter(torch.randn(3, 2, dtype=dtype_b))
    return a, b


def _steps(optimizer, params, n=5):
    for k in range(n):
        for p in params:
            p.grad = torch.full_like(p, 0.1 * (k + 1)) + p.detach() ** 2
        optimizer.step()
    return [p.detach().clone() for p in params]


def test_shareable_means_no_tensor_anywhere():
    assert shareable({"lr": 0.1, "betas": (0.9, 0.999), "amsgrad": False})
    assert not shareable({"lr": torch.tensor(0.1)})
    assert not shareable({"lr": 0.1, "betas": (torch.tensor(0.9), 0.999)})
    # a schedule's value may be K lrs, fitted to each tensor (run-wise schedules)
    assert not shareable({"lr": descend.schedules.cosine(lr=0.1, T_max=10)})


def test_one_group_of_two_dtypes_matches_torch_with_and_without_sharing():
    for lr in (0.05, torch.tensor(0.05, dtype=torch.float64)):  # shared, then fitted
        ours_params = _pair(torch.float32, torch.float64)
        theirs_params = [torch.nn.Parameter(p.detach().clone()) for p in ours_params]
        ours = descend.optim.get("adam", lr=lr, betas=(0.8, 0.99)).to_torch(ours_params)
        theirs = torch.optim.Adam(theirs_params, lr=0.05, betas=(0.8, 0.99))
        after = zip(_steps(ours, ours_params), _steps(theirs, theirs_params), strict=True)
        for mine, torchs in after:
            assert mine.dtype == torchs.dtype
            torch.testing.assert_close(mine, torchs, rtol=1e-6, atol=1e-7)
