"""Accounts in the console: a throttled or disabled sign-in said clearly (English
and French); an admin disables, enables, deletes (after a confirmation step),
resets a password and lifts a throttle on /users, each through the same Python
API as the JSON API and the CLI, CSRF-protected and in the audit log; anyone
signed in changes their own password on /account."""

from __future__ import annotations

import time

from server.accounts import throttle
from server.accounts.users import user_add
from server.store import logins as logins_q
from tests.helpers.accounts import cheap_password_hashes
from tests.helpers.console import PASSWORD, csrf_of, post_form, sign_in


def audit(console, action):
    return console.api("admin", f"/api/v1/audit?action={action}").get_json()["entries"]


def add(console, name, role="enumerator", password=PASSWORD):
    with cheap_password_hashes():  # this module fails sign-ins on purpose: keep them cheap
        user_add(console.db, name, role, password)


def state_of(console, name):
    return console.db.execute("SELECT disabled_at, deleted_at FROM users WHERE name = ?",
                              [name]).fetchone()


def test_a_throttled_sign_in_says_how_long_to_wait_and_sends_retry_after(console):
    add(console, "guessed")
    client = console.client()
    for _ in range(throttle.FREE_FAILURES["user"] + 1):  # the last one earns a 1 s block
        assert sign_in(client, "guessed", "a-wrong-guess").status_code == 401
    r = sign_in(client, "guessed", PASSWORD)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert "Try again in 1 minute." in r.data.decode()
    assert client.get("/forms").status_code == 302  # not signed in


def test_a_throttled_sign_in_is_explained_in_french_with_the_minutes_rounded_up(console):
    add(console, "bloque")
    with console.db.atomic():  # as if guessed at for a while: blocked for 9.5 minutes
        now = time.time()
        logins_q.put_throttle(console.db, {"key": "user:bloque", "failures": 12,
                                           "first_failed_at": now - 60, "last_failed_at": now,
                                           "blocked_until": now + 570})
    client = console.client()
    client.get("/login?lang=fr")
    r = sign_in(client, "bloque", PASSWORD)
    assert r.status_code == 429 and 560 <= int(r.headers["Retry-After"]) <= 570
    assert "Réessayez dans 10 minutes." in r.data.decode()


def test_a_disabled_account_is_told_so_at_sign_in_in_english_and_in_french(console):
    add(console, "parti")
    post_form(console.client("admin"), "/users", "/users/parti/disable", {})
    english = console.client()
    r = sign_in(english, "parti", PASSWORD)
    assert r.status_code == 403
    assert "This account is disabled. Ask an admin to enable it." in r.data.decode()
    assert english.get("/forms").status_code == 302
    french = console.client()
    french.get("/login?lang=fr")
    r = sign_in(french, "parti", PASSWORD)
    assert r.status_code == 403
    assert "Ce compte est désactivé. Demandez à un administrateur de le réactiver." \
        in r.data.decode()
    wrong = sign_in(console.client(), "parti", "not-the-password")  # says nothing more
    assert wrong.status_code == 401 and b"Wrong user name or password" in wrong.data


def test_disabling_on_the_users_page_ends_the_accounts_sessions_for_good(console):
    add(console, "tablet7", role="supervisor")
    theirs = console.client()
    assert sign_in(theirs, "tablet7", PASSWORD).status_code == 302
    assert theirs.get("/devices").status_code == 200
    admin = console.client("admin")
    page = admin.get("/users").data.decode()
    assert 'action="/users/tablet7/disable"' in page
    r = post_form(admin, "/users", "/users/tablet7/disable", {}, follow_redirects=True)
    assert "tablet7 is disabled" in r.data.decode()
    assert state_of(console, "tablet7")[0] is not None
    assert theirs.get("/devices").status_code == 302  # signed out at the next click
    assert audit(console, "user.disable")[0]["actor"] == "admin1"
    post_form(admin, "/users", "/users/tablet7/enable", {})
    assert state_of(console, "tablet7") == (None, None)
    assert audit(console, "user.enable")[0]["target"] == "tablet7"
    assert theirs.get("/devices").status_code == 302  # enabling does not revive it
    again = console.client()
    assert sign_in(again, "tablet7", PASSWORD).status_code == 302
    assert again.get("/devices").status_code == 200


def test_deleting_an_account_asks_for_confirmation_first(console):
    add(console, "leaving")
    admin = console.client("admin")
    assert b'href="/users/leaving/delete"' in admin.get("/users").data
    confirm = admin.get("/users/leaving/delete")
    assert confirm.status_code == 200
    assert "can never sign in again" in confirm.data.decode()
    r = post_form(admin, "/users/leaving/delete", "/users/leaving/delete", {})
    assert r.status_code == 400 and state_of(console, "leaving") == (None, None)
    token = csrf_of(confirm.data)
    r = admin.post("/users/leaving/delete", data={"csrf_token": token, "confirm": "leaving"})
    assert r.status_code == 302 and state_of(console, "leaving")[1] is not None
    assert b'data-user="leaving"' not in admin.get("/users").data
    assert audit(console, "user.delete")[0]["actor"] == "admin1"
    assert sign_in(console.client(), "leaving", PASSWORD).status_code == 401


