"""Experiments: the words of a study (vocabulary), TOML files and recipes (files), and
the run specs a study's settings give (plans). Nothing here runs."""

from descend.experiments.calls import parse_call
from descend.experiments.files import Experiment, ExperimentError, load, recipes, title_of

__all__ = ["Experiment", "ExperimentError", "load", "parse_call", "recipes", "title_of"]
