"""Every endpoint checks the caller's role: the matrix endpoint x role, over HTTP.

The expectations are written here by hand from docs/API.md (who holds which
permission, and what a successful call answers), not read from the code's
permission table: an allowed role must get the endpoint's success status, a
role without the permission 403 `forbidden`, no credentials 401, a revoked
token 401 and a disabled account 403 `account_disabled`. Each case builds a
request that succeeds (real forms, records, matches, media), fresh per role
where a call changes state.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from server.accounts import keys
from server.app import create_app
from server.enketo import media
from tests.helpers.live import LiveServer

ROLES = ("admin", "supervisor", "enumerator", "analyst", "peer")
PASSWORD = "roles-pass-1234"
HOUSEHOLD = (Path(__file__).resolve().parents[2] / "fixtures" / "household.md").read_bytes()

# docs/API.md, "Roles and what they hold"
EVERYONE = set(ROLES)
PEOPLE = {"admin", "supervisor", "enumerator", "analyst"}
ADMIN = {"admin"}
CREATORS = {"admin", "supervisor", "enumerator"}
PUSHERS = {"admin", "supervisor", "enumerator", "peer"}
READERS = {"admin", "supervisor", "analyst"}
REVIEWERS = {"admin", "supervisor"}


@dataclass
class Case:
    roles: set[str]
    status: int
    make: object  # (server, role) -> dict of requests.request keyword arguments


def plain(path: str, **kw):
    return lambda s, role: {"url": path.format(s=s), **kw}


def rss_xml(s, role: str) -> bytes:
    return (f'<data id="rss" version="{s.rss_version}"><case_id>ROLE-{role}</case_id>'
            f'<meta><instanceID>uuid:{uuid.uuid4()}</instanceID></meta></data>').encode()


def record(s, case_id: str, round_: str = "baseline") -> dict:
    return {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
            "form_version": s.rss_version,
            "data": {"case_id": case_id, "survey_round": round_,
                     "interview_date": "2026-01-15", "country_of_return": "GIN"}}


def push_body(s, role):
    return {"json": {"device_id": f"dev-{role}", "batch_id": str(uuid.uuid4()),
                     "submissions": [record(s, f"PUSH-{role}")]}}


def attachment(s, role):
    data = f"bytes of {role} {uuid.uuid4()}".encode()
    return {"url": f"/api/v1/attachments/{hashlib.sha256(data).hexdigest()}", "data": data}


def target(s, role, action):
    """A user of its own for each role's call that changes an account."""
    name = f"target-{action}-{role}"
    if name not in s.targets:
        s.token_for(name, "enumerator", PASSWORD)
        s.targets.add(name)
    return name


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/health"): Case(EVERYONE, 200, plain("/api/v1/health")),
    ("GET", "/api/v1/forms"): Case(PEOPLE, 200, plain("/api/v1/forms")),
    ("POST", "/api/v1/forms"): Case(ADMIN, 201, plain(
        "/api/v1/forms", files={"file": ("household.md", HOUSEHOLD)})),
    ("GET", "/api/v1/forms/<form_id>"): Case(PEOPLE, 200, plain("/api/v1/forms/rss")),
    ("POST", "/api/v1/forms/<form_id>/state"): Case(ADMIN, 200, plain(
        "/api/v1/forms/rss/state", json={"state": "open"})),
    ("GET", "/api/v1/forms/<form_id>/versions/<version>/xform"): Case(PEOPLE, 200, plain(
        "/api/v1/forms/rss/versions/{s.rss_version}/xform")),
    ("POST", "/api/v1/forms/<form_id>/versions/<version>/media"): Case(ADMIN, 201, plain(
        "/api/v1/forms/rss/versions/{s.rss_version}/media",
        files={"file": ("banner.png", b"\x89PNG banner")})),
    ("GET", "/api/v1/forms/<form_id>/versions/<version>/media"): Case(PEOPLE, 200, plain(
        "/api/v1/forms/rss/versions/{s.rss_version}/media")),
    ("GET", "/api/v1/forms/<form_id>/submissions"): Case(READERS, 200, plain(
        "/api/v1/forms/rss/submissions?format=csv")),
    ("POST", "/api/v1/sync/push"): Case(PUSHERS, 200, lambda s, role: {
        "url": "/api/v1/sync/push", **push_body(s, role)}),
    ("PUT", "/api/v1/attachments/<sha256>"): Case(PUSHERS, 201, attachment),
    ("GET", "/api/v1/attachments/<sha256>"): Case(READERS, 200, plain(
        "/api/v1/attachments/{s.blob}")),
    ("GET", "/api/v1/changes"): Case(READERS, 200, plain("/api/v1/changes?since=0")),
    ("GET", "/api/v1/submissions/<path:instance_id>"): Case(READERS, 200, plain(
        "/api/v1/submissions/{s.instance_id}")),
    ("GET", "/api/v1/submissions/<path:instance_id>/scores"): Case(READERS, 200, plain(
        "/api/v1/submissions/{s.instance_id}/scores")),
    ("POST", "/api/v1/submissions/<path:instance_id>/review"): Case(REVIEWERS, 200, plain(
        "/api/v1/submissions/{s.instance_id}/review", json={"state": "approved"})),
    ("GET", "/api/v1/quarantine"): Case(REVIEWERS, 200, plain("/api/v1/quarantine")),
    ("GET", "/api/v1/review/queue"): Case(REVIEWERS, 200, plain("/api/v1/review/queue")),
    ("GET", "/api/v1/review/submissions/<path:instance_id>"): Case(REVIEWERS, 200, plain(
        "/api/v1/review/submissions/{s.instance_id}")),
    ("GET", "/api/v1/duplicates"): Case(REVIEWERS, 200, plain("/api/v1/duplicates")),
    ("POST", "/api/v1/duplicates/<int:match_id>/resolve"): Case(REVIEWERS, 200, lambda s, role: {
        "url": f"/api/v1/duplicates/{s.matches.get(role, 0)}/resolve",
        "json": {"action": "keep_both"}}),
    ("POST", "/api/v1/scoring/specs"): Case(ADMIN, 200, lambda s, role: {  # as published
        "url": "/api/v1/scoring/specs", "json": s.spec_document}),
    ("GET", "/api/v1/scoring/specs"): Case(PEOPLE, 200, plain("/api/v1/scoring/specs")),
    ("GET", "/api/v1/scoring/specs/<version>"): Case(PEOPLE, 200, plain(
        "/api/v1/scoring/specs/rss-v1")),
    ("GET", "/api/v1/scoring/jobs"): Case(READERS, 200, plain("/api/v1/scoring/jobs")),
    ("GET", "/api/v1/scores/trends"): Case(READERS, 200, plain(
        "/api/v1/scores/trends?form_id=rss&by=country")),
    ("GET", "/api/v1/outbox"): Case(ADMIN, 200, plain("/api/v1/outbox")),
    ("POST", "/api/v1/outbox/retry"): Case(ADMIN, 200, plain("/api/v1/outbox/retry",
                                                              json={})),
    ("GET", "/api/v1/users"): Case(ADMIN, 200, plain("/api/v1/users")),
    ("POST", "/api/v1/users"): Case(ADMIN, 201, lambda s, role: {
        "url": "/api/v1/users", "json": {"name": f"new-{role}", "role": "analyst"}}),
    ("DELETE", "/api/v1/users/<name>"): Case(ADMIN, 200, lambda s, role: {
        "url": f"/api/v1/users/{target(s, role, 'delete')}"}),
    ("POST", "/api/v1/users/<name>/disable"): Case(ADMIN, 200, lambda s, role: {
        "url": f"/api/v1/users/{target(s, role, 'disable')}/disable"}),
    ("POST", "/api/v1/users/<name>/enable"): Case(ADMIN, 200, lambda s, role: {
        "url": f"/api/v1/users/{target(s, role, 'enable')}/enable"}),
    ("POST", "/api/v1/users/<name>/password"): Case(ADMIN, 200, lambda s, role: {
        "url": f"/api/v1/users/{target(s, role, 'reset')}/password",
        "json": {"password": "a-new-password"}}),
    ("POST", "/api/v1/account/password"): Case(PEOPLE, 200, plain(
        "/api/v1/account/password", json={"old_password": PASSWORD,
                                          "new_password": PASSWORD})),
    ("POST", "/api/v1/users/<name>/tokens"): Case(ADMIN, 201, lambda s, role: {
        "url": f"/api/v1/users/{target(s, role, 'token')}/tokens"}),
    ("DELETE", "/api/v1/users/<name>/tokens"): Case(ADMIN, 200, lambda s, role: {
        "url": f"/api/v1/users/{target(s, role, 'revoke')}/tokens"}),
    ("GET", "/api/v1/throttles"): Case(ADMIN, 200, plain("/api/v1/throttles")),
    ("DELETE", "/api/v1/throttles/<path:key>"): Case(ADMIN, 200, lambda s, role: {
        "url": f"/api/v1/throttles/user:{s.throttled()}"}),
    ("GET", "/api/v1/audit"): Case(ADMIN, 200, plain("/api/v1/audit")),
    ("GET", "/formList"): Case(PEOPLE, 200, plain("/formList")),
    ("GET", "/forms/<form_id>/versions/<version>/xform"): Case(PEOPLE, 200, plain(
        "/forms/rss/versions/{s.rss_version}/xform")),
    ("GET", "/forms/<form_id>/versions/<version>/manifest"): Case(PEOPLE, 200, plain(
        "/forms/rss/versions/{s.rss_version}/manifest")),
    ("GET", "/forms/<form_id>/versions/<version>/media/<name>"): Case(PEOPLE, 200, plain(
        "/forms/rss/versions/{s.rss_version}/media/logo.png")),
    ("HEAD", "/submission"): Case(CREATORS, 204, plain("/submission")),
    ("POST", "/submission"): Case(CREATORS, 201, lambda s, role: {
        "url": "/submission",
        "files": {"xml_submission_file": ("s.xml", rss_xml(s, role), "text/xml")}}),
    # Web forms in Enketo and public links (docs/enketo.md). This server has no Enketo
    # set up: a call that must ask Enketo answers 409 enketo_not_configured once the
    # role is allowed. A public link's door and a signed attachment URL need no
    # account: the link's token or the URL's signature is the credential.
    ("GET", "/api/v1/forms/<name:form_id>/enketo"): Case(PEOPLE, 200, plain(
        "/api/v1/forms/rss/enketo")),
    ("POST", "/api/v1/forms/<name:form_id>/enketo"): Case(ADMIN, 409, plain(
        "/api/v1/forms/rss/enketo")),
    ("POST", "/api/v1/submissions/<path:instance_id>/enketo-edit"): Case(REVIEWERS, 409, plain(
        "/api/v1/submissions/{s.instance_id}/enketo-edit")),
    ("GET", "/api/v1/forms/<name:form_id>/public-links"): Case(ADMIN, 200, plain(
        "/api/v1/forms/rss/public-links")),
    ("POST", "/api/v1/forms/<name:form_id>/public-links"): Case(ADMIN, 201, plain(
        "/api/v1/forms/rss/public-links", json={"label": "roles"})),
    ("DELETE", "/api/v1/public-links/<int:link_id>"): Case(ADMIN, 200, lambda s, role: {
        "url": f"/api/v1/public-links/{public_link(s, 'to-revoke')['id']}"}),
    ("GET", "/api/v1/enketo/media/<instance_id>/<token>/<name>"): Case(
        EVERYONE, 200, lambda s, role: {"url": signed_media(s)}),
    ("GET", "/public/<token>/formList"): Case(EVERYONE, 200, lambda s, role: {
        "url": door(s, "/formList")}),
    ("GET", "/public/<token>/forms/<name:form_id>/versions/<name:version>/xform"): Case(
        EVERYONE, 200, lambda s, role: {
            "url": door(s, f"/forms/rss/versions/{s.rss_version}/xform")}),
    ("GET", "/public/<token>/forms/<name:form_id>/versions/<name:version>/manifest"): Case(
        EVERYONE, 200, lambda s, role: {
            "url": door(s, f"/forms/rss/versions/{s.rss_version}/manifest")}),
    ("GET", "/public/<token>/forms/<name:form_id>/versions/<name:version>/media/<name>"): Case(
        EVERYONE, 200, lambda s, role: {
            "url": door(s, f"/forms/rss/versions/{s.rss_version}/media/logo.png")}),
    ("HEAD", "/public/<token>/submission"): Case(EVERYONE, 204, lambda s, role: {
        "url": door(s, "/submission")}),
    ("POST", "/public/<token>/submission"): Case(EVERYONE, 201, lambda s, role: {
        "url": door(s, "/submission"),
        "files": {"xml_submission_file": ("s.xml", rss_xml(s, f"public-{role}"), "text/xml")}}),
}


