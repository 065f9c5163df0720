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
