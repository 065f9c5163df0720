"""Signing in to the console: cookie session, CSRF on every form, the session
re-checked on every request, and the server key it is signed with."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time

from server.accounts.keys import load_or_create_key
from server.accounts.users import set_password
from tests.helpers.console import PASSWORD, csrf_of, post_form, sign_in


def test_a_page_without_a_session_redirects_to_login_with_the_page_to_come_back_to(console):
    r = console.client().get("/forms/rss/submissions?flagged=yes")
    assert r.status_code == 302
    assert r.headers["Location"] == "/login?next=/forms/rss/submissions?flagged%3Dyes"


def test_signing_in_sets_an_httponly_samesite_cookie_and_goes_back_to_the_page(console):
    client = console.client()
    r = sign_in(client, "supervisor1", PASSWORD, next_="/devices")
    assert r.status_code == 302 and r.headers["Location"] == "/devices"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/devices").status_code == 200


def test_the_cookie_is_secure_when_the_request_came_over_tls(console):
    client = console.client()
    token = csrf_of(client.get("/login").data)
    r = client.post("/login", headers={"X-Forwarded-Proto": "https"}, data={
        "username": "admin1", "password": PASSWORD, "csrf_token": token})
    assert "Secure" in r.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_logged_with_the_name_and_address_and_counted(
        console, caplog):
    client = console.client()
    with caplog.at_level(logging.WARNING, logger="fieldsync.auth"):
        r = sign_in(client, "supervisor1", "not-the-password")
    assert r.status_code == 401 and b"Wrong user name or password" in r.data
    assert client.get("/").status_code == 302
    [failed] = [rec for rec in caplog.records if rec.getMessage() == "login_failed"]
    assert failed.fields == {"user_tried": "supervisor1", "address": "127.0.0.1",
                             "scheme": "console", "reason": "wrong password"}
    admin = console.client("admin")  # the throttle counted it, as on every door
    assert 'data-key="user:supervisor1"' in admin.get("/users").data.decode()


def test_next_never_leads_to_another_site(console):
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)",
                   "/\\evil.example/x"):
        r = sign_in(console.client(), "admin1", PASSWORD, next_=target)
        assert r.headers["Location"] == "/"


def test_a_form_sent_without_its_csrf_token_is_refused_and_changes_nothing(console):
    client = console.client("supervisor")
    iid = console.db.execute("SELECT instance_id FROM submissions ORDER BY id LIMIT 1"
                             ).fetchone()[0]
    before = console.db.execute("SELECT review_state, seq FROM submissions WHERE "
                                "instance_id = ?", [iid]).fetchone()
    r = client.post(f"/submissions/{iid}/review", data={"state": "approved"})
    assert r.status_code == 400 and b"csrf_failed" in r.data
    assert console.db.execute("SELECT review_state, seq FROM submissions WHERE "
                              "instance_id = ?", [iid]).fetchone() == before
    r = client.post("/login", data={"username": "admin1", "password": PASSWORD})
    assert r.status_code == 400  # sign-in needs the token too


def test_signing_out_ends_the_session(console):
    client = console.client("analyst")
    assert client.get("/scores").status_code == 200
    r = post_form(client, "/scores", "/logout", {})
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert client.get("/scores").status_code == 302


def test_a_disabled_account_loses_its_session_at_the_next_request(console):
    from server.accounts.users import user_add

    user_add(console.db, "leaver", "supervisor", PASSWORD)
    client = console.client()
    assert sign_in(client, "leaver", PASSWORD).status_code == 302
    assert client.get("/devices").status_code == 200
    with console.db.atomic():
        console.db.execute("UPDATE users SET disabled_at = '2026-01-01T00:00:00Z' "
                           "WHERE name = 'leaver'")
    r = client.get("/devices")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_a_new_password_ends_the_sessions_opened_with_the_old_one(console):
    from server.accounts.users import user_add

    user_add(console.db, "mover", "analyst", PASSWORD)
    client = console.client()
    sign_in(client, "mover", PASSWORD)
    assert client.get("/scores").status_code == 200
    set_password(console.db, "mover", "another-password")
    assert client.get("/scores").status_code == 302


def test_an_idle_session_expires(console):
    client = console.client("analyst")
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - 3 * 3600
    assert client.get("/scores").status_code == 302


def test_the_server_key_is_created_once_private_and_shared_by_racing_workers(tmp_path):
    path = tmp_path / "store.db.key"
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_or_create_key(path)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path) == keys[0]
    assert [p.name for p in tmp_path.iterdir()] == ["store.db.key"]  # no temp file left


def test_sessions_survive_a_restart_because_the_key_is_kept_beside_the_store(console):
    from server.app import create_app

    client = console.client("analyst")
    again = create_app({"DATABASE": console.path})
    cookie = client.get_cookie("fieldsync_session")
    other = again.test_client()
    other.set_cookie("fieldsync_session", cookie.value)
    assert other.get("/scores").status_code == 200


def test_each_role_lands_on_the_page_it_opens_first(console):
    for role, page in (("analyst", "/scores"), ("supervisor", "/"), ("enumerator", "/forms")):
        client = console.client()
        token = csrf_of(client.get("/login").data)
        r = client.post("/login", data={"username": f"{role}1", "password": PASSWORD,
                                        "csrf_token": token})
        assert r.headers["Location"] == page