def public_link(s, purpose: str) -> dict:
    """A public link to the RSS form made by the admin, one per purpose."""
    links = s.__dict__.setdefault("public_links", {})
    if purpose not in links:
        r = requests.post(f"{s.url}/api/v1/forms/rss/public-links", json={"label": purpose},
                          headers={"Authorization": f"Bearer {s.tokens['admin']}"}, timeout=30)
        assert r.status_code == 201, r.text
        links[purpose] = r.json()
    return links[purpose]


def door(s, path: str) -> str:
    """A path under the public link's OpenRosa door."""
    return urlsplit(public_link(s, "door")["server_url"]).path + path


def signed_media(s) -> str:
    """A signed attachment path of a record holding a file (as Enketo gets it)."""
    if not hasattr(s, "signed_path"):
        rec = {**record(s, "SIGNED"), "attachments": [{"name": "p.jpg", "sha256": s.blob}]}
        r = requests.post(f"{s.url}/api/v1/sync/push", timeout=30, json={
            "device_id": "signed", "batch_id": str(uuid.uuid4()), "submissions": [rec]},
            headers={"Authorization": f"Bearer {s.tokens['enumerator']}"})
        assert r.status_code == 200, r.text
        key = keys.derive(keys.load_or_create_key(f"{s.db_path}.key"), media.PURPOSE)
        s.signed_path = urlsplit(media.media_url(
            "", key, rec["instance_id"], "p.jpg", int(time.time()) + 3600)).path
    return s.signed_path


