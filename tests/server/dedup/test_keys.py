"""Person keys: typos one edit apart."""

from __future__ import annotations

import pytest

from server.dedup import keys


@pytest.mark.parametrize("a,b,expected", [
    ("GIN202400017", "GIN202400018", True),   # substitution
    ("GIN202400017", "GIN202400071", True),   # neighbours swapped
    ("GIN202400017", "GIN20240017", True),    # deletion
    ("GIN202400017", "GIN2024000017", True),  # insertion
    ("GIN202400017", "GIN202400017", True),
    ("GIN202400017", "GIN202400089", False),
    ("GIN202400017", "GIN202400710", False),
])
def test_within_one_edit_accepts_the_usual_typos_only(a, b, expected):
    assert keys.within_one_edit(a, b) is expected
    assert keys.within_one_edit(b, a) is expected


def test_keys_one_edit_apart_share_a_deletion_variant():
    for a, b in [("ABC123", "ABC124"), ("ABC123", "ABC213"), ("ABC123", "ABC1234")]:
        assert keys.deletion_variants(a) & keys.deletion_variants(b)
