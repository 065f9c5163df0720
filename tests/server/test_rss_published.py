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
