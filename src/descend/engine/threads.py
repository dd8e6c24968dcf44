"""How many threads a group's updates run on (CPU only), chosen by timing them.

Small tensors are faster on one thread: an element-wise op on (10 000, 2) is ~10 µs of
work, and handing half of it to another core costs more than it saves, milliseconds when
that core is busy with another process (measured: the same surface group took 1.7 s on
one thread and 4–8 s on torch's two while another process used a core; a regression
step of 256 runs went from 10 ms to 0.2 ms). Large ones (a ConvNet's convolutions) gain
from every core. Which side a group is on depends on the task, the batch and the load of
the moment, so the engine measures: it times two of the group's own updates on torch's
threads and two on one thread, after one to warm up, and keeps the faster for the rest
of the group. These are real updates (nothing is computed twice); the results are the
same either way.

A user's own choice wins: if `torch.set_num_threads` was called with a value other than
torch's default before descend ran, descend never changes it. Groups too short to be
worth measuring (< 20 updates) run on one thread when their runs are small (at most
4 096 numbers per run in all), and on torch's threads otherwise.
"""

from __future__ import annotations

import time

import torch

from descend.cpu import DEFAULT_THREADS, user_chose_threads

TRIAL = (2, 3, 4, 5)  # updates timed: 2 and 3 on torch's threads, 4 and 5 on one
MIN_STEPS = 20


class ThreadChoice:
    """Call `start(t)` before update t and `stop(t)` after it; `close()` at the end."""

    def __init__(self, device: torch.device, steps: int, numbers_per_run: int):
        self.original = torch.get_num_threads()
        self.many = self.original
        self.active = device.type == "cpu" and DEFAULT_THREADS > 1 and not user_chose_threads()
        self.timed: dict[int, float] = {}
        self.began = 0.0
        if self.active and steps < MIN_STEPS:
            self.active = False
            if numbers_per_run <= 4096:
                torch.set_num_threads(1)

    def start(self, t: int) -> None:
        if self.active and t in TRIAL:
            torch.set_num_threads(self.many if t < TRIAL[2] else 1)
            self.began = time.perf_counter()

    def stop(self, t: int) -> None:
        if not self.active or t not in TRIAL:
            return
        self.timed[t] = time.perf_counter() - self.began
        if t == TRIAL[-1]:
            many = min(self.timed[TRIAL[0]], self.timed[TRIAL[1]])
            one = min(self.timed[TRIAL[2]], self.timed[TRIAL[3]])
            torch.set_num_threads(1 if one <= many else self.many)
            self.active = False

    @property
    def chosen(self) -> int:
        return torch.get_num_threads()

    def close(self) -> None:
        torch.set_num_threads(self.original)
