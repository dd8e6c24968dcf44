"""Groups spread over the CPU's cores: one worker process per core, one thread each.

A ConvNet step at batch 32 does not split well over two threads (measured on this
project's 2-core machine: 12.5 ms a step on one thread, 7.7 ms on two; two one-thread
processes side by side: 12.5 ms each, 1.5× the throughput of one two-thread process).
Independent runs are the better unit of parallel work: each worker takes a whole group,
on one thread, and sends its results back as soon as it finishes; the caller streams
them as they come.

Specs travel as plain data (the built task, with its data set, stays behind: each worker
builds its own, once). Progress comes back through a queue, a few times a second.
"""

from __future__ import annotations

import multiprocessing
import queue as queues
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

from descend.engine.results import RunResult
from descend.engine.runs import RunSpec

Report = Callable[[int, int, int, float | None], None]  # (group, updates done, epoch, loss)
_QUEUE: Any = None  # a worker's progress queue


def _start_worker(progress_queue: Any) -> None:
    torch.set_num_threads(1)  # the worker's own core; before descend reads the default
    global _QUEUE
    _QUEUE = progress_queue


def _run_in_worker(group_id: int, specs: list[RunSpec], device: str) -> list[RunResult]:
    from descend.engine.lockstep import run_group

    last = [0.0]

    def on_step(t: int, epoch: int, loss: torch.Tensor) -> None:
        now = time.perf_counter()
        if now - last[0] >= 0.25 and _QUEUE is not None:
            last[0] = now
            finite = loss[torch.isfinite(loss)]
            value = float(finite.mean()) if len(finite) and not loss.is_cuda else None
            _QUEUE.put((group_id, t, epoch, value))

    return run_group(specs, device=device, on_step=on_step)


def stream_in_processes(
    groups: Sequence[list[int]],
    specs: Sequence[RunSpec],
    device: str,
    workers: int,
    report: Report | None,
) -> Iterator[tuple[list[int], list[RunResult]]]:
    """Run each group in a worker; yield (indices, results) as groups finish."""
    context = multiprocessing.get_context("spawn")  # fork and OpenMP do not mix
    progress_queue = context.Queue()
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(progress_queue,)
    ) as pool:
        pending: dict[Future, int] = {
            pool.submit(_run_in_worker, g, [specs[i] for i in indices], device): g
            for g, indices in enumerate(groups)
        }
        try:
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress_queue, report)
                for future in done:
                    g = pending.pop(future)
                    try:
                        results = future.result()  # a worker's exception is raised here
                    except BrokenProcessPool:
                        # workers could not start (a __main__ spawn cannot import, such
                        # as a script read from stdin): the rest runs here, as without
                        pending[future] = g
                        break
                    for spec_index, result in zip(groups[g], results, strict=True):
                        result.spec = specs[spec_index]  # the caller's own spec object
                    yield groups[g], results
                else:
                    continue
                break
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    if pending:
        warnings.warn(
            "descend: worker processes could not start; running the remaining groups in "
            "this process.",
            RuntimeWarning,
            stacklevel=2,
        )
        from descend.engine.lockstep import run_group

        for g in sorted(pending.values()):
            yield groups[g], run_group([specs[i] for i in groups[g]], device=device)


def _drain(progress_queue: Any, report: Report | None) -> None:
    while True:
        try:
            message = progress_queue.get_nowait()
        except queues.Empty:
            return
        if report is not None:
            report(*message)
