"""A new store served by `fieldsync serve` holds the RSS form, ready for devices."""


def test_serve_publishes_rss_on_a_new_store(live_server, admin):
    forms = admin.get(f"{live_server.url}/api/v1/forms").json()["forms"]
    rss = next(f for f in forms if f["form_id"] == "rss")
    assert rss["state"] == "open" and rss["versions"]
    xform = admin.get(
        f"{live_server.url}/api/v1/forms/rss/versions/{rss['versions'][0]}/xform").text
    for name in ("econ_satisfaction", "productive_assets", "able_to_stay", "case_id"):
        assert f"<{name}" in xform


def test_restart_does_not_publish_rss_twice(live_server, admin):
    live_server.restart()
    rss = admin.get(f"{live_server.url}/api/v1/forms/rss").json()
    assert len(rss["versions"]) == 1


def test_first_start_creates_admin_and_prints_its_token_once(live_server):
    import requests

    log = live_server.log_path.read_text()
    token = log.split("stored hashed):\n", 1)[1].split()[0]
    r = requests.get(f"{live_server.url}/api/v1/users",
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert [u["name"] for u in r.json()["users"]] == ["admin"]
    live_server.restart()
    assert live_server.log_path.read_text().count("First start") == 1
