"""At full scale (the benchmark's job: 10 000 Rosenbrock starts × 1 000 Adam steps in one
group), sampled runs still equal torch.optim.Adam run alone from the same start."""

from __future__ import annotations

import pytest
import torch

from descend.engine import OptimizerSpec, RunSpec, run
from descend.tasks import surfaces

pytestmark = pytest.mark.slow


def test_ten_thousand_runs_in_lockstep_equal_torch_optim_adam_alone():
    rosenbrock = surfaces.get("rosenbrock")
    g = torch.Generator().manual_seed(0)
    starts = torch.rand(10_000, 2, generator=g, dtype=torch.float64) * torch.tensor(
        [4.0, 4.0]
    ) - torch.tensor([2.0, 1.0])
    adam = OptimizerSpec("adam", {"lr": 1e-2})
    results = run([RunSpec(rosenbrock, adam, 1000, start=(float(a), float(b))) for a, b in starts])
    assert len(results) == 10_000 and not any(r.diverged for r in results)
    for k in torch.randint(0, 10_000, (5,), generator=g).tolist():
        w = torch.nn.Parameter(starts[k].clone())
        optimizer = torch.optim.Adam([w], lr=1e-2)
        for _ in range(1000):
            optimizer.zero_grad()
            rosenbrock(w).backward()
            optimizer.step()
        torch.testing.assert_close(results[k].trajectory[-1], w.detach(), rtol=1e-9, atol=1e-12)
