"""IdentityMemo: one derivation per object, by identity, bounded."""

from __future__ import annotations

from assay.sandbox.memo import IdentityMemo


def test_derives_once_per_object_even_for_unhashable_and_equal_objects():
    calls = []
    memo = IdentityMemo(lambda obj: calls.append(obj) or len(obj), size=2)
    a, b = [1, 2], [1, 2]  # equal, unhashable, distinct
    assert memo(a) == 2 and memo(a) == 2 and memo(b) == 2
    assert len(calls) == 2 and calls[0] is a and calls[1] is b


def test_oldest_entries_go_past_the_size_and_are_derived_again():
    calls = []
    memo = IdentityMemo(lambda obj: calls.append(obj) or obj[0], size=2)
    items = [[1], [2], [3]]
    for item in items:
        memo(item)
    memo(items[2])  # still there
    memo(items[0])  # evicted: derived again
    assert len(calls) == 4 and calls[-1] is items[0]
