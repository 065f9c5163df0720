"""Every endpoint checks the caller's role: the matrix endpoint x role, over HTTP.

The expectations are written here by hand from docs/API.md, docs/central-api.md
and docs/console.md (who holds which permission, and what a successful call
answers), not read from the code's permission table: an allowed role must get
the endpoint's success status, a role without the permission 403 `forbidden`.
Each case builds a request that succeeds (real forms, records, matches, media,
entities), fresh per role where a call changes state. One matrix, three doors,
each refusing the unauthenticated its own way:

- the JSON API and OpenRosa (bearer tokens): no credentials 401, a revoked token
  401, a disabled account's token 403 `account_disabled`;
- the Central API and OData under /v1: every role is tried with its fieldsync
  token, Basic credentials and a Central session (POST /v1/sessions), each
  expected to answer the same; no credentials 401 with a Basic challenge; a
  disabled account 403 `account_disabled` with its token and Central's 401
  `credentials_invalid` with Basic or the session it held before;
- the web console (a cookie session per role, CSRF token on every form): no
  session, or a session of an account disabled since, leads to the sign-in page;
  a role without the permission gets a 403 page.

A `peer` holds only the forwarding door (`sync.push`): 403 everywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sqlite3
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
PHOTO = b"a photo"
PNG = b"\x89PNG banner"

# docs/API.md, "Roles and what they hold"
EVERYONE = set(ROLES)
PEOPLE = {"admin", "supervisor", "enumerator", "analyst"}
ADMIN = {"admin"}
CREATORS = {"admin", "supervisor", "enumerator"}
PUSHERS = {"admin", "supervisor", "enumerator", "peer"}
READERS = {"admin", "supervisor", "analyst"}
REVIEWERS = {"admin", "supervisor"}
DUE_READERS = {"admin", "supervisor", "analyst", "enumerator"}
SERVICE = "/v1/projects/1/forms/rss"


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


def record(s, case_id: str, round_: str = "baseline", **extra) -> dict:
    return {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
            "form_version": s.rss_version,
            "data": {"case_id": case_id, "survey_round": round_,
                     "interview_date": "2026-01-15", "country_of_return": "GIN",
                     "return_date": "2025-09-01"}, **extra}


def entity_block(entity_id: str, *, create: bool) -> dict:
    return {"dataset": "returnees", "id": entity_id, "create": "1" if create else "0",
            "update": "0" if create else "1", "baseVersion": "" if create else "1",
            "trunkVersion": "", "branchId": "", "label": entity_id[:8]}


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


def central_edit(s, role) -> dict:
    """Central's PUT of the record kept for edits: its XML edited, replacing whichever
    version is current when the call is made."""
    [current] = s.reader.execute("SELECT instance_id FROM submissions WHERE logical_id = ? "
                                 "AND state = 'current'", [s.edit_id]).fetchone()
    xml = (f'<data id="rss" version="{s.rss_version}"><case_id>EDITED-{role}</case_id>'
           f'<meta><instanceID>uuid:{uuid.uuid4()}</instanceID>'
           f'<deprecatedID>{current}</deprecatedID></meta></data>').encode()
    return {"url": f"{SERVICE}/submissions/{s.edit_id}", "data": xml}


def central_session(s, role) -> str:
    r = requests.post(f"{s.url}/v1/sessions", timeout=30,
                      json={"email": f"user_{role}", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["token"]


API_CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/health"): Case(EVERYONE, 200, plain("/api/v1/health")),
    ("GET", "/api/v1/forms"): Case(PEOPLE, 200, plain("/api/v1/forms")),
    ("POST", "/api/v1/forms"): Case(ADMIN, 201, plain(
        "/api/v1/forms", files={"file": ("household.md", HOUSEHOLD)})),
    ("GET", "/api/v1/forms/<name:form_id>"): Case(PEOPLE, 200, plain("/api/v1/forms/rss")),
    ("POST", "/api/v1/forms/<name:form_id>/state"): Case(ADMIN, 200, plain(
        "/api/v1/forms/rss/state", json={"state": "open"})),
    ("GET", "/api/v1/forms/<name:form_id>/versions/<name:version>/xform"): Case(
        PEOPLE, 200, plain("/api/v1/forms/rss/versions/{s.rss_version}/xform")),
    ("POST", "/api/v1/forms/<name:form_id>/versions/<name:version>/media"): Case(
        ADMIN, 201, plain("/api/v1/forms/rss/versions/{s.rss_version}/media",
                          files={"file": ("banner.png", PNG)})),
    ("GET", "/api/v1/forms/<name:form_id>/versions/<name:version>/media"): Case(
        PEOPLE, 200, plain("/api/v1/forms/rss/versions/{s.rss_version}/media")),
    ("GET", "/api/v1/forms/<name:form_id>/submissions"): Case(READERS, 200, plain(
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
    ("POST", "/api/v1/submissions/<path:instance_id>/comments"): Case(REVIEWERS, 200, plain(
        "/api/v1/submissions/{s.instance_id}/comments", json={"comment": "call back"})),
    ("GET", "/api/v1/quarantine"): Case(REVIEWERS, 200, plain("/api/v1/quarantine")),
    ("GET", "/api/v1/review/queue"): Case(REVIEWERS, 200, plain("/api/v1/review/queue")),
    ("GET", "/api/v1/review/submissions/<path:instance_id>"): Case(REVIEWERS, 200, plain(
        "/api/v1/review/submissions/{s.instance_id}")),
    ("GET", "/api/v1/duplicates"): Case(REVIEWERS, 200, plain("/api/v1/duplicates")),
    ("GET", "/api/v1/duplicates/<int:match_id>"): Case(REVIEWERS, 200, plain(
        "/api/v1/duplicates/{s.matches[shown]}")),
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
    ("GET", "/api/v1/scores/trajectories"): Case(READERS, 200, plain(
        "/api/v1/scores/trajectories?form_id=rss")),
    ("GET", "/api/v1/scores/changes"): Case(READERS, 200, plain(
        "/api/v1/scores/changes?form_id=rss&from=baseline&to=6m")),
    ("GET", "/api/v1/overview"): Case(READERS, 200, plain("/api/v1/overview")),
    ("GET", "/api/v1/devices"): Case(READERS, 200, plain("/api/v1/devices")),
    ("GET", "/api/v1/forms/<name:form_id>/records"): Case(READERS, 200, plain(
        "/api/v1/forms/rss/records?flagged=yes")),
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
    # entity lists, conflicts, teams, due lists (docs/entities.md)
    ("GET", "/api/v1/lists"): Case(READERS, 200, plain("/api/v1/lists")),
    ("GET", "/api/v1/lists/<name>"): Case(READERS, 200, plain("/api/v1/lists/returnees")),
    ("PUT", "/api/v1/lists/<name>"): Case(REVIEWERS, 200, plain(
        "/api/v1/lists/returnees", json={"key_property": "case_id"})),
    ("GET", "/api/v1/lists/<name>/entities/<entity_id>"): Case(READERS, 200, plain(
        "/api/v1/lists/returnees/entities/{s.entity_id}")),
    ("GET", "/api/v1/lists/<name>/export"): Case(READERS, 200, plain(
        "/api/v1/lists/returnees/export")),
    ("POST", "/api/v1/lists/<name>/import"): Case(REVIEWERS, 201, lambda s, role: {
        "url": f"/api/v1/lists/visits-{role}/import?dry_run=false",
        "files": {"file": ("cases.csv", f"label,district\nCase of {role},Kindia\n".encode())}}),
    ("GET", "/api/v1/entity-conflicts"): Case(READERS, 200, plain("/api/v1/entity-conflicts")),
    ("GET", "/api/v1/entity-conflicts/<int:conflict_id>"): Case(READERS, 200, plain(
        "/api/v1/entity-conflicts/{s.conflicts[shown]}")),
    ("POST", "/api/v1/entity-conflicts/<int:conflict_id>/resolve"): Case(
        REVIEWERS, 200, lambda s, role: {
            "url": f"/api/v1/entity-conflicts/{s.conflicts.get(role, 0)}/resolve",
            "json": {"action": "dismiss", "comment": "no such returnee"}}),
    ("GET", "/api/v1/teams"): Case(READERS, 200, plain("/api/v1/teams")),
    ("PUT", "/api/v1/teams/<team>"): Case(REVIEWERS, 200, lambda s, role: {
        "url": f"/api/v1/teams/team-{role}", "json": {"members": ["user_enumerator"]}}),
    ("GET", "/api/v1/forms/<name:form_id>/due"): Case(DUE_READERS, 200, plain(
        "/api/v1/forms/rss/due")),
    ("GET", "/api/v1/forms/<name:form_id>/due/schedule"): Case(DUE_READERS, 200, plain(
        "/api/v1/forms/rss/due/schedule")),
    ("PUT", "/api/v1/forms/<name:form_id>/due/schedule"): Case(REVIEWERS, 200, plain(
        "/api/v1/forms/rss/due/schedule", json={
            "rounds": [{"name": "baseline", "months": 0}, {"name": "6m", "months": 6},
                       {"name": "12m", "months": 12}, {"name": "18m", "months": 18}],
            "due_before_days": 30, "overdue_after_days": 30})),
    # OpenRosa (docs/openrosa.md)
    ("GET", "/formList"): Case(PEOPLE, 200, plain("/formList")),
    ("GET", "/forms/<name:form_id>/versions/<name:version>/xform"): Case(PEOPLE, 200, plain(
        "/forms/rss/versions/{s.rss_version}/xform")),
    ("GET", "/forms/<name:form_id>/versions/<name:version>/manifest"): Case(
        PEOPLE, 200, plain("/forms/rss/versions/{s.rss_version}/manifest")),
    ("GET", "/forms/<name:form_id>/versions/<name:version>/media/<name>"): Case(
        PEOPLE, 200, plain("/forms/rss/versions/{s.rss_version}/media/logo.png")),
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

# docs/central-api.md: forms for people, submissions and OData for readers, review
# states for reviewers, submitting for creators; one's own session for people.
CENTRAL_CASES: dict[tuple[str, str], Case] = {
    ("POST", "/v1/sessions"): Case(EVERYONE, 200, lambda s, role: {
        "url": "/v1/sessions", "json": {"email": f"user_{role}", "password": PASSWORD}}),
    ("DELETE", "/v1/sessions/<token>"): Case(PEOPLE, 200, lambda s, role: {
        "url": f"/v1/sessions/{central_session(s, role)}"}),
    ("GET", "/v1/users/current"): Case(PEOPLE, 200, plain("/v1/users/current")),
    ("GET", "/v1/projects"): Case(PEOPLE, 200, plain("/v1/projects")),
    ("GET", "/v1/projects/<int:project_id>"): Case(PEOPLE, 200, plain("/v1/projects/1")),
    ("GET", "/v1/projects/<int:project_id>/forms"): Case(PEOPLE, 200, plain(
        "/v1/projects/1/forms")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>"): Case(PEOPLE, 200, plain(
        SERVICE)),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>.xml"): Case(PEOPLE, 200, plain(
        SERVICE + ".xml")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>/versions"): Case(
        PEOPLE, 200, plain(SERVICE + "/versions")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>/fields"): Case(
        PEOPLE, 200, plain(SERVICE + "/fields?odata=true")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions"): Case(
        READERS, 200, plain(SERVICE + "/submissions")),
    ("POST", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions"): Case(
        CREATORS, 200, lambda s, role: {
            "url": SERVICE + "/submissions", "data": rss_xml(s, role),
            "headers": {"Content-Type": "application/xml"}}),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions.csv.zip"): Case(
        READERS, 200, plain(SERVICE + "/submissions.csv.zip?attachments=false")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions.csv"): Case(
        READERS, 200, plain(SERVICE + "/submissions.csv")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions/<instance_id>"): Case(
        READERS, 200, plain(SERVICE + "/submissions/{s.instance_id}")),
    ("PATCH", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions/<instance_id>"): Case(
        REVIEWERS, 200, plain(SERVICE + "/submissions/{s.instance_id}",
                              json={"reviewState": "approved"})),
    ("PUT", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions/<instance_id>"):
        Case(REVIEWERS, 200, lambda s, role: central_edit(s, role)),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions/<instance_id>"
            "/comments"): Case(READERS, 200, plain(
                SERVICE + "/submissions/{s.instance_id}/comments")),
    ("POST", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions/<instance_id>"
             "/comments"): Case(REVIEWERS, 200, plain(
                 SERVICE + "/submissions/{s.instance_id}/comments",
                 json={"body": "Call back: the phone number is missing."})),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions/<instance_id>"
            "/attachments"): Case(READERS, 200, plain(
                SERVICE + "/submissions/{s.instance_id}/attachments")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions/<instance_id>"
            "/attachments/<filename>"): Case(READERS, 200, plain(
                SERVICE + "/submissions/{s.instance_id}/attachments/photo.jpg")),
    ("POST", "/v1/projects/<int:project_id>/forms/<name:form_id>/submissions/<instance_id>"
             "/attachments/<filename>"): Case(CREATORS, 200, plain(
                 SERVICE + "/submissions/{s.instance_id}/attachments/photo.jpg", data=PHOTO)),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>.svc"): Case(READERS, 200, plain(
        SERVICE + ".svc")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>.svc/"): Case(READERS, 200, plain(
        SERVICE + ".svc/")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>.svc/$metadata"): Case(
        READERS, 200, plain(SERVICE + ".svc/$metadata")),
    ("GET", "/v1/projects/<int:project_id>/forms/<name:form_id>.svc/<path:table>"): Case(
        READERS, 200, plain(SERVICE + ".svc/Submissions?$top=5")),
}

# docs/console.md, "Pages" (and docs/API.md, "Web console"): a page answers 200,
# a form sent answers with a redirect to the page that shows its outcome.
CONSOLE_CASES: dict[tuple[str, str], Case] = {
    ("GET", "/login"): Case(EVERYONE, 200, plain("/login")),
    ("POST", "/login"): Case(EVERYONE, 302, lambda s, role: {
        "url": "/login", "data": {"username": f"user_{role}", "password": PASSWORD}}),
    ("POST", "/logout"): Case(EVERYONE, 302, plain("/logout")),
    ("GET", "/"): Case(READERS, 200, plain("/")),
    ("GET", "/devices"): Case(READERS, 200, plain("/devices")),
    ("GET", "/forms"): Case(PEOPLE, 200, plain("/forms")),
    ("POST", "/forms"): Case(ADMIN, 302, plain(
        "/forms", files={"file": ("household.md", HOUSEHOLD)})),
    ("GET", "/forms/<name:form_id>"): Case(PEOPLE, 200, plain("/forms/rss")),
    ("POST", "/forms/<name:form_id>/collect-qr"): Case(REVIEWERS, 200, plain(
        "/forms/rss/collect-qr", data={"enumerator": "user_enumerator"})),
    ("POST", "/forms/<name:form_id>/state"): Case(ADMIN, 302, plain(
        "/forms/rss/state", data={"state": "open"})),
    ("POST", "/forms/<name:form_id>/media"): Case(ADMIN, 302, plain(
        "/forms/rss/media", files={"file": ("poster.png", PNG)})),
    ("POST", "/forms/<name:form_id>/rules"): Case(ADMIN, 302, plain("/forms/rss/rules")),
    ("GET", "/forms/<name:form_id>/submissions"): Case(READERS, 200, plain(
        "/forms/rss/submissions")),
    ("GET", "/forms/<name:form_id>/export"): Case(READERS, 200, plain(
        "/forms/rss/export?format=csv")),
    ("GET", "/submissions/<path:instance_id>"): Case(READERS, 200, plain(
        "/submissions/{s.instance_id}")),
    ("GET", "/submissions/<path:instance_id>/attachments/<name>"): Case(READERS, 200, plain(
        "/submissions/{s.instance_id}/attachments/photo.jpg")),
    ("POST", "/submissions/<path:instance_id>/review"): Case(REVIEWERS, 302, plain(
        "/submissions/{s.instance_id}/review", data={"state": "approved"})),
    ("GET", "/review"): Case(REVIEWERS, 200, plain("/review")),
    ("GET", "/duplicates"): Case(REVIEWERS, 200, plain("/duplicates")),
    ("GET", "/duplicates/<int:match_id>"): Case(REVIEWERS, 200, plain(
        "/duplicates/{s.matches[shown]}")),
    ("POST", "/duplicates/<int:match_id>/resolve"): Case(REVIEWERS, 302, lambda s, role: {
        "url": f"/duplicates/{s.matches.get('console-' + role, 0)}/resolve",
        "data": {"action": "keep_both"}}),
    ("GET", "/scores"): Case(READERS, 200, plain("/scores")),
    ("GET", "/scores.csv"): Case(READERS, 200, plain("/scores.csv")),
    ("GET", "/outbox"): Case(ADMIN, 200, plain("/outbox")),
    ("POST", "/outbox/retry"): Case(ADMIN, 302, plain("/outbox/retry")),
    ("GET", "/users"): Case(ADMIN, 200, plain("/users")),
    ("POST", "/users"): Case(ADMIN, 302, lambda s, role: {
        "url": "/users", "data": {"name": f"console-new-{role}", "role": "analyst"}}),
    ("POST", "/users/<name>/tokens"): Case(ADMIN, 200, lambda s, role: {
        "url": f"/users/{target(s, role, 'console-token')}/tokens"}),
    ("POST", "/users/<name>/tokens/revoke"): Case(ADMIN, 302, lambda s, role: {
        "url": f"/users/{target(s, role, 'console-revoke')}/tokens/revoke"}),
    ("POST", "/users/<name>/disable"): Case(ADMIN, 302, lambda s, role: {
        "url": f"/users/{target(s, role, 'console-disable')}/disable"}),
    ("POST", "/users/<name>/enable"): Case(ADMIN, 302, lambda s, role: {
        "url": f"/users/{target(s, role, 'console-enable')}/enable"}),
    ("GET", "/users/<name>/delete"): Case(ADMIN, 200, plain("/users/user_analyst/delete")),
    ("POST", "/users/<name>/delete"): Case(ADMIN, 302, lambda s, role: {
        "url": f"/users/{target(s, role, 'console-delete')}/delete",
        "data": {"confirm": target(s, role, "console-delete")}}),
    ("POST", "/users/<name>/password"): Case(ADMIN, 302, lambda s, role: {
        "url": f"/users/{target(s, role, 'console-reset')}/password",
        "data": {"password": "a-new-password"}}),
    ("POST", "/throttles/clear"): Case(ADMIN, 302, lambda s, role: {
        "url": "/throttles/clear", "data": {"key": f"user:{s.throttled()}"}}),
    ("GET", "/account"): Case(PEOPLE, 200, plain("/account")),
    ("POST", "/account/password"): Case(PEOPLE, 302, plain("/account/password", data={
        "old_password": PASSWORD, "new_password": PASSWORD, "repeat_password": PASSWORD})),
    # docs/enketo.md: this server has no Enketo set up, so an allowed call that must
    # ask Enketo answers 409 enketo_not_configured.
    ("POST", "/forms/<name:form_id>/enketo"): Case(ADMIN, 409, plain("/forms/rss/enketo")),
    ("POST", "/forms/<name:form_id>/public-links"): Case(ADMIN, 302, plain(
        "/forms/rss/public-links", data={"label": "console"})),
    ("POST", "/public-links/<int:link_id>/revoke"): Case(ADMIN, 302, lambda s, role: {
        "url": f"/public-links/{public_link(s, 'console-revoke')['id']}/revoke"}),
    ("POST", "/submissions/<path:instance_id>/enketo-edit"): Case(REVIEWERS, 409, plain(
        "/submissions/{s.instance_id}/enketo-edit")),
}

CASES = {**API_CASES, **CENTRAL_CASES, **CONSOLE_CASES}


def door_of(endpoint: str, rule: str) -> str:
    if endpoint.startswith("console."):
        return "console"
    return "central" if rule.startswith("/v1/") else "api"


def endpoints():
    app = create_app({"DATABASE": ":memory:"})
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[-1] == "static":  # stylesheets: no credentials
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}) or ["HEAD"]:
            out.append((method, rule.rule, getattr(view, "permission", None),
                        door_of(rule.endpoint, rule.rule)))
    return out


ENDPOINTS = endpoints()


def test_every_endpoint_declares_a_permission():
    assert [(m, r) for m, r, perm, _ in ENDPOINTS if perm is None] == []


def test_every_endpoint_has_a_hand_written_expectation():
    assert sorted({(m, r) for m, r, _, _ in ENDPOINTS} - set(CASES)) == []
    assert sorted(set(CASES) - {(m, r) for m, r, _, _ in ENDPOINTS}) == []


def test_peers_hold_only_the_forwarding_door():
    held = sorted(key for key, case in CASES.items() if "peer" in case.roles
                  and case.roles != EVERYONE)
    assert held == [("POST", "/api/v1/sync/push"), ("PUT", "/api/v1/attachments/<sha256>")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("roles") / "roles.db").start()
    try:
        _prepare(live)
    except BaseException:
        live.stop()  # a failed set-up must not leave the server running
        raise
    yield live
    live.reader.close()
    live.stop()


def _prepare(live) -> None:
    """Accounts, records, a blob, media, duplicate matches, an entity and entity
    conflicts to act on; a console session and a Central session of an admin
    that is then disabled."""
    url = live.url
    live.tokens = {role: live.token_for(f"user_{role}", role, PASSWORD) for role in ROLES}
    live.revoked = live.token_for("revoked_admin", "admin", PASSWORD)
    live.disabled = live.token_for("disabled_admin", "admin", PASSWORD)
    live.reader = sqlite3.connect(live.db_path, isolation_level=None)
    live.console_clients = {}
    admin = live.session(live.tokens["admin"])
    assert admin.delete(f"{url}/api/v1/users/revoked_admin/tokens").status_code == 200
    live.disabled_console = console_client(live, "disabled_admin")
    live.disabled_session = requests.post(f"{url}/v1/sessions", timeout=30, json={
        "email": "disabled_admin", "password": PASSWORD}).json()["token"]
    assert admin.post(f"{url}/api/v1/users/disabled_admin/disable").status_code == 200
    live.rss_version = admin.get(f"{url}/api/v1/forms/rss").json()["current_version"]
    live.spec_document = admin.get(f"{url}/api/v1/scoring/specs/rss-v1").json()["document"]
    assert admin.post(f"{url}/api/v1/forms/rss/versions/{live.rss_version}/media",
                      files={"file": ("logo.png", b"\x89PNG logo")}).status_code == 201
    enum = live.session(live.tokens["enumerator"])
    live.blob = hashlib.sha256(PHOTO).hexdigest()
    first = record(live, "SHOWN", attachments=[
        {"name": "photo.jpg", "sha256": live.blob, "size": len(PHOTO)}])
    pairs = [record(live, f"DUP-{i}") for i in range(5) for _ in range(2)]
    edited = record(live, "EDITED", "6m")
    live.entity_id = str(uuid.uuid4())
    returnee = record(live, "ENTITY-1", entity=entity_block(live.entity_id, create=True))
    unknown = [record(live, f"ENTITY-{i}", "6m", entity=entity_block(str(uuid.uuid4()),
                                                                     create=False))
               for i in range(3)]
    r = enum.post(f"{url}/api/v1/sync/push", json={
        "device_id": "setup", "batch_id": "setup-1",
        "submissions": [first, *pairs, returnee, *unknown, edited]})
    assert r.status_code == 200, r.text
    live.instance_id = first["instance_id"]
    live.edit_id = edited["instance_id"]
    assert enum.put(f"{url}/api/v1/attachments/{live.blob}", data=PHOTO).status_code == 201
    matches = [m["match_id"] for m in admin.get(f"{url}/api/v1/duplicates").json()["duplicates"]]
    assert len(matches) >= 5  # the five pairs (and any the entity records make)
    live.matches = dict(zip(("shown", "admin", "supervisor", "console-admin",
                             "console-supervisor"), matches))
    conflicts = [c["id"] for c in admin.get(
        f"{url}/api/v1/entity-conflicts").json()["conflicts"]]
    assert len(conflicts) == 3
    live.conflicts = dict(zip(("shown", "admin", "supervisor"), conflicts))

    def throttled() -> str:
        name = f"ghost-{uuid.uuid4().hex[:8]}"
        requests.get(f"{url}/formList", auth=(name, "guess"), timeout=10)
        return name

    live.throttled = throttled
    live.targets = set()


@pytest.mark.parametrize("method,rule,permission,door", ENDPOINTS,
                         ids=[f"{m} {r}" for m, r, _, _ in ENDPOINTS])
def test_role_matrix(server, method, rule, permission, door):
    case = CASES[(method, rule)]
    {"api": api_matrix, "central": central_matrix, "console": console_matrix}[door](
        server, case, method)


def api_matrix(s, case, method):
    def send(role, token):
        return _send(s, case, method, role, bearer(token) if token else None)

    anonymous = send("admin", None)
    if case.roles == EVERYONE:
        assert anonymous.status_code == case.status
    else:
        assert anonymous.status_code == 401
        assert send("admin", s.revoked).status_code == 401
        disabled = send("admin", s.disabled)
        assert disabled.status_code == 403
        if method != "HEAD":
            assert _code(disabled) == "account_disabled"
    for role in ROLES:
        expect(case, method, role, send(role, s.tokens[role]))


def central_matrix(s, case, method):
    def send(role, authorization):
        return _send(s, case, method, role, authorization)

    anonymous = send("admin", None)
    if case.roles == EVERYONE:
        assert anonymous.status_code == case.status
    else:
        assert anonymous.status_code == 401 and _code(anonymous) == "auth_required"
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
        assert _answer(send("admin", bearer(s.revoked))) == (401, "credentials_invalid")
        assert _answer(send("admin", bearer(s.disabled))) == (403, "account_disabled")
        for old in (basic("disabled_admin"), bearer(s.disabled_session)):
            assert _answer(send("admin", old)) == (401, "credentials_invalid")
    for role in ROLES:
        session = central_session(s, role)
        for authorization in (bearer(s.tokens[role]), basic(f"user_{role}"), bearer(session)):
            expect(case, method, role, send(role, authorization))


def console_matrix(s, case, method):
    anonymous = _console_send(s, case, method, "admin", console_client(s, None))
    if case.roles == EVERYONE:
        assert anonymous.status_code == case.status
    else:
        for who in (console_client(s, None), s.disabled_console):
            r = _console_send(s, case, method, "admin", who)
            assert r.status_code == 302 and r.headers["Location"].startswith("/login"), \
                (r.status_code, r.text[:300])
    for role in ROLES:
        request = _console_request(s, case, method, role, console_client(s, f"user_{role}"))
        before = _writes(s)
        r = requests.request(**request)
        if role in case.roles:
            assert r.status_code == case.status, (role, r.status_code, r.text[:300])
        else:
            assert r.status_code == 403 and "<code>forbidden</code>" in r.text, \
                (role, r.status_code)
            assert _writes(s) == before  # refused before it changed anything


def expect(case, method, role, r):
    if role in case.roles:
        assert r.status_code == case.status, (role, r.status_code, r.text[:300])
    else:
        assert r.status_code == 403, (role, r.status_code, r.text[:300])
        if method != "HEAD":
            assert _code(r) == "forbidden"


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(name: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()


def _send(s, case, method, role, authorization):
    kw = case.make(s, role)
    headers = dict(kw.pop("headers", {}))
    if authorization:
        headers["Authorization"] = authorization
    return requests.request(method, s.url + kw.pop("url"), headers=headers,
                            allow_redirects=False, timeout=30, **kw)


@dataclass
class ConsoleClient:
    cookies: dict
    csrf: str


def console_client(s, name: str | None) -> ConsoleClient:
    """A browser's cookie session, signed in as ``name`` (None: not signed in),
    with the CSRF token its forms carry. Kept while the account's password hash
    is the one it signed in with (a new password ends the account's sessions)."""
    stored = s.reader.execute("SELECT password_hash FROM users WHERE name = ?",
                              [name]).fetchone() if name else None
    held = s.console_clients.get(name)
    if held and held[0] == stored:
        return held[1]
    browser = requests.Session()
    csrf = _csrf(browser.get(f"{s.url}/login", timeout=30).text)
    if name:
        r = browser.post(f"{s.url}/login", allow_redirects=False, timeout=30, data={
            "username": name, "password": PASSWORD, "csrf_token": csrf})
        assert r.status_code == 302, (name, r.status_code)
        csrf = _csrf(browser.get(f"{s.url}/login", timeout=30).text)
    client = ConsoleClient(browser.cookies.get_dict(), csrf)
    s.console_clients[name] = (stored, client)
    return client


def _console_send(s, case, method, role, client: ConsoleClient):
    return requests.request(**_console_request(s, case, method, role, client))


def _console_request(s, case, method, role, client: ConsoleClient) -> dict:
    """A page or a form as the browser sends it; what the server answers never
    changes the kept session (a signed cookie stays valid until it is refused)."""
    kw = case.make(s, role)
    if method == "POST":
        kw["data"] = {**kw.get("data", {}), "csrf_token": client.csrf}
    return {"method": method, "url": s.url + kw.pop("url"), "cookies": client.cookies,
            "allow_redirects": False, "timeout": 30, **kw}


def _writes(s) -> tuple:
    """The store's last change sequence and audit entry: a refused form moves neither."""
    return s.reader.execute("SELECT (SELECT value FROM seq_counter), "
                            "(SELECT max(id) FROM audit_log)").fetchone()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _answer(response) -> tuple[int, str]:
    return response.status_code, _code(response)


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
