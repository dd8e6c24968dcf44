"""Seed 002 on the real MNIST (slow: minutes on 2 CPU cores). Skipped where the files are
not: a user's fresh machine has no ../shared folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import descend

pytestmark = pytest.mark.slow

CANDIDATES = [
    os.environ.get("DESCEND_DATA", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "data"),  # ../shared beside the repo
    "/work/shared/data",
]


def mnist_root() -> str | None:
    for root in filter(None, CANDIDATES):
        folder = Path(root) / "mnist"
        if folder.is_dir() and any(folder.glob("train-images*")):
            return root
    return None


@pytest.mark.skipif(mnist_root() is None, reason="real MNIST not found (../shared/data/mnist)")
def test_the_recipe_on_real_mnist_reaches_the_seeds_accuracy():
    """One seed of adam-vs-adadelta, 5 epochs: both rules at least 98.5 % on the test set
    (the seed reported 98.90 % for Adadelta and 99.02 % for Adam)."""
    [study] = descend.run("adam-vs-adadelta", overrides={"seeds": 1, "data_dir": mnist_root()})
    for run in study.results:
        accuracy = float(run.evaluations["test_accuracy"][-1])
        assert accuracy >= 0.985, (run.label, accuracy)
        assert run.evaluated_at.tolist() == [1875 * e for e in range(6)]
    assert {r.label for r in study.results} == {"Adam", "Adadelta"}
