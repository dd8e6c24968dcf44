"""Threads on the CPU: small tensors run faster on one.

An element-wise op on a few thousand numbers is microseconds of work; splitting it over
torch's intra-op threads costs more than it saves, and milliseconds when the other core is
busy (the OpenMP workers spin, waiting for it: the formula tests took 3 min 42 s on two
threads beside another process, 33 s on one). Code that runs many small ops in a row
(finding a formula's minima, the engine's small groups) runs them under `one_thread()`.
A value a user set with `torch.set_num_threads` before descend ran is never changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

DEFAULT_THREADS = torch.get_num_threads()  # torch's default, read when descend is imported


def user_chose_threads() -> bool:
    """Whether the thread count is not torch's default (someone chose it: leave it)."""
    return torch.get_num_threads() != DEFAULT_THREADS


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one intra-op thread, unless the user chose the count."""
    if user_chose_threads() or DEFAULT_THREADS == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(DEFAULT_THREADS)
