"""Every console page checks the caller's role with the same permission as the
JSON route that shows the same data (one table, server.accounts.auth.PERMISSIONS):
a role without it gets a 403 page, no session gets the sign-in page."""

from __future__ import annotations

import re

import pytest

from server.accounts.auth import PERMISSIONS
from server.app import create_app
from tests.server.console.conftest import ROLES, csrf_of

# console endpoint -> the JSON API endpoint that shows or does the same
TWINS = {
    "console.overview": "office.overview", "console.devices": "office.devices",
    "console.forms": "forms.list_forms", "console.publish": "forms.publish",
    "console.form": "forms.get_form", "console.form_state": "forms.set_state",
    "console.form_media": "openrosa.media.upload_media",
    "console.submissions": "office.records", "console.export": "exports.export",
    "console.record": "sync.get_submission", "console.record_review": "review.set_review",
    "console.attachment": "sync.get_attachment", "console.review": "review.queue",
    "console.duplicates": "review.duplicates", "console.duplicate": "review.duplicate",
    "console.resolve": "review.resolve", "console.scores": "scores.trends",
    "console.scores_csv": "scores.trends", "console.users": "admin.list_users",
    "console.user_add": "admin.add_user", "console.token_create": "admin.create_token",
    "console.token_revoke": "admin.revoke_tokens", "console.outbox": "outbox.status",
    "console.outbox_retry": "outbox.retry",
    "console.user_disable": "admin.disable_user", "console.user_enable": "admin.enable_user",
    "console.user_delete_confirm": "admin.delete_user", "console.user_delete": "admin.delete_user",
    "console.password_reset": "admin.reset_password",
    "console.throttle_clear": "admin.clear_throttle",
    "console.account": "admin.change_own_password",
    "console.account_password": "admin.change_own_password",
}


def console_rules():
    app = create_app({"DATABASE": ":memory:"})
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console.") and rule.endpoint != "console.static":
            view = app.view_functions[rule.endpoint]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((rule.endpoint, method, rule.rule, getattr(view, "permission", None)))
    return app, out


APP, RULES = console_rules()


def test_every_console_page_declares_the_permission_of_its_json_twin():
    for endpoint, _method, _rule, permission in RULES:
        assert permission is not None, endpoint
        if endpoint in TWINS:
            assert permission == APP.view_functions[TWINS[endpoint]].permission, endpoint
    # sign-in, the QR code with an account and the duplicate rules (CLI only) have no twin
    assert {e for e, *_ in RULES} - set(TWINS) == {"console.login", "console.logout",
                                                  "console.collect_qr_for",
                                                  "console.form_rules"}


def _path(rule: str, console) -> str:
    iid = console.db.execute("SELECT instance_id FROM submissions ORDER BY id LIMIT 1"
                             ).fetchone()[0]
    values = {"form_id": "rss", "instance_id": iid, "match_id": "1", "name": "analyst1"}
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: values.get(m.group(1), "x"), rule)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_the_pages_its_permissions_allow(console, role):
    client = console.client(role)
    token = csrf_of(client.get("/login").data)
    for endpoint, method, rule, permission in RULES:
        if permission == "public":
            continue
        path = _path(rule, console)
        allowed = role in PERMISSIONS[permission]
        if method == "GET":
            r = client.get(path)
            assert (r.status_code not in (302, 401, 403)) if allowed else r.status_code == 403, \
                (role, path, r.status_code)
        elif not allowed:  # a refused write is refused before it changes anything
            seq = console.db.execute("SELECT value FROM seq_counter").fetchone()[0]
            r = client.post(path, data={"csrf_token": token, "state": "approved"})
            assert r.status_code == 403, (role, method, path, r.status_code)
            assert console.db.execute("SELECT value FROM seq_counter").fetchone()[0] == seq


def test_without_a_session_every_page_leads_to_sign_in(console):
    client = console.client()
    for endpoint, method, rule, permission in RULES:
        if permission == "public" or method != "GET":
            continue
        r = client.get(_path(rule, console))
        assert r.status_code == 302 and r.headers["Location"].startswith("/login?next="), rule


def test_the_403_page_says_so_in_the_users_language(console):
    client = console.client("enumerator")
    r = client.get("/?lang=fr")
    assert r.status_code == 403
    assert "Votre rôle ne permet pas cela".encode() in r.data
