"""Web forms on the console: a form's page shows its Enketo links (an admin
refreshes them) and its public links (an admin creates and revokes them); a
record's page has "Edit in Enketo" for reviewers, which leads to Enketo."""

from __future__ import annotations

import pytest

from server.enketo.web import SESSION_KEY
from tests.helpers.enketo import API_KEY, BASE, EnketoStandIn
from tests.helpers.console import Console, post_form

SERVER = "https://fieldsync.test"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    c = Console(tmp_path_factory.mktemp("console-enketo") / "c.db")
    c.enketo = EnketoStandIn()
    c.app.extensions[SESSION_KEY] = c.enketo.session()
    c.app.config.update(ENKETO_URL=BASE, ENKETO_API_KEY=API_KEY, SERVER_URL=SERVER)
    c.rec = c.record(case_id="GIN-2026-07001")
    c.push([c.rec])
    yield c
    c.db.close()


def test_an_admin_refreshes_a_forms_web_form_links_and_the_page_shows_them(console):
    admin = console.client("admin")
    r = post_form(admin, "/forms/rss", "/forms/rss/enketo", {})
    assert r.status_code == 302
    enketo_id = console.enketo.surveys[(SERVER, "rss")]["id"]
    page = admin.get("/forms/rss").get_data(as_text=True)
    assert f"{BASE}/x/{enketo_id}" in page and f"{BASE}/single/{enketo_id}" in page
    french = admin.get("/forms/rss?lang=fr").get_data(as_text=True)
    assert "Formulaires web (Enketo)" in french and "Utilisable hors ligne" in french
    admin.get("/forms/rss?lang=en")
    enumerator = console.client("enumerator").get("/forms/rss").get_data(as_text=True)
    assert f"{BASE}/{enketo_id}" in enumerator  # the links are for enumerators
    assert "Refresh the links" not in enumerator and "Public links" not in enumerator


def test_an_admin_creates_and_revokes_a_public_link_on_the_forms_page(console):
    admin = console.client("admin")
    r = post_form(admin, "/forms/rss", "/forms/rss/public-links", {"label": "Open day"})
    assert r.status_code == 302
    page = admin.get("/forms/rss").get_data(as_text=True)
    assert "Open day" in page and f"{SERVER}/public/" in page
    [(url, _)] = [k for k in console.enketo.surveys if k[0].startswith(f"{SERVER}/public/")]
    link_id = int(page.split("/public-links/")[1].split("/revoke")[0])
    r = post_form(admin, "/forms/rss", f"/public-links/{link_id}/revoke", {})
    assert r.status_code == 302
    assert console.enketo.surveys[(url, "rss")]["active"] is False
    assert "revoked" in admin.get("/forms/rss").get_data(as_text=True)


def test_a_supervisor_edits_a_record_in_enketo_from_its_page(console):
    iid = console.rec["instance_id"]
    supervisor = console.client("supervisor")
    assert "Edit in Enketo" in supervisor.get(f"/submissions/{iid}").get_data(as_text=True)
    analyst = console.client("analyst").get(f"/submissions/{iid}").get_data(as_text=True)
    assert "Edit in Enketo" not in analyst
    r = post_form(supervisor, f"/submissions/{iid}", f"/submissions/{iid}/enketo-edit", {})
    assert r.status_code == 303 and r.headers["Location"].startswith(f"{BASE}/edit/")
    held = console.enketo.instances[(SERVER, "rss", iid)]
    assert held["return_url"] == f"{SERVER}/submissions/{iid}"


def test_without_enketo_the_pages_say_so_and_offer_no_edit(console):
    console.app.config["ENKETO_URL"] = None
    try:
        admin = console.client("admin")
        assert "Enketo is not set up" in admin.get("/forms/rss").get_data(as_text=True)
        page = admin.get(f"/submissions/{console.rec['instance_id']}").get_data(as_text=True)
        assert "Edit in Enketo" not in page
    finally:
        console.app.config["ENKETO_URL"] = BASE
