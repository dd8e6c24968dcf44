"""Statistics over seeds: `estimate` (mean, sd, 95 % t-interval) and `paired` (seed by
seed differences, paired t-test, bootstrap interval, verdict), on cases whose answers are
worked out by hand (t quantiles from a table: t(0.975, 1) = 12.7062047,
t(0.975, 4) = 2.7764451, t(0.975, 5) = 2.5705818) or given by scipy's own tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from descend.analysis import estimate, paired

T_1, T_4, T_5 = 12.7062047, 2.7764451, 2.5705818


# --- estimate ----------------------------------------------------------------------


def test_estimate_of_one_to_five() -> None:
    e = estimate([1.0, 2.0, 3.0, 4.0, 5.0])
    sd = math.sqrt(2.5)  # squared deviations 4+1+0+1+4 = 10, over n − 1 = 4
    half = T_4 * sd / math.sqrt(5)
    assert e.mean == pytest.approx(3.0, abs=1e-15)
    assert e.sd == pytest.approx(sd, rel=1e-12)
    assert e.low == pytest.approx(3.0 - half, rel=1e-7)
    assert e.high == pytest.approx(3.0 + half, rel=1e-7)
    assert (e.n, e.excluded) == (5, 0)


def test_estimate_leaves_out_non_finite_values_and_counts_them() -> None:
    e = estimate([1.0, math.nan, 3.0, math.inf, -math.inf])
    assert (e.n, e.excluded) == (2, 3)
    assert e.mean == pytest.approx(2.0)
    assert e.sd == pytest.approx(math.sqrt(2.0))  # deviations ±1: (1 + 1) / 1
    half = T_1 * math.sqrt(2.0) / math.sqrt(2.0)
    assert (e.low, e.high) == (pytest.approx(2.0 - half, rel=1e-7), pytest.approx(2.0 + half))


def test_estimate_of_one_value_has_no_spread() -> None:
    e = estimate([4.0, math.nan])
    assert e.mean == 4.0 and (e.n, e.excluded) == (1, 1)
    assert math.isnan(e.sd) and math.isnan(e.low) and math.isnan(e.high)
    assert str(e) == "4"


def test_estimate_of_no_finite_value_is_empty() -> None:
    e = estimate([math.nan, math.inf])
    assert (e.n, e.excluded) == (0, 2)
    assert math.isnan(e.mean)
    assert str(e) == "—"


def test_estimate_prints_mean_and_sd() -> None:
    assert str(estimate([1.0, 2.0, 3.0, 4.0, 5.0])) == "3 ± 1.6"


# --- paired -------------------------------------------------------------------------

A = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
GAP = [1.1, 0.9, 1.0, 1.2, 0.8, 1.0]  # B − A per seed: mean 1, squared deviations sum 0.1
B = [a + g for a, g in zip(A, GAP, strict=True)]


def test_paired_differences_have_the_hand_computed_interval() -> None:
    p = paired(A, B)
    sd = math.sqrt(0.1 / 5)
    half = T_5 * sd / math.sqrt(6)
    assert p.n == 6
    assert p.difference.mean == pytest.approx(-1.0, rel=1e-12)
    assert p.difference.sd == pytest.approx(sd, rel=1e-9)
    assert p.difference.low == pytest.approx(-1.0 - half, rel=1e-7)
    assert p.difference.high == pytest.approx(-1.0 + half, rel=1e-7)


def test_paired_p_value_is_scipys_paired_t_test() -> None:
    p = paired(A, B)
    assert p.p_value == pytest.approx(stats.ttest_rel(A, B).pvalue, rel=1e-12)
    t = -1.0 / (math.sqrt(0.1 / 5) / math.sqrt(6))  # by hand: d̄ / (sd/√n)
    assert p.p_value == pytest.approx(2 * stats.t.sf(abs(t), 5), rel=1e-9)
    assert p.p_value < 1e-4


def test_paired_p_value_on_scipys_documented_example() -> None:
    rng = np.random.default_rng(12345678)
    a = stats.norm.rvs(loc=5, scale=10, size=500, random_state=rng)
    b = stats.norm.rvs(loc=5, scale=10, size=500, random_state=rng) + stats.norm.rvs(
        scale=0.2, size=500, random_state=rng
    )
    assert paired(a, b).p_value == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)


def test_a_clear_difference_is_supported() -> None:
    p = paired(A, B, names=("sgd", "gd"), metric="distance")
    assert p.a_better is True
    assert p.a_lower == 6
    verdict = p.verdict()
    assert verdict.startswith("sgd has a lower distance than gd")
    assert "sgd lower in 6 of 6 seeds" in verdict


def test_a_reversed_difference_is_refuted() -> None:
    p = paired(B, A, names=("sgd", "gd"), metric="distance")
    assert p.a_better is False
    assert p.a_lower == 0
    assert p.verdict().startswith("gd has a lower distance than sgd")


def test_higher_is_better_flips_the_verdict() -> None:
    p = paired(A, B, names=("x", "y"), metric="accuracy", lower_is_better=False)
    assert p.a_better is False
    assert p.verdict().startswith("y has a higher accuracy than x")


def test_noise_with_few_seeds_cannot_tell_and_says_the_seeds_are_too_few() -> None:
    p = paired([1.0, 2.0, 3.0], [2.0, 1.0, 3.5])  # differences −1, 1, −0.5
    assert p.a_better is None
    assert p.difference.low < 0 < p.difference.high
    verdict = p.verdict()
    assert verdict.startswith("No clear difference")
    assert "3 seeds are too few to tell" in verdict


def test_noise_with_enough_seeds_is_no_clear_difference_without_blaming_the_seeds() -> None:
    a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    b = [0.0, 3.0, 2.0, 5.0, 4.5, 6.5]  # differences 1, −1, 1, −1, 0.5, −0.5: mean 0
    p = paired(a, b)
    assert p.a_better is None
    assert p.difference.mean == pytest.approx(0.0, abs=1e-15)
    assert p.p_value == pytest.approx(1.0)
    assert "No clear difference" in p.verdict() and "too few" not in p.verdict()


def test_identical_differences_have_no_spread() -> None:
    p = paired([3.0, 4.0, 5.0], [1.0, 2.0, 3.0])  # A − B = 2 on every seed
    assert p.difference.mean == 2.0 and p.difference.sd == 0.0
    assert (p.difference.low, p.difference.high) == (2.0, 2.0)
    assert (p.bootstrap_low, p.bootstrap_high) == (2.0, 2.0)
    assert math.isnan(p.p_value)
    assert p.a_better is False  # A higher on every seed, lower is better


def test_one_seed_gives_no_statistics() -> None:
    p = paired([1.0], [2.0])
    assert p.n == 1
    assert p.a_better is None
    assert math.isnan(p.p_value)
    assert p.verdict().startswith("1 seed: no statistics")


def test_pairs_with_a_non_finite_value_are_left_out() -> None:
    p = paired([1.0, math.nan, 3.0, 4.0, 2.0], [2.0, 5.0, math.inf, 5.0, 2.5])
    assert p.n == 3  # seeds 0, 3, 4
    assert p.difference.mean == pytest.approx((-1.0 - 1.0 - 0.5) / 3)


def test_paired_values_must_match_in_length() -> None:
    with pytest.raises(ValueError, match="Paired values must match: 3 and 2"):
        paired([1.0, 2.0, 3.0], [1.0, 2.0])


def test_the_bootstrap_interval_is_reproducible_and_contains_the_mean_difference() -> None:
    a = [1.0, 2.5, 2.0, 4.0, 3.0, 5.5, 6.0, 4.5]
    b = [2.0, 3.0, 3.5, 4.5, 4.5, 6.0, 7.5, 5.0]
    first, second = paired(a, b), paired(a, b)
    assert (first.bootstrap_low, first.bootstrap_high) == (
        second.bootstrap_low,
        second.bootstrap_high,
    )
    d = np.subtract(a, b)
    assert first.bootstrap_low < d.mean() < first.bootstrap_high
    assert d.min() <= first.bootstrap_low and first.bootstrap_high <= d.max()
