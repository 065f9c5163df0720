"""Password guessing: back-off per account and per address, no permanent lockout,
equal cost for unknown names, every failure logged, throttles an admin can see
and lift. In process (the app on its own store), with the throttle's clock
held still so the waits are exact."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from server.accounts import login, throttle
from server.cli import cli
from tests.helpers.accounts import CHEAP_HASH, Site, basic_header, cheap_password_hashes

PASSWORD = "right-password-1"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with cheap_password_hashes():
        yield Site(tmp_path_factory.mktemp("throttle"))


@pytest.fixture
def clock(monkeypatch):
    now = [1_900_000_000.0]
    monkeypatch.setattr(throttle, "clock", lambda: now[0])
    return now


def form_list(site, name, password, address):
    return site.call("GET", "/formList", auth=basic_header(name, password), address=address)


def test_after_five_failures_each_further_one_doubles_the_wait_up_to_fifteen_minutes(
        site, clock):
    site.add("doubling", "enumerator", PASSWORD)
    for _ in range(5):  # free: a typo or five
        assert form_list(site, "doubling", "wrong-guess", "127.0.0.2").status_code == 401
    waits = []
    for _ in range(12):
        assert form_list(site, "doubling", "wrong-guess", "127.0.0.2").status_code == 401
        refused = form_list(site, "doubling", PASSWORD, "127.0.0.2")  # even the right one
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == str(refused_after(refused))
        waits.append(refused_after(refused))
        clock[0] += waits[-1] + 0.5
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert form_list(site, "doubling", PASSWORD, "127.0.0.2").status_code == 200  # not for good


def refused_after(response) -> int:
    body = response.get_data(as_text=True)
    assert "try again in" in body
    return int(response.headers["Retry-After"])


def test_one_hundred_fifty_wrong_basic_passwords_then_the_right_one_is_refused(site, clock):
    site.add("guessed", "enumerator", PASSWORD)
    answers = [form_list(site, "guessed", f"guess-{i:04d}", "127.0.0.3").status_code
               for i in range(150)]
    assert answers[:6] == [401] * 6 and set(answers[6:]) == {429}
    assert form_list(site, "guessed", PASSWORD, "127.0.0.3").status_code == 429


def test_digest_guesses_are_throttled_like_basic(site, clock):
    site.add("dig", "enumerator", PASSWORD)
    ch = site.challenge()
    statuses = [site.call("GET", "/formList", address="127.0.0.4",
                          auth=site.digest("dig", f"guess-{n}", nc=n, ch=ch)).status_code
                for n in range(1, 10)]
    assert statuses == [401] * 6 + [429] * 3
    right = site.call("GET", "/formList", address="127.0.0.4",
                      auth=site.digest("dig", PASSWORD, nc=20, ch=ch))
    assert right.status_code == 429 and right.headers["Retry-After"] == "1"


def test_an_unknown_name_is_throttled_and_costs_one_password_hash_as_a_real_one(
        site, clock, monkeypatch):
    site.add("real-one", "enumerator", PASSWORD)
    checked: list[str] = []
    real_check = login.check_password_hash
    monkeypatch.setattr(login, "check_password_hash",
                        lambda stored, pw: checked.append(stored) or real_check(stored, pw))
    unknown = [form_list(site, "nobody-here", "guess", "127.0.0.7").status_code
               for _ in range(7)]
    real = [form_list(site, "real-one", "guess", "127.0.0.7").status_code for _ in range(7)]
    assert unknown == real == [401] * 6 + [429]
    assert len(checked) == 12  # one scrypt per failure that was let through, either way
    assert {stored.split("$")[0] for stored in checked} == {CHEAP_HASH}


def test_every_failed_sign_in_is_logged_with_the_name_tried_and_the_address(site, clock):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("fieldsync.auth")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        form_list(site, "no-such-enumerator", "s3cret-guess", address="127.0.0.77")
        site.add("logged", "enumerator", PASSWORD)
        site.call("GET", "/formList", auth=site.digest("logged", "bad-guess"),
                  address="127.0.0.78")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    failed = [r.fields for r in records if r.getMessage() == "login_failed"]
    assert [(f["user_tried"], f["address"], f["scheme"]) for f in failed] == [
        ("no-such-enumerator", "127.0.0.77", "basic"), ("logged", "127.0.0.78", "digest")]
    assert all("s3cret-guess" not in str(r.__dict__) for r in records)


def test_guessing_from_elsewhere_does_not_lock_out_the_enumerators_own_tablet(site, clock):
    site.add("amina", "enumerator", PASSWORD)
    assert form_list(site, "amina", PASSWORD, address="127.0.0.5").status_code == 200
    for i in range(30):
        form_list(site, "amina", f"guess-{i}", address="127.0.0.9")
    assert form_list(site, "amina", PASSWORD, address="127.0.0.9").status_code == 429
    assert form_list(site, "amina", PASSWORD, address="127.0.0.5").status_code == 200
    new_tablet = form_list(site, "amina", PASSWORD, address="127.0.0.6")
    assert new_tablet.status_code == 429 and 0 < refused_after(new_tablet) <= 900
    clock[0] += 901
    assert form_list(site, "amina", PASSWORD, address="127.0.0.6").status_code == 200


def test_one_address_guessing_many_names_is_blocked_for_every_name(site, clock):
    site.add("bystander", "enumerator", PASSWORD)
    for i in range(21):  # 20 free failures per address, each name only once
        assert form_list(site, f"name-{i}", "guess", address="127.0.0.33").status_code == 401
    assert form_list(site, "bystander", PASSWORD, address="127.0.0.33").status_code == 429
    assert form_list(site, "bystander", PASSWORD, address="127.0.0.34").status_code == 200


def test_a_right_password_forgets_a_few_failures(site, clock):
    site.add("typist", "enumerator", PASSWORD)
    for _ in range(4):
        form_list(site, "typist", "typo", "127.0.0.8")
    assert form_list(site, "typist", PASSWORD, "127.0.0.8").status_code == 200
    for _ in range(5):
        assert form_list(site, "typist", "typo", "127.0.0.8").status_code == 401
    assert form_list(site, "typist", PASSWORD, "127.0.0.8").status_code == 200


def test_an_admin_sees_and_lifts_throttles_over_the_api(site, clock):
    site.add("lifted", "enumerator", PASSWORD)
    for i in range(8):  # six failures counted; the last two refused before checking
        form_list(site, "lifted", f"guess-{i}", address="127.0.0.40")
    listed = site.call("GET", "/api/v1/throttles", token=site.admin_token).get_json()
    mine = {t["key"]: t for t in listed["throttles"]}
    assert mine["user:lifted"]["failures"] == 6 and mine["user:lifted"]["retry_after"] == 1
    assert mine["address:127.0.0.40"]["kind"] == "address"
    assert form_list(site, "lifted", PASSWORD, address="127.0.0.41").status_code == 429
    cleared = site.call("DELETE", "/api/v1/throttles/user:lifted", token=site.admin_token)
    assert cleared.status_code == 200 and cleared.get_json() == {"key": "user:lifted",
                                                                 "cleared": True}
    assert form_list(site, "lifted", PASSWORD, address="127.0.0.41").status_code == 200
    again = site.call("DELETE", "/api/v1/throttles/user:lifted", token=site.admin_token)
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "throttle_unknown"
    audit = site.call("GET", "/api/v1/audit?action=throttle.clear", token=site.admin_token)
    assert audit.get_json()["entries"][0]["target"] == "user:lifted"


def test_throttles_are_listed_and_cleared_from_the_command_line(site, clock):
    site.add("cli-lifted", "enumerator", PASSWORD)
    for i in range(7):
        form_list(site, "cli-lifted", f"guess-{i}", address="127.0.0.50")
    runner = CliRunner()
    listed = runner.invoke(cli, ["throttle", "list", "--db", str(site.db_path)])
    assert listed.exit_code == 0
    assert any(line.startswith("user:cli-lifted\t6\t1\t")
               for line in listed.output.splitlines())
    cleared = runner.invoke(cli, ["throttle", "clear", "user:cli-lifted",
                                  "--db", str(site.db_path)])
    assert cleared.exit_code == 0
    missing = runner.invoke(cli, ["throttle", "clear", "user:cli-lifted",
                                  "--db", str(site.db_path)])
    assert missing.exit_code == 1 and "No throttle 'user:cli-lifted'" in missing.output


def test_a_password_change_with_a_wrong_old_password_counts_as_a_failed_sign_in(site, clock):
    token = site.add("changer", "enumerator", PASSWORD)
    body = {"old_password": "not-it-at-all", "new_password": "a-brand-new-one"}
    statuses = [site.call("POST", "/api/v1/account/password", token=token, json=body,
                          address="127.0.0.60").status_code for _ in range(7)]
    assert statuses == [401] * 6 + [429]


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_counted(tmp_path, clock):
    with cheap_password_hashes():
        proxied = Site(tmp_path, TRUSTED_PROXIES=1)
        proxied.add("behind", "enumerator", PASSWORD)
        for _ in range(3):
            proxied.call("GET", "/formList", auth=basic_header("behind", "guess"),
                         headers={"X-Forwarded-For": "127.0.0.99"})
    keys = {t["key"] for t in proxied.call("GET", "/api/v1/throttles",
                                           token=proxied.admin_token).get_json()["throttles"]}
    assert keys == {"user:behind", "address:127.0.0.99"}
