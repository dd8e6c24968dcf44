"""Data regimes: which examples each update sees, epoch by epoch (`BatchOrders`), and the
regime words (`Regime.parse`, `str`, sizes, `describe`, refusals).

Expected orders are derived from what the regimes' docstring documents — an order is
`torch.randperm(n)` drawn from the run's data seed, a fixed order is the first epoch's
permutation kept — or from counting by hand (updates and batch sizes per epoch).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from descend.engine import OptimizerSpec, Regime, RunSpec, TaskSpec
from descend.engine.regimes import BatchOrders
from descend.errors import DescendError


def epochs(text: str, n: int, seeds: list[int], count: int) -> list[list[Tensor]]:
    """`count` epochs of batches ((K, B) index tensors) of runs with these data seeds."""
    orders = BatchOrders(Regime.parse(text), n, seeds, "cpu")
    return [list(orders.epoch()) for _ in range(count)]


def order(batches: list[Tensor], run: int = 0) -> Tensor:
    """One run's examples of one epoch, in the order it saw them."""
    return torch.cat([b[run] for b in batches])


def permutation(seed: int, n: int, draws: int = 1) -> Tensor:
    """The `draws`-th permutation of n from a generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(draws - 1):
        torch.randperm(n, generator=generator)
    return torch.randperm(n, generator=generator)


# --- batch orders ------------------------------------------------------------------


def test_fixed_repeats_the_same_order_every_epoch() -> None:
    orders = [order(e) for e in epochs("minibatch:10:fixed", 50, [7], 4)]
    for later in orders[1:]:
        assert torch.equal(later, orders[0])


def test_fixed_order_is_the_permutation_drawn_from_the_data_seed() -> None:
    assert torch.equal(order(epochs("minibatch:10:fixed", 50, [7], 1)[0]), permutation(7, 50))


def test_shuffle_draws_a_new_permutation_every_epoch() -> None:
    orders = [order(e) for e in epochs("minibatch:10:shuffle", 50, [7], 4)]
    for i, a in enumerate(orders):
        for b in orders[i + 1 :]:
            assert not torch.equal(a, b)  # equal by chance with probability 1/50!
    for k, got in enumerate(orders, start=1):  # epoch k: the generator's k-th permutation
        assert torch.equal(got, permutation(7, 50, draws=k))


def test_shuffle_differs_per_seed() -> None:
    batches = epochs("minibatch:10:shuffle", 50, [1, 2], 1)[0]
    assert not torch.equal(order(batches, 0), order(batches, 1))


def test_shuffle_first_epoch_equals_fixed_order_of_the_same_seed_and_then_differs() -> None:
    fixed = [order(e) for e in epochs("minibatch:10:fixed", 50, [3], 2)]
    shuffled = [order(e) for e in epochs("minibatch:10:shuffle", 50, [3], 2)]
    assert torch.equal(shuffled[0], fixed[0])
    assert not torch.equal(shuffled[1], fixed[1])


def test_a_runs_order_does_not_depend_on_the_group_it_runs_in() -> None:
    together = epochs("minibatch:10:shuffle", 50, [5, 9, 5], 2)
    alone_5 = epochs("minibatch:10:shuffle", 50, [5], 2)
    alone_9 = epochs("minibatch:10:shuffle", 50, [9], 2)
    for epoch in range(2):
        assert torch.equal(order(together[epoch], 0), order(alone_5[epoch]))
        assert torch.equal(order(together[epoch], 2), order(alone_5[epoch]))
        assert torch.equal(order(together[epoch], 1), order(alone_9[epoch]))


@pytest.mark.parametrize(
    "text", ["minibatch:10:fixed", "minibatch:10:shuffle", "minibatch:15:shuffle", "single"]
)
def test_every_epoch_covers_every_example_exactly_once(text: str) -> None:
    for batches in epochs(text, 50, [0, 1], 3):
        for run in range(2):
            assert torch.equal(order(batches, run).sort().values, torch.arange(50))


def test_replacement_draws_with_repeats_and_stays_in_range() -> None:
    batches = epochs("minibatch:10:replacement", 50, [4], 2)
    for epoch in batches:
        drawn = order(epoch)
        assert len(drawn) == 50  # as many updates (of 10) as without replacement
        assert drawn.min() >= 0 and drawn.max() < 50
        # 50 draws from 50 with none repeated has probability 50!/50^50 ≈ 3e-21
        assert len(drawn.unique()) < 50
    assert not torch.equal(order(batches[0]), order(batches[1]))  # a new draw each epoch


def test_replacement_draws_come_from_the_data_seed() -> None:
    first = order(epochs("minibatch:10:replacement", 50, [4], 1)[0])
    again = order(epochs("minibatch:10:replacement", 50, [4], 1)[0])
    other = order(epochs("minibatch:10:replacement", 50, [5], 1)[0])
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_single_is_batches_of_one_example() -> None:
    batches = epochs("single", 20, [0, 1, 2], 1)[0]
    assert len(batches) == 20
    assert all(b.shape == (3, 1) for b in batches)


def test_full_batch_is_all_data_without_a_gather() -> None:
    batches = epochs("full", 20, [0, 1], 3)
    assert all(e == [None] for e in batches)  # one update per epoch on every example


def test_a_partial_last_batch_is_kept_by_default() -> None:
    batches = epochs("minibatch:15:shuffle", 50, [0, 1], 1)[0]
    assert [b.shape for b in batches] == [(2, 15), (2, 15), (2, 15), (2, 5)]


@pytest.mark.parametrize("order_name", ["fixed", "shuffle"])
def test_drop_last_drops_the_partial_last_batch(order_name: str) -> None:
    batches = epochs(f"minibatch:15:{order_name}:drop_last", 50, [0], 2)
    for epoch in batches:
        assert [b.shape for b in epoch] == [(1, 15)] * 3
        assert len(order(epoch).unique()) == 45  # each example at most once
    # the examples left out are those at the end of that epoch's permutation
    assert torch.equal(order(batches[0]), permutation(0, 50)[:45])


def test_drop_last_with_shuffle_leaves_out_different_examples_each_epoch() -> None:
    batches = epochs("minibatch:15:shuffle:drop_last", 50, [0], 2)
    left_out = [set(range(50)) - set(order(e).tolist()) for e in batches]
    assert all(len(s) == 5 for s in left_out)
    assert left_out[0] != left_out[1]


# --- the regime words ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("full", Regime("full")),
        ("single", Regime("single")),
        ("single:fixed", Regime("single", None, "fixed")),
        ("minibatch:25", Regime("minibatch", 25, "shuffle")),
        ("minibatch:25:fixed", Regime("minibatch", 25, "fixed")),
        ("minibatch:25:shuffle", Regime("minibatch", 25, "shuffle")),
        ("minibatch:25:replacement", Regime("minibatch", 25, "replacement")),
        ("minibatch:32:shuffle:drop_last", Regime("minibatch", 32, "shuffle", drop_last=True)),
        ("minibatch:32:drop_last", Regime("minibatch", 32, "shuffle", drop_last=True)),
        (" minibatch : 8 : fixed ", Regime("minibatch", 8, "fixed")),
    ],
)
def test_parse_reads_every_form(text: str, expected: Regime) -> None:
    assert Regime.parse(text) == expected


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("full", "full"),
        ("single", "single"),
        ("single:shuffle", "single"),
        ("single:fixed", "single:fixed"),
        ("minibatch:25", "minibatch:25:shuffle"),
        ("minibatch:25:fixed", "minibatch:25:fixed"),
        ("minibatch:25:replacement", "minibatch:25:replacement"),
        ("minibatch:32:shuffle:drop_last", "minibatch:32:shuffle:drop_last"),
    ],
)
def test_str_is_canonical_and_parses_back_to_the_same_regime(text: str, canonical: str) -> None:
    regime = Regime.parse(text)
    assert str(regime) == canonical
    assert Regime.parse(str(regime)) == regime


@pytest.mark.parametrize(
    "text, updates, sizes",
    [  # by hand, for n = 100
        ("full", 1, [100]),
        ("single", 100, [1] * 100),
        ("minibatch:25:fixed", 4, [25] * 4),
        ("minibatch:30:shuffle", 4, [30, 30, 30, 10]),
        ("minibatch:30:shuffle:drop_last", 3, [30, 30, 30]),
        ("minibatch:30:replacement", 4, [30] * 4),
        ("minibatch:100:fixed", 1, [100]),
        ("minibatch:99:fixed", 2, [99, 1]),
        ("minibatch:99:fixed:drop_last", 1, [99]),
    ],
)
def test_updates_per_epoch_and_batch_sizes(text: str, updates: int, sizes: list[int]) -> None:
    regime = Regime.parse(text)
    assert regime.updates_per_epoch(100) == updates
    assert regime.batch_sizes(100) == sizes


def test_batch_orders_yield_the_sizes_the_regime_states() -> None:
    for text in ["minibatch:30:shuffle", "minibatch:30:fixed:drop_last", "single:fixed"]:
        got = [b.shape[1] for b in epochs(text, 100, [0], 1)[0]]
        assert got == Regime.parse(text).batch_sizes(100)


def test_describe_states_a_kept_partial_last_batch() -> None:
    text = Regime.parse("minibatch:30:shuffle").describe(100)
    assert text.startswith("minibatch:30:shuffle")
    assert "4 updates per epoch of 100" in text
    assert "last one of 10" in text and "kept" in text


def test_describe_states_a_dropped_partial_last_batch() -> None:
    text = Regime.parse("minibatch:30:shuffle:drop_last").describe(100)
    assert "3 updates per epoch of 100" in text
    assert "the last 10 dropped" in text
    assert "kept" not in text


def test_describe_of_full_batch_is_one_update() -> None:
    text = Regime.parse("full").describe(100)
    assert "1 update per epoch of 100" in text and "batches of 100" in text
    assert "dropped" not in text and "kept" not in text


# --- refusals -----------------------------------------------------------------------

FORMS = ["full", "single", "minibatch:B", "minibatch:B:ORDER", "fixed", "shuffle", "drop_last"]


@pytest.mark.parametrize(
    "text", ["mini", "minibatch", "batch:25", "full:25", "minibatch:25:fixed:extra", ""]
)
def test_an_unknown_form_is_refused_with_the_allowed_forms(text: str) -> None:
    with pytest.raises(DescendError) as caught:
        Regime.parse(text)
    message = str(caught.value)
    assert f"Invalid regime {text!r}" in message
    assert all(form in message for form in FORMS)
    assert caught.value.key == "regime"


@pytest.mark.parametrize("text", ["minibatch:0:fixed", "minibatch:-3", "minibatch:-1:shuffle"])
def test_a_batch_size_below_one_is_refused(text: str) -> None:
    with pytest.raises(DescendError) as caught:
        Regime.parse(text)
    message = str(caught.value)
    assert text in message
    assert "batch size" in message and "allowed: an integer >= 1" in message


@pytest.mark.parametrize("text", ["minibatch:2.5:fixed", "minibatch:x", "minibatch::fixed"])
def test_a_batch_size_that_is_not_an_integer_is_refused(text: str) -> None:
    with pytest.raises(DescendError) as caught:
        Regime.parse(text)
    message = str(caught.value)
    assert text in message and "not an integer" in message


@pytest.mark.parametrize(
    "text",
    [
        "mini",
        "minibatch:0:fixed",
        "minibatch:25:random",
        "minibatch:2.5:fixed",
    ],
)
def test_every_refusal_says_what_is_allowed(text: str) -> None:
    with pytest.raises(DescendError, match=r"(?i)allowed"):
        Regime.parse(text)


@pytest.mark.parametrize("text", ["minibatch:25:random", "single:3"])
def test_an_unknown_order_is_refused_with_the_orders(text: str) -> None:
    with pytest.raises(DescendError, match=r"fixed, shuffle, replacement"):
        Regime.parse(text)


def test_full_takes_no_batch_size() -> None:
    with pytest.raises(DescendError, match=r"takes no batch size"):
        Regime("full", batch_size=10)


def test_a_batch_larger_than_the_data_is_refused_when_the_run_is_made() -> None:
    task = TaskSpec("quadratic-regression", {"n": 20})
    opt = OptimizerSpec("sgd")
    with pytest.raises(DescendError) as caught:
        RunSpec(task, opt, epochs=1, regime=Regime.parse("minibatch:21:fixed"))
    message = str(caught.value)
    assert "21 is more than the 20 training examples" in message
    assert "allowed: 1 to 20" in message
    assert caught.value.key == "batch_size"
    RunSpec(task, opt, epochs=1, regime=Regime.parse("minibatch:20:fixed"))  # the edge: fine
