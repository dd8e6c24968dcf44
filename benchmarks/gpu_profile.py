"""Where a descend training step of seed 002's ConvNet spends its time on a CUDA GPU:
torch.profiler over 200 updates of one run (batch 32, Adam), the ops by their host time
and the number of kernels launched per update, against the plain loop's (nn.Module,
torch.optim.Adam, batches by index). For finding what to make faster there.

    python benchmarks/gpu_profile.py
"""

from __future__ import annotations

import time

import torch
from torch.profiler import ProfilerActivity, profile

import descend
from descend.tasks.networks import convnet


def plain_kernels_per_update(updates: int = 200) -> float:
    torch.manual_seed(0)
    model = convnet((1, 8, 8), 10).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(1437, 1, 8, 8, device="cuda"), torch.randint(0, 10, (1437,), device="cuda")
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(updates):
            batch = torch.randint(0, 1437, (32,), device="cuda")
            optimizer.zero_grad()
            loss = torch.nn.functional.nll_loss(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            loss.item()
        torch.cuda.synchronize()
    return sum(e.count for e in prof.key_averages() if e.device_type.name == "CUDA") / updates


def main() -> None:
    settings = dict(regimes=["minibatch:32:shuffle"], device="cuda", seeds=1)
    descend.compare("digits-convnet", ["adam:lr=1e-3"], updates=50, **settings)  # warm-up
    began = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        descend.compare("digits-convnet", ["adam:lr=1e-3"], updates=200, **settings)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    events = prof.key_averages()
    kernels = sum(e.count for e in events if e.device_type.name == "CUDA")
    print(f"200 updates (with the study around them) in {seconds:.2f} s under the profiler; "
          f"{kernels / 200:.0f} kernels per update")  # fmt: skip
    print(events.table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=50))
    plain = plain_kernels_per_update()
    print(f"the plain loop: {plain:.0f} kernels per update")
    print(f"ratio: {kernels / 200 / plain:.2f}x kernels per update")


if __name__ == "__main__":
    main()
