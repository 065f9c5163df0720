"""The sync protocol's content hash: what makes two sends the same record."""

from __future__ import annotations

import hashlib
import json

import pytest

from sync.protocol import canonical_json, content_hash

RECORDS = [
    {"form_id": "rss", "form_version": "2026.1", "deprecated_id": None,
     "data": {"case_id": "GIN-1", "consent": "yes", "econ": {"has_debt": "no"}}},
    {"form_id": "rss", "form_version": "2026.1", "deprecated_id": "uuid:0000-edit",
     "data": {"name": "Fanta Cissé", "note": "line\nbreak \"quoted\" \u2028 \U0001F600",
              "age": 41, "weight": 61.5, "big": 10 ** 20, "tiny": 1e-07, "ok": True,
              "none": None, "kids": [{"b": "2", "a": "1"}]}},
    {"form_id": "förm", "form_version": "v\u00e9", "data": {}},  # deprecated_id left out
]


@pytest.mark.parametrize("record", RECORDS)
def test_content_hash_is_the_sha256_of_the_canonical_text_of_form_version_edit_and_data(record):
    whole = {"data": record["data"], "deprecated_id": record.get("deprecated_id"),
             "form_id": record["form_id"], "form_version": record["form_version"]}
    text = json.dumps(whole, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert content_hash(record) == expected
    assert content_hash(record, canonical_json(record["data"])) == expected
    assert content_hash({**record, "attachments": [{"name": "a.jpg"}]}) == expected


def test_content_hash_of_a_record_never_changes_between_releases():
    # stored hashes are compared with resends months later: this text is fixed
    assert content_hash(RECORDS[0]) == (
        hashlib.sha256(b'{"data":{"case_id":"GIN-1","consent":"yes","econ":{"has_debt":"no"}},'
                       b'"deprecated_id":null,"form_id":"rss","form_version":"2026.1"}')
        .hexdigest())


def _random_value(rng, depth=0):
    """A JSON value of the kinds records carry, and of those that must not go
    through the fast writer (floats, big integers, deep nesting)."""
    kind = rng.random()
    if depth < 4 and kind < 0.25:
        return {rng.choice(_KEYS): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    if depth < 4 and kind < 0.35:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return rng.choice([
        lambda: "".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 8))),
        lambda: rng.randint(-2 ** 70, 2 ** 70) if rng.random() < 0.2 else rng.randint(-99, 999),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice([0.5, 1e16, 1e-07, -0.0, 123456789.0, 2.5e300]),
    ])()


_KEYS = ["a", "B", "é", "z_1", "\U0001F600", "", "ß", "a b"]
_CHARS = ["a", "Z", "0", " ", "\"", "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "\u2028",
          "\U0001F600", "\ud800"]


def test_canonical_text_is_the_standard_librarys_whatever_the_value():
    import random
    rng = random.Random(11)
    values = [_random_value(rng) for _ in range(3000)]
    values += [{"n": 2 ** 64}, {1: "int key"}, {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[
        [[[[[[[[[[[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]
    for value in values:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical_json(value) == expected, value