def test_an_admin_sees_a_throttle_and_a_password_reset_lifts_it(console):
    add(console, "forgetful")
    for _ in range(throttle.FREE_FAILURES["user"] + 1):
        sign_in(console.client(), "forgetful", "still-not-it")
    admin = console.client("admin")
    row = admin.get("/users").data.decode().split('data-key="user:forgetful"')
    assert len(row) == 2 and "<td>6</td>" in row[1].split("</tr>")[0]
    r = post_form(admin, "/users", "/users/forgetful/password", {"password": "a-fresh-start"})
    assert r.status_code == 302
    assert 'data-key="user:forgetful"' not in admin.get("/users").data.decode()
    assert audit(console, "user.password_reset")[0]["target"] == "forgetful"
    assert sign_in(console.client(), "forgetful", "a-fresh-start").status_code == 302
    r = post_form(admin, "/users", "/users/forgetful/password", {"password": "short"})
    assert r.status_code == 400 and b"at least 8 characters" in r.data


def test_an_admin_lifts_an_address_throttle_and_it_is_audited(console):
    with console.db.atomic():
        now = time.time()
        logins_q.put_throttle(console.db, {"key": "address:10.9.8.7", "failures": 30,
                                           "first_failed_at": now, "last_failed_at": now,
                                           "blocked_until": now + 300})
    admin = console.client("admin")
    assert 'data-key="address:10.9.8.7"' in admin.get("/users").data.decode()
    r = post_form(admin, "/users", "/throttles/clear", {"key": "address:10.9.8.7"})
    assert r.status_code == 302
    assert "address:10.9.8.7" not in {t["key"] for t in throttle.list_throttles(console.db)}
    assert audit(console, "throttle.clear")[0]["target"] == "address:10.9.8.7"
    r = post_form(admin, "/users", "/throttles/clear", {"key": "address:10.9.8.7"})
    assert r.status_code == 404 and b"throttle_unknown" in r.data


def test_account_actions_without_their_csrf_token_change_nothing(console):
    add(console, "kept")
    admin = console.client("admin")
    admin.get("/users")
    for action, data in (("/users/kept/disable", {}), ("/users/kept/delete", {"confirm": "kept"}),
                         ("/users/kept/password", {"password": "another-one-1"})):
        r = admin.post(action, data=data)
        assert r.status_code == 400 and b"csrf_failed" in r.data, action
    assert state_of(console, "kept") == (None, None)
    assert sign_in(console.client(), "kept", PASSWORD).status_code == 302


def test_anyone_changes_their_own_password_and_stays_signed_in_here_only(console):
    add(console, "mariam")
    here, elsewhere = console.client(), console.client()
    for client in (here, elsewhere):
        assert sign_in(client, "mariam", PASSWORD).status_code == 302
    page = here.get("/account")
    assert page.status_code == 200 and b'href="/account"' in page.data
    r = post_form(here, "/account", "/account/password", {
        "old_password": "not-my-password", "new_password": "new-secret-1",
        "repeat_password": "new-secret-1"})
    assert r.status_code == 400 and b"The current password is wrong." in r.data
    r = post_form(here, "/account", "/account/password", {
        "old_password": PASSWORD, "new_password": "new-secret-1",
        "repeat_password": "new-secret-2"})
    assert r.status_code == 400 and b"repetition differ" in r.data
    r = post_form(here, "/account", "/account/password", {
        "old_password": PASSWORD, "new_password": "new-secret-1",
        "repeat_password": "new-secret-1"}, follow_redirects=True)
    assert r.status_code == 200 and b"Your password is changed." in r.data
    assert here.get("/forms").status_code == 200
    assert elsewhere.get("/forms").status_code == 302
    assert audit(console, "user.password_change")[0]["actor"] == "mariam"
    assert sign_in(console.client(), "mariam", PASSWORD).status_code == 401
    assert sign_in(console.client(), "mariam", "new-secret-1").status_code == 302


def test_an_admin_resetting_their_own_password_stays_signed_in_and_cannot_disable_themself(
        console):
    add(console, "boss", role="admin")
    here = console.client()
    assert sign_in(here, "boss", PASSWORD).status_code == 302
    page = here.get("/users").data.decode()
    assert 'action="/users/boss/password"' in page
    assert 'action="/users/boss/disable"' not in page and "/users/boss/delete" not in page
    r = post_form(here, "/users", "/users/boss/password", {"password": "boss-new-pass"})
    assert r.status_code == 302 and here.get("/users").status_code == 200
    assert sign_in(console.client(), "boss", "boss-new-pass").status_code == 302
