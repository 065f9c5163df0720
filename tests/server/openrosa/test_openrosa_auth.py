"""OpenRosa authentication: Digest (RFC 2617, qop=auth, MD5) and Basic, with a
401 that challenges both, stateless nonces, replay and staleness, against one
live server run as it ships (`fieldsync serve`'s default two workers), shared
by the module; each test signs in with accounts of its own."""

from __future__ import annotations

import base64
import itertools
import threading
import time
import uuid

import pytest
import requests
from requests.auth import HTTPDigestAuth

from server.openrosa.digest import Nonces
from tests.helpers.accounts import challenge_of, digest_header
from tests.helpers.live import LiveServer

PASSWORD = "collect-pass-1"
_names = itertools.count(1)


def challenge(response: requests.Response) -> dict[str, str]:
    return challenge_of(response.raw.headers.getlist("WWW-Authenticate"))


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("openrosa-auth") / "auth.db").start()
    yield server
    server.stop()


@pytest.fixture
def enum1(live_server) -> str:
    """A fresh enumerator account with PASSWORD; its name."""
    name = f"enum{next(_names)}"
    live_server.token_for(name, "enumerator", PASSWORD)
    return name


def test_without_credentials_formlist_is_401_with_digest_and_basic_challenges(live_server):
    r = requests.get(f"{live_server.url}/formList", timeout=10)
    assert r.status_code == 401
    assert r.headers["X-OpenRosa-Version"] == "1.0"
    values = r.raw.headers.getlist("WWW-Authenticate")
    assert values[0].startswith("Digest ") and 'qop="auth"' in values[0]
    assert any(v.startswith("Basic realm=") for v in values)
    ch = challenge(r)
    assert ch["realm"] == "fieldsync" and ch["nonce"] and ch["opaque"]
    assert ch["algorithm"] == "MD5"


def test_requests_digest_auth_lists_forms_and_submits(live_server, enum1):
    s = requests.Session()
    s.auth = HTTPDigestAuth(enum1, PASSWORD)
    assert s.get(f"{live_server.url}/formList", timeout=10).status_code == 200
    for _ in range(3):  # the nonce is reused with a growing nc
        assert s.head(f"{live_server.url}/submission", timeout=10).status_code == 204


def test_a_hand_rolled_digest_response_is_accepted_with_or_without_algorithm(live_server,
                                                                             enum1):
    ch = challenge(requests.get(f"{live_server.url}/formList", timeout=10))
    for nc, algorithm in ((1, "MD5"), (2, None)):
        r = requests.get(f"{live_server.url}/formList", timeout=10, headers={
            "Authorization": digest_header(ch, enum1, PASSWORD, "GET", "/formList", nc,
                                           algorithm=algorithm)})
        assert r.status_code == 200, r.text


def test_a_replayed_digest_response_is_refused_as_stale(live_server, enum1):
    ch = challenge(requests.get(f"{live_server.url}/formList", timeout=10))
    header = {"Authorization": digest_header(ch, enum1, PASSWORD, "GET", "/formList", 1)}
    assert requests.get(f"{live_server.url}/formList", headers=header,
                        timeout=10).status_code == 200
    replay = requests.get(f"{live_server.url}/formList", headers=header, timeout=10)
    assert replay.status_code == 401
    assert "stale=true" in replay.raw.headers.getlist("WWW-Authenticate")[0]


def test_a_wrong_password_or_forged_nonce_is_401(live_server, enum1):
    ch = challenge(requests.get(f"{live_server.url}/formList", timeout=10))
    wrong = digest_header(ch, enum1, "not-the-password", "GET", "/formList", 1)
    forged = digest_header({**ch, "nonce": "1.2.3"}, enum1, PASSWORD, "GET", "/formList", 1)
    other_uri = digest_header(ch, enum1, PASSWORD, "GET", "/api/v1/forms", 2)
    for header in (wrong, forged, other_uri):
        r = requests.get(f"{live_server.url}/formList", headers={"Authorization": header},
                         timeout=10)
        assert r.status_code == 401


def test_an_expired_nonce_answers_stale_so_the_client_retries(live_server, enum1):
    requests.get(f"{live_server.url}/formList", timeout=10)  # the secret exists from here
    db = live_server.db()
    try:
        [secret] = db.execute("SELECT value FROM openrosa_secrets WHERE name = 'digest'"
                              ).fetchone()
    finally:
        db.close()
    old = Nonces(secret, clock=lambda: time.time() - 3600)  # signed, but an hour old
    ch = {"realm": "fieldsync", "nonce": old.issue(), "opaque": old.opaque}
    r = requests.get(f"{live_server.url}/formList", timeout=10, headers={
        "Authorization": digest_header(ch, enum1, PASSWORD, "GET", "/formList", 1)})
    assert r.status_code == 401
    assert "stale=true" in r.raw.headers.getlist("WWW-Authenticate")[0]
    # requests' HTTPDigestAuth takes the fresh challenge and succeeds
    assert requests.get(f"{live_server.url}/formList", timeout=10,
                        auth=HTTPDigestAuth(enum1, PASSWORD)).status_code == 200


