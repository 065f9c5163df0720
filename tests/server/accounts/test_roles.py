"""Every endpoint checks the caller's role: the matrix endpoint x role, over HTTP."""

from __future__ import annotations

import re

import pytest

from server.app import create_app
from server.accounts.auth import PERMISSIONS
from tests.helpers.live import LiveServer

ROLES = ("admin", "supervisor", "enumerator", "analyst", "peer")
SAMPLE = {"form_id": "rss", "version": "0", "name": "nobody", "instance_id": "uuid:none",
          "sha256": "0" * 64, "filename": "x.jpg"}


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
            path = re.sub(r"<(?:([^:>]+):)?([^>]+)>",
                          lambda m: "1" if m.group(1) == "int"
                          else SAMPLE.get(m.group(2), "x"), rule.rule)
            out.append((method, path, getattr(view, "permission", None)))
    return out


ENDPOINTS = endpoints()


def test_every_endpoint_declares_a_permission():
    missing = [(m, p) for m, p, perm in ENDPOINTS if perm is None]
    assert missing == []


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("roles") / "roles.db").start()
    live.tokens = {role: live.token_for(f"user_{role}", role) for role in ROLES}
    db = live.db()
    from server.accounts.users import token_revoke
    live.token_for("revoked_admin", "admin")
    live.revoked = live.token_for("revoked2", "admin")
    token_revoke(db, "revoked2")
    db.close()
    yield live
    live.stop()


@pytest.mark.parametrize("method,path,permission", ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_role_matrix(server, method, path, permission):
    import requests

    url = server.url + path
    anonymous = requests.request(method, url, timeout=10)
    if permission == "public":
        assert anonymous.status_code not in (401, 403)
        return
    assert anonymous.status_code == 401
    revoked = requests.request(method, url, timeout=10,
                               headers={"Authorization": f"Bearer {server.revoked}"})
    assert revoked.status_code == 401
    for role in ROLES:
        r = requests.request(method, url, timeout=10, json={} if method != "GET" else None,
                             headers={"Authorization": f"Bearer {server.tokens[role]}"})
        if role in PERMISSIONS[permission]:
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code)
            if r.headers.get("Content-Type", "").startswith("application/json"):
                assert r.json()["error"]["code"] == "forbidden"


def test_wrong_scheme_and_garbage_token_are_401_with_a_hint(server):
    import requests

    r = requests.get(f"{server.url}/api/v1/forms", headers={"Authorization": "Token abc"})
    assert r.status_code == 401 and "Bearer" in r.json()["error"]["message"]
    r = requests.get(f"{server.url}/api/v1/forms", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid"