def endpoints():
    app = create_app({"DATABASE": ":memory:"})
    out = []
    for rule in app.url_map.iter_rules():
        # The console's pages sign in with a cookie session, not a bearer token:
        # tests/server/console/test_console_roles.py walks them with each role.
        if rule.endpoint == "static" or rule.endpoint.startswith("console."):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}) or ["HEAD"]:
            out.append((method, rule.rule, getattr(view, "permission", None)))
    return out


ENDPOINTS = endpoints()


def test_every_endpoint_declares_a_permission():
    assert [(m, r) for m, r, perm in ENDPOINTS if perm is None] == []


def test_every_endpoint_has_a_hand_written_expectation():
    assert sorted({(m, r) for m, r, _ in ENDPOINTS} - set(CASES)) == []
    assert sorted(set(CASES) - {(m, r) for m, r, _ in ENDPOINTS}) == []


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("roles") / "roles.db").start()
    try:
        _prepare(live)
    except BaseException:
        live.stop()  # a failed set-up must not leave the server running
        raise
    yield live
    live.stop()


def _prepare(live) -> None:
    """Accounts, a record, a blob, media and two duplicate matches to act on."""
    live.tokens = {role: live.token_for(f"user_{role}", role, PASSWORD) for role in ROLES}
    live.revoked = live.token_for("revoked_admin", "admin")
    live.disabled = live.token_for("disabled_admin", "admin")
    admin = live.session(live.tokens["admin"])
    url = live.url
    assert admin.delete(f"{url}/api/v1/users/revoked_admin/tokens").status_code == 200
    assert admin.post(f"{url}/api/v1/users/disabled_admin/disable").status_code == 200
    live.rss_version = admin.get(f"{url}/api/v1/forms/rss").json()["current_version"]
    live.spec_document = admin.get(f"{url}/api/v1/scoring/specs/rss-v1").json()["document"]
    assert admin.post(f"{url}/api/v1/forms/rss/versions/{live.rss_version}/media",
                      files={"file": ("logo.png", b"\x89PNG logo")}).status_code == 201
    enum = live.session(live.tokens["enumerator"])
    pairs = [record(live, f"DUP-{i}") for i in range(2) for _ in range(2)]
    first = record(live, "SHOWN")
    r = enum.post(f"{url}/api/v1/sync/push", json={
        "device_id": "setup", "batch_id": "setup-1", "submissions": [first, *pairs]})
    assert r.status_code == 200, r.text
    live.instance_id = first["instance_id"]
    blob = b"a photo"
    live.blob = hashlib.sha256(blob).hexdigest()
    assert enum.put(f"{url}/api/v1/attachments/{live.blob}", data=blob).status_code == 201
    matches = admin.get(f"{url}/api/v1/duplicates").json()["duplicates"]
    assert len(matches) == 2
    live.matches = {"admin": matches[0]["match_id"], "supervisor": matches[1]["match_id"]}

    def throttled() -> str:
        name = f"ghost-{uuid.uuid4().hex[:8]}"
        requests.get(f"{url}/formList", auth=(name, "guess"), timeout=10)
        return name

    live.throttled = throttled
    live.targets = set()


