"""The engine: runs many runs in lockstep and records what happened. It writes no files."""

from descend.engine.backends import Progress, Status, check_device, run, stream
from descend.engine.regimes import Regime
from descend.engine.results import Results, RunResult
from descend.engine.runs import OptimizerSpec, RunSpec, Step, Task, TaskSpec

__all__ = [
    "OptimizerSpec",
    "Progress",
    "Regime",
    "Results",
    "RunResult",
    "RunSpec",
    "Status",
    "Step",
    "Task",
    "TaskSpec",
    "check_device",
    "run",
    "stream",
]
