"""The shipped recipes reproduce their seeds, and what the seeds observed is asserted here
where the runs bear it out, or asserted the other way where they do not (each surprise
says so)."""

from __future__ import annotations

import pytest

import descend
from descend import analysis


@pytest.fixture(scope="module")
def seed_004():
    """momentum-vs-rmsprop: {surface name: {label: run}}."""
    studies = descend.run("momentum-vs-rmsprop")
    return {s.surface.name: ({r.label: r for r in s.results}, s.surface) for s in studies}


def _distance(run, surface):
    return float(analysis.nearest_minimum(run.final_point, surface)[1])


def test_the_recipe_is_seed_004s_setup(seed_004):
    runs, _ = seed_004["anisotropic"]
    assert list(runs) == [
        "SGD", "momentum α=0.1", "momentum α=0.9", "momentum α=0.99",
        "RMSProp β=0.1", "RMSProp β=0.9", "RMSProp β=0.99",
    ]  # fmt: skip
    for run in runs.values():
        assert run.spec.start == (1.0, 1.0) and run.spec.steps == 50
        assert (run.lr == 0.1).all()
    assert runs["RMSProp β=0.9"].spec.optimizer.build().hyperparams["eps"] == 1e-10


def test_sgd_zigzags_on_the_anisotropic_bowl_only(seed_004):
    # w2 ← (1 − 0.1·16)·w2 = −0.6·w2: a sign change at every one of the 50 steps.
    assert analysis.sign_flips(seed_004["anisotropic"][0]["SGD"]) == [0, 50]
    # On the isotropic bowl w ← 0.8·w: straight to the minimum, no zig-zag (seed: "SGD
    # does not zig-zag" there).
    assert analysis.sign_flips(seed_004["bowl"][0]["SGD"]) == [0, 0]


def test_momentum_09_changes_the_sign_of_w2_far_less_often(seed_004):
    runs, _ = seed_004["anisotropic"]
    assert analysis.sign_flips(runs["momentum α=0.9"])[1] <= 25  # 23 of 50 steps
    assert analysis.sign_flips(runs["momentum α=0.1"])[1] < 50  # 40: a little damping


def test_momentum_099_has_not_converged_after_50_steps(seed_004):
    for runs, surface in seed_004.values():
        assert _distance(runs["momentum α=0.99"], surface) > 0.5  # 0.76 and 1.11


def test_surprise_momentum_09_ends_farther_from_the_minimum_than_sgd(seed_004):
    """Damping the zig-zag is not converging faster: after 50 steps momentum 0.9 is still
    spiralling (0.060 from the minimum on the anisotropic bowl) while SGD is at 1.4e-5."""
    for runs, surface in seed_004.values():
        assert _distance(runs["momentum α=0.9"], surface) > 1000 * _distance(runs["SGD"], surface)


def test_surprise_rmsprop_099_lands_on_the_minimum_in_one_step(seed_004):
    """Its first step is η·g/√((1 − β)·g²) = η/√(1 − β) = 1 per coordinate: from (1, 1)
    exactly the way to the origin, whatever the curvature."""
    for runs, surface in seed_004.values():
        run = runs["RMSProp β=0.99"]
        assert analysis.steps_to_tolerance(run, surface, 1e-6) == 1
        assert _distance(run, surface) < 1e-50


def test_surprise_rmsprop_01_stalls_in_a_cycle(seed_004):
    """With β = 0.1 the average forgets at once: steps are ≈ η·sign(g) and the iterate
    ends bouncing around the minimum at ≈ η/2 per coordinate instead of converging."""
    for runs, surface in seed_004.values():
        run = runs["RMSProp β=0.1"]
        assert 0.05 < _distance(run, surface) < 0.1
        assert analysis.sign_flips(run) == [40, 40]


def test_restarts_on_rastrigin_escape_traps_and_one_anneal_ends_best():
    """restarts-on-rastrigin, as the recipe runs it (400 starts, 1000 steps): a small
    constant lr stops in the first trap; restarts reach the global minimum from far more
    starts but throw runs out of it again; one anneal over the budget ends there most."""
    [study] = descend.run("restarts-on-rastrigin")
    rows = {}
    for run in study.results:
        rows.setdefault(run.label, []).append(run)

    def reached(label):  # at the global minimum (f* = 0) at some step
        return sum(bool((r.loss <= 1e-6).any()) for r in rows[label])

    def ended(label):
        return sum(bool(r.loss[-1] <= 1e-6) for r in rows[label])

    assert all(len(runs) == 400 for runs in rows.values())
    assert reached("constant 0.002") < 0.05 * 400 and reached("constant 0.02") == 0
    for restarts in ("restarts every 100", "restarts every 50"):
        assert reached(restarts) > 5 * reached("constant 0.002")
        assert ended(restarts) < reached(restarts)  # kicked out by a later restart
    assert ended("one anneal") > max(ended("restarts every 100"), ended("restarts every 50"))
