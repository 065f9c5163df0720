"""What the console's forms change: each through the same function as the API,
each in the audit log with who did it."""

from __future__ import annotations

import hashlib
import io
import re
import uuid

from server.accounts.users import authenticate_token
from tests.helpers.console import post_form

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
       b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05"
       b"\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def audit(console, action):
    return console.api("admin", f"/api/v1/audit?action={action}").get_json()["entries"]


def test_an_admin_adds_a_user_and_issues_a_token_shown_once(console):
    client = console.client("admin")
    r = post_form(client, "/users", "/users",
                  {"name": "fatou", "role": "enumerator", "password": "long-enough"})
    assert r.status_code == 302
    r = post_form(client, "/users", "/users/fatou/tokens", {})
    token = re.search(r'<code id="new-token">([^<]+)</code>', r.data.decode()).group(1)
    assert authenticate_token(console.db, token)["name"] == "fatou"
    assert token not in client.get("/users").data.decode()  # shown once
    assert audit(console, "token.create")[0]["actor"] == "admin1"
    r = post_form(client, "/users", "/users/fatou/tokens/revoke", {})
    assert authenticate_token(console.db, token) is None


def test_a_short_password_is_refused_with_the_reason_and_no_user_is_created(console):
    client = console.client("admin")
    r = post_form(client, "/users", "/users", {"name": "shorty", "role": "analyst",
                                                "password": "short"})
    assert r.status_code == 400 and b"at least 8 characters" in r.data
    assert console.db.execute("SELECT count(*) FROM users WHERE name = 'shorty'"
                              ).fetchone()[0] == 0


def test_an_admin_changes_a_forms_state_and_its_duplicate_rules(console):
    client = console.client("admin")
    post_form(client, "/forms/rss", "/forms/rss/state", {"state": "closing"})
    assert console.api("admin", "/api/v1/forms/rss").get_json()["state"] == "closing"
    post_form(client, "/forms/rss", "/forms/rss/state", {"state": "open"})
    r = post_form(client, "/forms/rss", "/forms/rss/rules",
                  {"similar_threshold": "0.95", "enabled": "yes"})
    assert r.status_code == 302
    assert audit(console, "duplicates.rules")[0]["details"] == {
        "changes": {"similar_threshold": 0.95}}
    page = client.get("/forms/rss").data.decode()
    assert 'name="similar_threshold" value="0.95"' in page
    r = post_form(client, "/forms/rss", "/forms/rss/rules", {"similar_threshold": "high"})
    assert r.status_code == 400


def test_an_admin_uploads_form_media_to_the_current_version(console):
    client = console.client("admin")
    r = post_form(client, "/forms/rss", "/forms/rss/media",
                  {"file": (io.BytesIO(b"name,label\nx,X\n"), "villages.csv")},
                  content_type="multipart/form-data")
    assert r.status_code == 302
    media = console.api("admin", f"/api/v1/forms/rss/versions/{console.version}/media")
    assert [m["name"] for m in media.get_json()["media"]] == ["villages.csv"]


def test_a_photo_is_shown_inline_on_the_record_page(console):
    sha = hashlib.sha256(PNG).hexdigest()
    rec = console.record(case_id="GIN-2026-04242")
    rec["attachments"] = [{"name": "face.png", "sha256": sha, "size": len(PNG)}]
    from server.store import submissions as subs_q

    with console.db.atomic():
        subs_q.put_blob(console.db, sha, PNG)
    console.push([rec])
    client = console.client("supervisor")
    page = client.get(f"/submissions/{rec['instance_id']}").data.decode()
    src = f"/submissions/{rec['instance_id']}/attachments/face.png"
    assert f'<img src="{src}"' in page
    r = client.get(src)
    assert r.data == PNG and r.mimetype == "image/png"
    assert r.headers["Content-Disposition"].startswith("inline")
    assert client.get(f"/submissions/{rec['instance_id']}/attachments/other.png"
                      ).status_code == 404


def test_a_retry_of_dead_letters_is_queued_and_audited(console):
    r = post_form(console.client("admin"), "/outbox", "/outbox/retry", {})
    assert r.status_code == 302
    assert audit(console, "outbox.retry")[0]["actor"] == "admin1"


def test_an_unknown_record_page_is_a_404_page_not_a_traceback(console):
    r = console.client("supervisor").get(f"/submissions/uuid:{uuid.uuid4()}?lang=fr")
    assert r.status_code == 404
    assert "Aucune soumission avec cet identifiant".encode() in r.data
