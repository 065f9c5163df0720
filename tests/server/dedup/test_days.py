"""The typo rule's keys held in day order, for wide batches."""

from __future__ import annotations

from server.dedup.days import DayOrder
from server.dedup.typo import Probe


def test_keys_held_in_day_order_stay_in_order_when_a_submission_is_replaced():
    days = DayOrder([(1, 10, "A1"), (2, 12, "A2"), (3, 20, "A3")])
    assert days.put(4, "A4", 11) == 1
    assert days.put(2, "B2", 30) == 0  # the submission's key changed: its earlier one goes
    assert list(days.days) == [10, 11, 20, 30] and days.persons == ["A1", "A4", "A3", "B2"]
    probe = Probe(("A",), 9, 25, 10, 0, None, 0, 0.9, "A5")
    assert sorted(days.near(probe)) == [1, 3, 4]
