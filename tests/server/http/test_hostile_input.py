"""Strange input at every door: a clear 4xx that names what to fix, or a record
stored and flagged; never a 5xx, never a server that stops answering, never a
stored record changed. The cases found by hand first, then generated bodies,
headers, query strings, paths and XML (Hypothesis) against one live server run
as it ships (two workers), with a small body limit."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

import openpyxl
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.live import LiveServer
from tests.helpers.records import batch, household_record, stored_count

LIMIT = 200_000
HOUSEHOLD = (Path(__file__).resolve().parents[2] / "fixtures" / "household.md").read_bytes()
FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])
NINES = "9" * 26


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("hostile") / "hostile.db",
                        env={"FIELDSYNC_MAX_CONTENT_LENGTH": str(LIMIT)}).start()
    try:
        server.admin = server.session(server.token_for("fuzz-admin", "admin"))
        server.enum = server.session(server.token_for("fuzz-enum", "enumerator",
                                                      "fuzz-pass-1"))
        r = server.admin.post(f"{server.url}/api/v1/forms",
                              files={"file": ("household.md", HOUSEHOLD)})
        assert r.status_code == 201, r.text
        before = [household_record(f"BEFORE-{i}") for i in range(5)]
        r = server.enum.post(f"{server.url}/api/v1/sync/push", json=batch(before),
                             timeout=30)
        assert r.status_code == 200, r.text
        server.before = stored(server, [rec["instance_id"] for rec in before])
    except BaseException:
        server.stop()  # a failed set-up must not leave the server running
        raise
    yield server
    server.stop()


def stored(server, ids: list[str]) -> list[tuple]:
    db = server.db()
    try:
        return db.execute(
            f"SELECT instance_id, content_hash, data, raw, state, seq FROM submissions "
            f"WHERE instance_id IN ({','.join('?' * len(ids))}) ORDER BY id", ids).fetchall()
    finally:
        db.close()


def assert_still_whole(site):
    assert requests.get(f"{site.url}/api/v1/health", timeout=10).status_code == 200
    assert stored(site, [row[0] for row in site.before]) == site.before


def push_raw(site, body: bytes, **headers):
    return site.enum.post(f"{site.url}/api/v1/sync/push", data=body, timeout=30,
                          headers={"Content-Type": "application/json", **headers})


def error_code(response) -> str:
    return response.json()["error"]["code"]


# The cases found by hand ---------------------------------------------------------

def test_a_400_digit_integer_in_a_numeric_field_is_stored_and_flagged(site):
    rec = household_record("BIG")
    body = json.dumps(batch([rec])).replace('"age": "34"', '"age": ' + "9" * 400)
    r = push_raw(site, body.encode())
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert result["status"] == "flagged" and "invalid" in result["flags"]
    row = site.admin.get(f"{site.url}/api/v1/submissions/{rec['instance_id']}").json()
    assert row["data"]["econ"]["age"] == "9" * 400
    assert {f["path"] for f in row["findings"]} >= {"econ/age"}


def test_an_attachment_size_beyond_any_file_is_refused_and_nothing_stored(site):
    rec = household_record("HUGE", attachments=[{"name": "a.jpg", "sha256": "0" * 64,
                                                 "size": 10**30}])
    before = stored_count(site)
    r = push_raw(site, json.dumps(batch([rec])).encode())
    assert r.status_code == 400 and error_code(r) == "record_invalid"
    assert "size" in json.dumps(r.json()["error"]["details"])
    assert stored_count(site) == before


def test_json_nested_five_thousand_deep_is_refused_as_json_invalid(site):
    body = json.dumps(batch([household_record("DEEP")])).replace(
        '"n": "2"', '"n": ' + "[" * 5000 + "]" * 5000)
    r = push_raw(site, body.encode())
    assert r.status_code == 400 and error_code(r) == "json_invalid"
    r = push_raw(site, json.dumps(batch([household_record("DEEP")])).replace(
        '"n": "2"', '"n": ' + "[" * 40 + "]" * 40).encode())
    assert r.status_code == 400 and error_code(r) == "record_invalid"


def test_a_lone_surrogate_in_an_answer_is_refused_naming_where(site):
    body = json.dumps(batch([household_record("SURROGATE")])).replace(
        '"SURROGATE"', '"\\ud800"')
    r = push_raw(site, body.encode())
    assert r.status_code == 400 and error_code(r) == "json_invalid"
    assert "submissions[0].data.case_id" in r.json()["error"]["details"]["problem"]
    paired = json.dumps(batch([household_record("\U0001f600 ok")]))  # \ud83d\ude00: fine
    assert "\\ud83d" in paired and push_raw(site, paired.encode()).status_code == 200


@pytest.mark.parametrize("path", [
    f"/api/v1/changes?since={NINES}", f"/api/v1/forms/tform/submissions?since={NINES}",
    f"/api/v1/review/queue?after={NINES}", f"/api/v1/duplicates?after={NINES}",
    f"/api/v1/review/queue?limit={NINES}",
])
def test_a_cursor_beyond_any_seq_is_a_400_that_names_it(site, path):
    r = site.admin.get(site.url + path, timeout=10)
    assert r.status_code == 400 and error_code(r) == "bad_request"
    assert path.split("?")[1].split("=")[0] in r.json()["error"]["message"]


@pytest.mark.parametrize("path", [
    "/forms/tform%00/versions/2026112901/xform", "/forms/tform/versions/2026%00/manifest",
    "/forms/tform/versions/2026112901/media/a%00.png", "/formList?formID=%00",
])
def test_a_nul_in_an_openrosa_path_is_answered_as_xml_without_a_fault(site, path):
    r = site.enum.get(site.url + path, timeout=10)
    assert r.status_code in (200, 404), r.text
    assert r.headers["X-OpenRosa-Version"] == "1.0"
    assert r.content.startswith(b"<?xml")


def test_an_xlsform_whose_workbook_declares_a_doctype_is_refused(site):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label"])
    sheet.append(["text", "q1", "Q1"])
    plain = io.BytesIO()
    book.save(plain)
    hostile = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as src, \
            zipfile.ZipFile(hostile, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                data = (b'<!DOCTYPE w [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                        + data.replace(b'name="survey"', b'name="&e;"'))
            out.writestr(item, data)
    r = site.admin.post(f"{site.url}/api/v1/forms",
                        files={"file": ("hostile.xlsx", hostile.getvalue())}, timeout=30)
    assert r.status_code == 400 and error_code(r) == "xml_forbidden"
    assert "xl/workbook.xml" in r.json()["error"]["message"]


def test_a_chunked_push_is_read_and_one_over_the_limit_is_413(site):
    def chunks(body: bytes):
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096]

    ok = json.dumps(batch([household_record("CHUNKED")])).encode()
    r = site.enum.post(f"{site.url}/api/v1/sync/push", data=chunks(ok), timeout=30,
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "created"
    big = json.dumps(batch([household_record("X" * (LIMIT + 10))])).encode()
    before = stored_count(site)
    r = site.enum.post(f"{site.url}/api/v1/sync/push", data=chunks(big), timeout=30,
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "payload_too_large"
    assert stored_count(site) == before


def test_after_the_hand_found_cases_every_earlier_record_is_intact(site):
    assert_still_whole(site)


# Generated input -----------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def mutated(record: dict, path: list[str], value):
    out = json.loads(json.dumps(record))
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[path[-1]] = value
    return out


RECORD_PATHS = st.sampled_from([
    ["instance_id"], ["form_id"], ["form_version"], ["deprecated_id"], ["data"],
    ["data", "case_id"], ["data", "econ"], ["data", "econ", "age"], ["data", "members"],
    ["attachments"], ["origin"], ["scores"], ["flags"], ["review_state"], ["received_at"],
])


@FUZZ
@given(path=RECORD_PATHS, value=JSON, envelope=st.sampled_from(
    ["device_id", "batch_id", "submissions", "extra"]), envelope_value=JSON,
       touch_envelope=st.booleans())
def test_generated_push_bodies_are_never_a_server_fault(site, path, value, envelope,
                                                        envelope_value, touch_envelope):
    body = batch([mutated(household_record("GEN"), path, value)])
    if touch_envelope:
        body[envelope] = envelope_value
    r = push_raw(site, json.dumps(body).encode())
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.json()["error"]["message"]


@FUZZ
@given(raw=st.binary(max_size=300), encoding=st.sampled_from(["", "gzip", "br", "identity"]),
       spec=st.booleans())
def test_generated_raw_bodies_are_never_a_server_fault(site, raw, encoding, spec):
    headers = {"Content-Encoding": encoding} if encoding else {}
    if spec:  # the other door that reads a raw JSON body: a scoring spec
        r = site.admin.post(f"{site.url}/api/v1/scoring/specs", data=raw, timeout=30,
                            headers=headers)
        assert r.status_code in (400, 404, 409, 413, 422), r.text
    else:
        r = push_raw(site, raw, **headers)
        assert r.status_code in (400, 413, 415), r.text


LONE_SURROGATE = st.builds(lambda head, s: head + s, st.text(max_size=10),
                          st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
ANY_TEXT = st.text(max_size=20) | LONE_SURROGATE
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=10)
POSTS = ["/api/v1/users", "/api/v1/forms/tform/state", "/api/v1/outbox/retry",
         "/api/v1/scoring/specs", "/api/v1/account/password", "/api/v1/duplicates/1/resolve",
         "/api/v1/submissions/uuid:00000000-0000-0000-0000-000000000000/review",
         "/api/v1/users/fuzz-enum/password"]


@FUZZ
@given(path=st.sampled_from(POSTS), body=ANY_JSON | st.fixed_dictionaries(
    {"name": ANY_TEXT, "role": st.sampled_from(["analyst", "x"]), "password": ANY_TEXT}) |
    st.fixed_dictionaries({"state": ANY_TEXT, "comment": ANY_TEXT}))
def test_generated_json_bodies_on_every_json_route_are_never_a_server_fault(site, path, body):
    r = site.admin.post(site.url + path, data=json.dumps(body), timeout=30,
                        headers={"Content-Type": "application/json"})
    assert r.status_code < 500, (path, body, r.text[:300])


GET_PATHS = ["/api/v1/changes", "/api/v1/forms/tform/submissions", "/api/v1/review/queue",
             "/api/v1/duplicates", "/api/v1/scores/trends", "/api/v1/quarantine",
             "/api/v1/audit", "/api/v1/users", "/api/v1/scoring/jobs", "/formList",
             "/api/v1/outbox", "/api/v1/throttles"]
PARAMS = st.sampled_from(["since", "after", "limit", "format", "form_id", "by", "kind",
                          "state", "repeat", "country", "from", "to", "date_field", "raw",
                          "include", "formID", "verbose", "action", "enumerator", "x"])


@FUZZ
@given(path=st.sampled_from(GET_PATHS),
       params=st.lists(st.tuples(PARAMS, TEXT), max_size=4))
def test_generated_query_strings_are_never_a_server_fault(site, path, params):
    r = site.admin.get(site.url + path, params=params, timeout=30)
    assert r.status_code < 500, (path, params, r.text[:300])


SEGMENT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@FUZZ
@given(form_id=SEGMENT, version=SEGMENT, name=SEGMENT, instance=SEGMENT,
       which=st.integers(0, 5))
def test_generated_path_segments_are_never_a_server_fault(site, form_id, version, name,
                                                         instance, which):
    quote = requests.utils.quote
    f, v, n, i = (quote(x, safe="") for x in (form_id, version, name, instance))
    path = [f"/forms/{f}/versions/{v}/xform", f"/forms/{f}/versions/{v}/manifest",
            f"/forms/{f}/versions/{v}/media/{n}", f"/api/v1/forms/{f}",
            f"/api/v1/submissions/{i}", f"/api/v1/review/submissions/{i}"][which]
    r = site.admin.get(site.url + path, timeout=30)
    assert r.status_code < 500, (path, r.text[:300])


HEADER_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).map(
    str.strip)  # what an HTTP client can put in a header at all
AUTH = st.one_of(
    HEADER_TEXT,
    st.builds(lambda s: "Bearer " + s, HEADER_TEXT),
    st.builds(lambda b: "Basic " + b, HEADER_TEXT),
    st.builds(lambda params: "Digest " + ", ".join(f'{k}="{v}"' for k, v in params),
              st.lists(st.tuples(st.sampled_from(
                  ["username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce",
                   "opaque", "algorithm"]), HEADER_TEXT), max_size=10)),
)


@FUZZ
@given(auth=AUTH, path=st.sampled_from(["/formList", "/api/v1/forms", "/submission"]))
def test_generated_authorization_headers_are_never_a_server_fault(site, auth, path):
    try:
        header = auth.encode("latin-1")
    except UnicodeEncodeError:
        header = auth.encode("utf-8")
    r = requests.get(site.url + path, headers={"Authorization": header}, timeout=30)
    assert r.status_code in (200, 400, 401, 403, 405, 429), (auth, r.status_code, r.text)


XML_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@st.composite
def instances(draw):
    """Submissions shaped like Collect's, with generated names, values and attributes,
    sometimes cut short or prefixed with a declaration in another encoding."""
    from xml.sax.saxutils import escape, quoteattr

    root_id = draw(st.sampled_from(["tform", "rss", "", "nope"]) | XML_TEXT)
    version = draw(st.sampled_from(["2026112901", ""]) | XML_TEXT)
    fields = draw(st.lists(st.tuples(st.sampled_from(["case_id", "econ", "n", "x"]),
                                     XML_TEXT), max_size=4))
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields)
    iid = draw(st.sampled_from([f"uuid:{uuid.uuid4()}", "", "not-a-uuid"]) | XML_TEXT)
    xml = (f"<data id={quoteattr(root_id)} version={quoteattr(version)}>{body}"
           f"<meta><instanceID>{escape(iid)}</instanceID></meta></data>")
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    data = (f'<?xml version="1.0" encoding="{encoding}"?>' + xml).encode(encoding, "replace")
    cut = draw(st.integers(0, len(data)))
    return data if draw(st.booleans()) else data[:cut]


@FUZZ
@given(xml=instances() | st.binary(max_size=200))
def test_generated_xml_submissions_are_never_a_server_fault(site, xml):
    r = site.enum.post(f"{site.url}/submission", timeout=30,
                       files={"xml_submission_file": ("s.xml", xml, "text/xml")})
    assert r.status_code in (201, 202, 400, 409), (xml[:200], r.status_code, r.text[:300])


def test_after_the_generated_input_every_earlier_record_is_intact(site):
    assert_still_whole(site)
