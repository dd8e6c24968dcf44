"""The engine: runs many runs in lockstep and records what happened. It writes no files."""

from descend.engine.lockstep import run
from descend.engine.runs import OptimizerSpec, Results, RunResult, RunSpec

__all__ = ["OptimizerSpec", "Results", "RunResult", "RunSpec", "run"]
