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


def test_first_start_creates_admin_and_prints_its_token_and_password_once(live_server):
    import re

    import requests

    log = live_server.log_path.read_text()
    token = log.split("Its token (shown once, stored hashed):\n", 1)[1].split()[0]
    password = log.split("Its password for the web console (shown once, stored hashed):\n",
                         1)[1].split()[0]
    r = requests.get(f"{live_server.url}/api/v1/users",
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert [u["name"] for u in r.json()["users"]] == ["admin"]
    console = requests.Session()  # the printed password signs in to the console
    login = console.get(f"{live_server.url}/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    r = console.post(f"{live_server.url}/login", allow_redirects=False, data={
        "username": "admin", "password": password, "csrf_token": csrf})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert console.get(f"{live_server.url}/users").status_code == 200
    db = live_server.db()
    try:
        stored = db.execute("SELECT password_hash FROM users WHERE name = 'admin'").fetchone()[0]
    finally:
        db.close()
    assert stored.startswith("scrypt:") and password not in stored
    assert password not in live_server.db_path.read_bytes().decode("latin-1")
    live_server.restart()
    assert live_server.log_path.read_text().count("First start") == 1
