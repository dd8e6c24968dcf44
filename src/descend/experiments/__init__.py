"""Experiments as data (TOML files), the shipped recipes, and short call specs."""

from descend.experiments.calls import parse_call
from descend.experiments.spec import Experiment, ExperimentError, load, recipes

__all__ = ["Experiment", "ExperimentError", "load", "parse_call", "recipes"]
