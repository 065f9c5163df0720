"""Cutting an account off: disable and enable, delete, a password changed by its
user or reset by an admin, over the API and the command line. A disabled
account is refused on every door (bearer, Basic, Digest), and the records it
sent stay."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from server.accounts import login
from server.accounts.users import user_disable
from server.cli import cli
from tests.helpers.accounts import Site, basic_header, cheap_password_hashes
from tests.helpers.records import batch, household_record

PASSWORD = "enumerator-pass-1"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with cheap_password_hashes():
        yield Site(tmp_path_factory.mktemp("lifecycle"))


def doors(site, name, password, token):
    """The status each door answers for this account: bearer, Basic, Digest."""
    return (
        site.call("GET", "/api/v1/forms", token=token).status_code,
        site.call("GET", "/formList", auth=basic_header(name, password)).status_code,
        site.call("GET", "/formList", auth=site.digest(name, password)).status_code,
    )


def push_one(site, token, case_id):
    rec = household_record(case_id)
    r = site.call("POST", "/api/v1/sync/push", token=token, json=batch([rec]))
    assert r.status_code == 200, r.get_data(as_text=True)
    return rec["instance_id"]


def test_a_disabled_account_is_refused_on_every_door_and_its_records_stay(site):
    token = site.add("leaver", "enumerator", PASSWORD)
    iid = push_one(site, token, "KEPT-1")
    assert doors(site, "leaver", PASSWORD, token) == (200, 200, 200)
    r = site.call("POST", "/api/v1/users/leaver/disable", token=site.admin_token)
    assert r.status_code == 200 and r.get_json()["disabled_at"]
    assert doors(site, "leaver", PASSWORD, token) == (403, 403, 403)
    refused = site.call("GET", "/api/v1/forms", token=token).get_json()["error"]
    assert refused["code"] == "account_disabled" and "leaver" in refused["message"]
    assert site.call("POST", "/api/v1/sync/push", token=token,
                     json=batch([household_record("LATE")])).status_code == 403
    kept = site.call("GET", f"/api/v1/submissions/{iid}", token=site.admin_token)
    assert kept.status_code == 200 and kept.get_json()["data"]["case_id"] == "KEPT-1"
    r = site.call("POST", "/api/v1/users/leaver/enable", token=site.admin_token)
    assert r.status_code == 200 and r.get_json()["disabled_at"] is None
    assert doors(site, "leaver", PASSWORD, token) == (200, 200, 200)


def test_a_disabled_account_is_refused_even_by_a_worker_that_cached_its_password(site):
    token = site.add("cached", "enumerator", PASSWORD)
    assert doors(site, "cached", PASSWORD, token) == (200, 200, 200)  # Basic now cached
    db = site.db()
    try:
        user_disable(db, "cached", actor="test")
    finally:
        db.close()
    assert site.call("GET", "/formList",
                     auth=basic_header("cached", PASSWORD)).status_code == 403


def test_revoking_tokens_leaves_the_password_but_disabling_stops_both(site):
    token = site.add("revoked", "enumerator", PASSWORD)
    site.call("DELETE", "/api/v1/users/revoked/tokens", token=site.admin_token)
    assert doors(site, "revoked", PASSWORD, token) == (401, 200, 200)
    site.call("POST", "/api/v1/users/revoked/disable", token=site.admin_token)
    assert doors(site, "revoked", PASSWORD, token)[1:] == (403, 403)


def test_a_deleted_account_never_signs_in_again_and_its_name_is_not_reused(site):
    token = site.add("departed", "enumerator", PASSWORD)
    iid = push_one(site, token, "BY-DEPARTED")
    r = site.call("DELETE", "/api/v1/users/departed", token=site.admin_token)
    assert r.status_code == 200
    assert r.get_json()["deleted_at"] and r.get_json()["tokens_revoked"] == 1
    assert doors(site, "departed", PASSWORD, token) == (401, 401, 401)
    again = site.call("POST", "/api/v1/users", token=site.admin_token,
                      json={"name": "departed", "role": "enumerator", "password": PASSWORD})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "user_exists"
    assert "never reused" in again.get_json()["error"]["message"]
    listed = site.call("GET", "/api/v1/users", token=site.admin_token).get_json()["users"]
    assert "departed" not in {u["name"] for u in listed}
    everyone = site.call("GET", "/api/v1/users?include=deleted",
                         token=site.admin_token).get_json()["users"]
    assert "departed" in {u["name"] for u in everyone}
    row = site.call("GET", f"/api/v1/submissions/{iid}", token=site.admin_token).get_json()
    assert row["origin"]["user"] == "departed"
    db = site.db()
    try:
        secrets = db.execute("SELECT password_hash, digest_ha1 FROM users WHERE name = ?",
                             ["departed"]).fetchone()
    finally:
        db.close()
    assert secrets == (None, None)


def test_a_user_changes_their_own_password_proving_the_old_one(site):
    token = site.add("changer", "enumerator", PASSWORD)
    wrong = site.call("POST", "/api/v1/account/password", token=token,
                      json={"old_password": "not-the-old-one", "new_password": "new-pass-12"})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "auth_failed"
    short = site.call("POST", "/api/v1/account/password", token=token,
                      json={"old_password": PASSWORD, "new_password": "short"})
    assert short.get_json()["error"]["code"] == "password_too_short"
    r = site.call("POST", "/api/v1/account/password", token=token,
                  json={"old_password": PASSWORD, "new_password": "new-pass-12"})
    assert r.status_code == 200
    assert doors(site, "changer", PASSWORD, token) == (200, 401, 401)
    assert doors(site, "changer", "new-pass-12", token) == (200, 200, 200)


def test_an_admin_resets_a_forgotten_password(site):
    token = site.add("forgetful", "enumerator", PASSWORD)
    r = site.call("POST", "/api/v1/users/forgetful/password", token=site.admin_token,
                  json={"password": "reset-pass-34"})
    assert r.status_code == 200 and r.get_json()["name"] == "forgetful"
    assert doors(site, "forgetful", "reset-pass-34", token) == (200, 200, 200)
    by_enumerator = site.call("POST", "/api/v1/users/forgetful/password", token=token,
                              json={"password": "mine-now-56"})
    assert by_enumerator.status_code == 403


def test_the_command_line_disables_enables_deletes_and_sets_passwords(site):
    site.add("cli-user", "enumerator", PASSWORD)
    runner = CliRunner()
    db = ["--db", str(site.db_path)]

    def run(*args, stdin=None):
        return runner.invoke(cli, [*args, *db], input=stdin)

    assert run("user", "disable", "cli-user").exit_code == 0
    assert "cli-user\tenumerator\t" in run("user", "list").output
    assert run("user", "list").output.split("cli-user\t")[1].splitlines()[0].endswith(
        "\tdisabled")
    assert site.call("GET", "/formList",
                     auth=basic_header("cli-user", PASSWORD)).status_code == 403
    assert run("user", "enable", "cli-user").exit_code == 0
    assert run("user", "password-change", "cli-user",
               stdin="wrong-old-one\nnew-cli-pass-1\n").exit_code == 1
    assert run("user", "password-change", "cli-user",
               stdin=f"{PASSWORD}\nnew-cli-pass-1\n").exit_code == 0
    assert site.call("GET", "/formList",
                     auth=basic_header("cli-user", "new-cli-pass-1")).status_code == 200
    assert run("user", "password-reset", "cli-user", stdin="admin-set-pass-2\n").exit_code == 0
    assert site.call("GET", "/formList",
                     auth=basic_header("cli-user", "admin-set-pass-2")).status_code == 200
    gone = run("user", "delete", "cli-user", "--yes")
    assert gone.exit_code == 0
    assert site.call("GET", "/formList",
                     auth=basic_header("cli-user", "admin-set-pass-2")).status_code == 401
    unknown = run("user", "disable", "no-such-user")
    assert unknown.exit_code == 1 and "No user named 'no-such-user'" in unknown.output


def test_the_one_active_check_refuses_disabled_and_deleted_accounts():
    assert login.require_active({"id": 1, "name": "a", "role": "enumerator",
                                 "created_at": "x", "disabled_at": None,
                                 "deleted_at": None})["name"] == "a"
    for state in ({"disabled_at": "2026-12-01"}, {"deleted_at": "2026-12-01"}):
        user = {"id": 1, "name": "a", "role": "enumerator", "created_at": "x",
                "disabled_at": None, "deleted_at": None, **state}
        with pytest.raises(Exception) as err:
            login.require_active(user)
        assert err.value.code == "account_disabled" and err.value.status == 403


def test_disabling_deleting_or_resetting_from_the_cli_ends_central_sessions_for_good(site):
    """pyodk and ruODK hold a Central session (POST /v1/sessions) for a day: cutting
    the account off ends it at once, and enabling the account does not revive it."""
    runner = CliRunner()

    def run(*args, stdin=None):
        result = runner.invoke(cli, [*args, "--db", str(site.db_path)], input=stdin)
        assert result.exit_code == 0, result.output
        return result

    def session(name, password=PASSWORD):
        r = site.call("POST", "/v1/sessions", json={"email": name, "password": password})
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()["token"]

    def central(token):
        r = site.call("GET", "/v1/projects", token=token)
        body = r.get_json()
        return r.status_code, body["error"]["code"] if r.status_code >= 400 else None

    def ended(token):
        from server.accounts.users import hash_token

        db = site.db()
        try:
            return db.execute("SELECT ended_at FROM central_sessions WHERE token_hash = ?",
                              [hash_token(token)]).fetchone()[0]
        finally:
            db.close()

    site.add("pyodk-user", "analyst", PASSWORD)
    token = session("pyodk-user")
    assert central(token) == (200, None)
    run("user", "disable", "pyodk-user")
    assert central(token) == (401, "credentials_invalid") and ended(token)
    run("user", "enable", "pyodk-user")
    assert central(token) == (401, "credentials_invalid")  # ended, not merely refused
    basic = site.call("GET", "/v1/projects", auth=basic_header("pyodk-user", PASSWORD))
    assert basic.status_code == 200  # the account itself works again

    token = session("pyodk-user")
    run("user", "password-reset", "pyodk-user", stdin="a-reset-password\n")
    assert central(token) == (401, "credentials_invalid") and ended(token)

    token = session("pyodk-user", "a-reset-password")
    run("user", "delete", "pyodk-user", "--yes")
    assert central(token) == (401, "credentials_invalid") and ended(token)
    db = site.db()
    try:
        [(action, details)] = db.execute("SELECT action, details FROM audit_log WHERE "
                                         "target = 'pyodk-user' AND action = 'user.delete'")
    finally:
        db.close()
    assert '"sessions_ended": 1' in details
