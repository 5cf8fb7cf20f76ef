"""The executor seam (local pools) and the decode-ahead helper."""

from __future__ import annotations

import math
import os
import threading
import time

import pytest

from labeling.executor import LocalExecutor, make_executor, prefetch


def die_on_three(item: int) -> int:
    """Top-level (spawn-importable): the worker handling item 3 dies without a word."""
    if item == 3:
        os._exit(1)
    time.sleep(0.05)
    return item * 10


@pytest.mark.parametrize("workers", [1, 2])
def test_map_unordered_returns_every_item_once_with_errors_as_outcomes(workers):
    with LocalExecutor(workers) as pool:
        outcomes = list(pool.map_unordered(math.sqrt, [4.0, -1.0, 9.0, 16.0, 25.0]))
    assert sorted(o.item for o in outcomes) == [-1.0, 4.0, 9.0, 16.0, 25.0]
    by_item = {o.item: o for o in outcomes}
    assert by_item[9.0].value == 3.0 and by_item[9.0].error is None
    assert isinstance(by_item[-1.0].error, ValueError) and by_item[-1.0].value is None


def test_a_dead_worker_fails_the_items_in_flight_and_the_rest_go_on():
    with LocalExecutor(2) as pool:
        outcomes = list(pool.map_unordered(die_on_three, range(12)))
    assert sorted(o.item for o in outcomes) == list(range(12))
    by_item = {o.item: o for o in outcomes}
    assert by_item[3].error is not None
    assert all(by_item[i].value == 10 * i for i in range(8, 12)), "a fresh pool took the rest"


def test_make_executor_rejects_unknown_kinds():
    assert isinstance(make_executor("local", 1), LocalExecutor)
    with pytest.raises(ValueError, match="executor"):
        make_executor("spark", 2)
    with pytest.raises(ValueError, match="workers"):
        LocalExecutor(0)


def test_prefetch_keeps_order_and_raises_the_producers_error():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))

    def broken():
        yield 1
        raise OSError("disk gone")

    consumed = []
    with pytest.raises(OSError, match="disk gone"):
        for value in prefetch(broken(), depth=2):
            consumed.append(value)
    assert consumed == [1]


def test_prefetch_stops_its_thread_when_the_consumer_stops():
    produced = []

    def endless():
        while True:
            produced.append(len(produced))
            yield produced[-1]

    before = threading.active_count()
    stream = prefetch(endless(), depth=2)
    assert [next(stream) for _ in range(5)] == list(range(5))
    stream.close()
    assert threading.active_count() == before
    assert len(produced) <= 5 + 2 + 2  # never more than the buffer ahead
