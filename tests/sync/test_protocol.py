"""The sync protocol's content hash: what makes two sends the same record."""

from __future__ import annotations

import hashlib
import json

import pytest

from sync.protocol import canonical_json, content_hash, read_json

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


# Bodies where orjson and the standard library part ways: read_json must read
# each exactly as the standard library does (values, types, and what it refuses).
_BODIES = [
    b'{"n": 18446744073709551616, "m": -123456789012345678901234567890}',
    b'{"n": 9223372036854775808, "f": 0.1000000000000000055511151231257827}',
    b'{"inf": 1e400, "tiny": 4.9e-324, "big": 1.7976931348623159e308}',
    b'{"x": NaN, "y": -Infinity}',
    b'{"s": "\\ud800 alone", "pair": "\\ud83d\\ude00"}',
    b'\xef\xbb\xbf{"bom": true}',
    '{"utf16": "\u00e9t\u00e9"}'.encode("utf-16"),
    b'{"a": 1, "a": 2, "neg0": -0, "negf": -0.0, "e": 1E2}',
    b'{"text": "12345678901234567890 in a string", "n": 7}',
    b'[1, 2,]',
    b'{"a": 1} trailing',
    b'\xff\xfe\x00',
]


@pytest.mark.parametrize("body", _BODIES, ids=range(len(_BODIES)))
def test_a_body_is_read_exactly_as_the_standard_library_reads_it(body):
    try:
        expected = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        with pytest.raises(type(exc)):
            read_json(body)
        return
    got = read_json(body)
    assert repr(got) == repr(expected)  # values and their types