@pytest.mark.parametrize("method,rule,permission", ENDPOINTS,
                         ids=[f"{m} {r}" for m, r, _ in ENDPOINTS])
def test_role_matrix(server, method, rule, permission):
    case = CASES[(method, rule)]

    def send(role, token):
        return _send(server, case, method, role, token)

    anonymous = send("admin", None)
    if case.roles == EVERYONE:
        assert anonymous.status_code == case.status
    else:
        assert anonymous.status_code == 401
        assert send("admin", server.revoked).status_code == 401
        disabled = send("admin", server.disabled)
        assert disabled.status_code == 403
        if method != "HEAD":
            assert _code(disabled) == "account_disabled"
    for role in ROLES:
        r = send(role, server.tokens[role])
        if role in case.roles:
            assert r.status_code == case.status, (role, r.status_code, r.text[:300])
        else:
            assert r.status_code == 403, (role, r.status_code)
            if method != "HEAD":
                assert _code(r) == "forbidden"


def _send(server, case, method, role, token):
    kw = case.make(server, role)
    headers = dict(kw.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, server.url + kw.pop("url"), headers=headers,
                            timeout=30, **kw)


def _code(response) -> str:
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.json()["error"]["code"]
    text = response.text  # an OpenRosaResponse: the message names no code, the status does
    return {403: "forbidden" if "may not do this" in text else "account_disabled"}.get(
        response.status_code, text)


def test_wrong_scheme_and_garbage_token_are_401_with_a_hint(server):
    r = requests.get(f"{server.url}/api/v1/forms", headers={"Authorization": "Token abc"})
    assert r.status_code == 401 and "Bearer" in r.json()["error"]["message"]
    r = requests.get(f"{server.url}/api/v1/forms", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid"