def test_nonces_from_before_a_restart_still_verify(live_server, enum1):
    ch = challenge(requests.get(f"{live_server.url}/formList", timeout=10))
    live_server.restart()
    r = requests.get(f"{live_server.url}/formList", timeout=10, headers={
        "Authorization": digest_header(ch, enum1, PASSWORD, "GET", "/formList", 1)})
    assert r.status_code == 200


def test_basic_credentials_work_and_wrong_ones_are_401(live_server, enum1):
    for _ in range(2):  # the second is answered from the verified-credentials cache
        assert requests.get(f"{live_server.url}/formList", auth=(enum1, PASSWORD),
                            timeout=10).status_code == 200
    assert requests.get(f"{live_server.url}/formList", auth=(enum1, "wrong-pass"),
                        timeout=10).status_code == 401
    garbage = {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}
    assert requests.get(f"{live_server.url}/formList", headers=garbage,
                        timeout=10).status_code == 401


def test_a_changed_password_no_longer_opens_basic_or_digest(live_server, enum1):
    assert requests.get(f"{live_server.url}/formList", auth=(enum1, PASSWORD),
                        timeout=10).status_code == 200
    from server.accounts.users import set_password
    db = live_server.db()
    try:
        set_password(db, enum1, "a-new-password")
    finally:
        db.close()
    assert requests.get(f"{live_server.url}/formList", auth=(enum1, PASSWORD),
                        timeout=10).status_code == 401
    assert requests.get(f"{live_server.url}/formList", timeout=10,
                        auth=HTTPDigestAuth(enum1, "a-new-password")).status_code == 200


def test_an_account_without_ha1_gains_digest_after_one_basic_sign_in(live_server, enum1):
    db = live_server.db()
    try:
        db.execute("UPDATE users SET digest_ha1 = NULL WHERE name = ?", [enum1])
    finally:
        db.close()
    digest = HTTPDigestAuth(enum1, PASSWORD)
    url = f"{live_server.url}/formList"
    assert requests.get(url, auth=digest, timeout=10).status_code == 401
    assert requests.get(url, auth=(enum1, PASSWORD), timeout=10).status_code == 200
    assert requests.get(url, auth=HTTPDigestAuth(enum1, PASSWORD),
                        timeout=10).status_code == 200


def test_a_bearer_token_also_works_on_openrosa_routes(live_server):
    token = live_server.token_for("bearer-enum", "enumerator", PASSWORD)
    r = requests.head(f"{live_server.url}/submission", timeout=10,
                      headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204


def test_an_analyst_may_list_forms_but_not_submit(live_server):
    live_server.token_for("ana", "analyst", PASSWORD)
    auth = HTTPDigestAuth("ana", PASSWORD)
    assert requests.get(f"{live_server.url}/formList", auth=auth, timeout=10).status_code == 200
    r = requests.head(f"{live_server.url}/submission", auth=auth, timeout=10)
    assert r.status_code == 403 and r.headers["X-OpenRosa-Version"] == "1.0"


def rss_xml(case_id: str) -> bytes:
    return (f'<data id="rss" version="2026112901"><case_id>{case_id}</case_id>'
            f'<meta><instanceID>uuid:{uuid.uuid4()}</instanceID></meta></data>').encode()


def stored_by(server, name: str) -> int:
    db = server.db()
    try:
        return db.execute("SELECT count(*) FROM submissions WHERE submitted_by = ?",
                          [name]).fetchone()[0]
    finally:
        db.close()


def test_a_captured_digest_header_is_accepted_once_by_every_worker_whatever_the_body(
        live_server, enum1):
    ch = challenge(requests.get(f"{live_server.url}/formList", timeout=10))
    captured = digest_header(ch, enum1, PASSWORD, "POST", "/submission", 1)

    def post(i: int) -> int:
        files = {"xml_submission_file": ("s.xml", rss_xml(f"REPLAY-{i}"), "text/xml")}
        with requests.Session() as fresh:  # a new connection: either worker may answer
            return fresh.post(f"{live_server.url}/submission", files=files, timeout=30,
                              headers={"Authorization": captured}).status_code

    statuses = [post(0)]
    threads = [threading.Thread(target=lambda i=i: statuses.append(post(i)))
               for i in range(1, 11)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses += [post(i) for i in range(11, 21)]
    assert statuses[0] == 201
    assert sorted(statuses[1:]) == [401] * 20
    assert stored_by(live_server, enum1) == 1


def test_guesses_counted_by_one_worker_block_the_other(live_server, enum1):
    def basic(password: str) -> requests.Response:
        with requests.Session() as fresh:
            return fresh.get(f"{live_server.url}/formList", auth=(enum1, password),
                             timeout=30)

    assert [basic(f"guess-{i}").status_code for i in range(6)] == [401] * 6
    refused = basic(PASSWORD)  # within the second the sixth failure earned
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    db = live_server.db()
    try:
        failures = db.execute("SELECT failures FROM login_throttles WHERE key = ?",
                              [f"user:{enum1}"]).fetchone()[0]
    finally:
        db.close()
    assert failures == 6  # each worker's failures, counted in one place
