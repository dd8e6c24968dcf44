"""GD and heavy-ball momentum on quadratics: the measured contraction per step equals the
predicted one, and the stability limits are where runs start to diverge."""

from __future__ import annotations

import pytest

from descend import theory
from descend.engine import OptimizerSpec, RunSpec, run
from descend.tasks import surfaces

QUADRATICS = [
    surfaces.get("anisotropic"),  # eigenvalues 2, 16
    surfaces.get("rotated_quadratic", condition=10.0, angle=30.0),  # 2, 20
]


def _path(surface, lr, momentum, steps=600):
    spec = RunSpec(
        surface, OptimizerSpec("sgd", {"lr": lr, "momentum": momentum}), steps, start=(1.0, 1.0)
    )
    return run([spec])[0]


def test_rates_by_hand():
    # GD on eigenvalues (2, 16) with η = 0.1: max(|1 − 0.2|, |1 − 1.6|) = 0.8.
    assert theory.gd_rate(0.1, [2.0, 16.0]) == pytest.approx(0.8)
    # Momentum β = 0.25, ηλ = 0.25 (η = 0.125, λ = 2): z² − z + 0.25 = (z − ½)², radius ½;
    # for λ = 16 (ηλ = 2): z² + 0.75z + 0.25 has complex roots of modulus √0.25 = ½.
    assert theory.momentum_rate(0.125, 0.25, [2.0, 16.0]) == pytest.approx(0.5)
    assert theory.gd_stability_limit([2.0, 16.0]) == pytest.approx(0.125)
    assert theory.momentum_stability_limit(0.9, [2.0, 16.0]) == pytest.approx(3.8 / 16)


def test_eigenvalues_of_the_quadratic_surfaces():
    assert theory.eigenvalues(QUADRATICS[0].hessian) == pytest.approx([2.0, 16.0])
    assert theory.eigenvalues(QUADRATICS[1].hessian) == pytest.approx([2.0, 20.0])


@pytest.mark.parametrize("surface", QUADRATICS, ids=lambda s: s.name)
@pytest.mark.parametrize("lr", [0.02, 0.05, 0.09])
def test_gd_contracts_at_the_predicted_rate(surface, lr):
    predicted = theory.gd_rate(lr, theory.eigenvalues(surface.hessian))
    measured = theory.measured_rate(_path(surface, lr, 0.0).trajectory, (0.0, 0.0))
    # 1e-4: at η = 0.09 the two directions contract at 0.82 and 0.80, so the slower one
    # dominates only gradually; elsewhere the agreement is ~1e-15.
    assert measured == pytest.approx(predicted, rel=1e-4)


@pytest.mark.parametrize("surface", QUADRATICS, ids=lambda s: s.name)
@pytest.mark.parametrize(("lr", "momentum"), [(0.05, 0.5), (0.05, 0.9), (0.02, 0.3), (0.08, 0.7)])
def test_momentum_contracts_at_the_spectral_radius(surface, lr, momentum):
    predicted = theory.momentum_rate(lr, momentum, theory.eigenvalues(surface.hessian))
    measured = theory.measured_rate(_path(surface, lr, momentum).trajectory, (0.0, 0.0))
    assert measured == pytest.approx(predicted, rel=3e-3)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_runs_diverge_just_past_the_stability_limit(momentum):
    surface = QUADRATICS[0]
    eig = theory.eigenvalues(surface.hessian)
    limit = (
        theory.gd_stability_limit(eig)
        if momentum == 0
        else theory.momentum_stability_limit(momentum, eig)
    )
    below, above = (
        _path(surface, 0.97 * limit, momentum, 2000),
        _path(surface, 1.03 * limit, momentum, 2000),
    )
    assert not below.diverged and above.diverged


def test_measured_rate_needs_enough_steps():
    with pytest.raises(ValueError, match="Too few usable steps"):
        theory.measured_rate(_path(QUADRATICS[0], 0.05, 0.0, steps=60).trajectory, (0.0, 0.0))
