"""The console in a real headless Chromium against a live server: the flows a
supervisor, an admin and an analyst perform. Each page is photographed into
tests/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright
from requests.auth import HTTPDigestAuth

from server.console.collect_qr import decode
from sync import device
from sync.device_store import DeviceStore
from tests.helpers.browser import launch, screenshot
from tests.helpers.live import LiveServer
from tests.helpers.rss_records import BEST, WORST, build

PASSWORD = "correct-horse"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    live = LiveServer(folder / "console.db").start()
    live.folder = folder
    live.tokens = {name: live.token_for(name, role, PASSWORD) for name, role in (
        ("ama", "admin"), ("sam", "supervisor"), ("eve", "enumerator"), ("ana", "analyst"))}
    live.version = requests.get(f"{live.url}/api/v1/forms/rss", timeout=10, headers={
        "Authorization": f"Bearer {live.tokens['ama']}"}).json()["current_version"]
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def api(server, path, who="ama"):
    return requests.get(f"{server.url}/api/v1{path}", timeout=10,
                        headers={"Authorization": f"Bearer {server.tokens[who]}"}).json()


def sign_in(page, server, name, next_page="/"):
    page.goto(f"{server.url}{next_page}")
    expect(page).to_have_url(re.compile(rf"/login\?next={re.escape(next_page)}$"))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def device_push(server, name, records):
    """Fill records on a device client (its own store) and push them."""
    path = server.folder / f"{name}.device.db"
    device.init(path, server.url, server.tokens["eve"], media_dir=server.folder / name)
    with DeviceStore.open(path) as store:
        for data in records:
            store.add_record({"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
                              "form_version": server.version, "data": data,
                              "attachments": []}, source="fill")
    return device.push(path)


def test_pushed_records_show_in_the_table_and_on_the_overview(server, page):
    records = [build(BEST if i % 2 else WORST, case_id=f"GIN-2026-{i:05d}") for i in range(6)]
    records.append(build(BEST, case_id="GIN-2026-00777"))
    summary = device_push(server, "tablet-a", records)
    assert summary["queued"] == 0
    device_push(server, "tablet-b", [build(BEST, case_id="gin-2026-00777",
                                           econ_satisfaction="satisfied")])
    page.goto(f"{server.url}/login")
    screenshot(page, "login")
    sign_in(page, server, "sam")
    expect(page.locator("h1")).to_have_text("Office overview")
    row = page.locator("tr", has=page.get_by_role("link", name="Reintegration"))
    expect(row.locator('[data-name="received_today"]')).to_have_text("8")
    expect(page.locator("text=tablet").first).to_be_visible()
    screenshot(page, "overview")
    page.get_by_role("link", name="Devices").click()
    expect(page.locator("table")).to_contain_text("eve")
    screenshot(page, "devices")
    page.goto(f"{server.url}/forms/rss/submissions")
    expect(page.locator("#submissions tbody tr")).to_have_count(8)
    expect(page.locator("#submissions")).to_contain_text("GIN-2026-00003")
    screenshot(page, "submissions")


def test_a_supervisor_opens_a_record_and_approves_it(server, page):
    sign_in(page, server, "sam")
    page.goto(f"{server.url}/forms/rss/submissions")
    page.locator("#submissions tbody tr th a").last.click()
    expect(page.locator("h1")).to_contain_text("Record")
    expect(page.locator("body")).to_contain_text("Case ID of the returnee")
    iid = page.locator("h1 code").inner_text()
    page.get_by_label("Review state").select_option("approved")
    page.get_by_label("Comment").fill("called back, all good")
    page.get_by_role("button", name="Save review").click()
    expect(page.locator("#review-state")).to_have_text("approved")
    screenshot(page, "record")
    assert api(server, f"/review/submissions/{iid}")["review_state"] == "approved"


def test_a_supervisor_resolves_the_planted_duplicate_by_merging_answers(server, page):
    sign_in(page, server, "sam")
    page.get_by_role("link", name="Duplicates").click()
    screenshot(page, "duplicates")
    page.locator("tbody tr", has_text="GIN-2026-00777 / gin-2026-00777").locator("th a").click()
    expect(page.locator("tr.differs").first).to_be_visible()
    screenshot(page, "duplicate")
    page.locator('input[type=radio][name="pick:econ/econ_satisfaction"][value=right]').check()
    page.get_by_role("button", name="Merge into the earlier record").click()
    expect(page.locator("#resolution")).to_contain_text("merge")
    match_id = int(re.search(r"/duplicates/(\d+)", page.url).group(1))
    match = api(server, f"/duplicates/{match_id}")
    assert match["resolution"] == "merge" and match["resolved_by"] == "sam"
    merged = api(server, f"/submissions/{match['merged_instance_id']}")
    assert merged["data"]["econ"]["econ_satisfaction"] == "satisfied"
    assert merged["data"]["case_id"] == "GIN-2026-00777"  # the base record's own answer
    audit = api(server, "/audit?action=duplicate.resolve")["entries"]
    assert audit[0]["actor"] == "sam" and audit[0]["details"]["action"] == "merge"


def test_an_admin_sees_the_pyxform_error_with_its_row_then_publishes(server, page):
    sign_in(page, server, "ama")
    page.get_by_role("link", name="Forms").click()
    screenshot(page, "forms")
    broken = server.folder / "broken.md"
    broken.write_text("| survey |\n| | type | name | label |\n| | text | q1 | Q1 |\n"
                      "| | begin group | g1 | G |\n")
    page.get_by_label("XLSForm file").set_input_files(str(broken))
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".error")).to_contain_text("XLSForm has an error")
    expect(page.locator("table")).to_contain_text("survey")
    screenshot(page, "publish-error")
    page.goto(f"{server.url}/forms")
    page.get_by_label("XLSForm file").set_input_files(str(FIXTURES / "household.md"))
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flash")).to_contain_text("Published")
    expect(page.locator("h1")).to_contain_text("(tform)")
    for name, path in (("users", "/users"), ("outbox", "/outbox"), ("review", "/review")):
        page.goto(server.url + path)
        screenshot(page, name)


def test_the_collect_qr_code_carries_this_server_and_the_chosen_enumerator(server, page):
    sign_in(page, server, "sam")
    page.goto(f"{server.url}/forms/rss")
    qr = page.locator("#collect-qr")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")
    assert decode(qr.get_attribute("data-payload"))["general"] == {"server_url": server.url}
    page.get_by_label("Enumerator").select_option("eve")
    page.get_by_role("button", name="Make the code").click()
    general = decode(page.locator("#collect-qr").get_attribute("data-payload"))["general"]
    assert general == {"server_url": server.url, "username": "eve"}
    screenshot(page, "form-detail")


def test_switching_to_french_translates_the_console_and_is_remembered(server, page, browser):
    sign_in(page, server, "sam")
    page.get_by_role("link", name="Français").click()
    expect(page.locator("h1")).to_have_text("Vue d’ensemble du bureau")
    page.get_by_role("link", name="Formulaires").click()
    expect(page.locator("h1")).to_have_text("Formulaires")
    page.goto(f"{server.url}/forms/rss/submissions")
    expect(page.get_by_role("button", name="Appliquer")).to_be_visible()
    screenshot(page, "submissions-fr")
    other = browser.new_context().new_page()  # the choice follows the user
    sign_in_fr = other.goto(f"{server.url}/login")
    assert sign_in_fr.ok
    other.get_by_label("User name").fill("sam")
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Sign in").click()
    expect(other.locator("h1")).to_have_text("Vue d’ensemble du bureau")
    screenshot(other, "overview-fr")
    other.context.close()


def test_the_scores_chart_shows_the_trends_api_numbers(server, page):
    sign_in(page, server, "ana")
    expect(page.locator("h1")).to_contain_text("overview")
    page.get_by_role("link", name="Scores").click()
    expect(page.locator("#chart-composite svg")).to_be_visible()
    trends = api(server, "/scores/trends?form_id=rss&by=country,quarter&threshold=0.5", "ana")
    rows = page.locator("#chart-composite g.row")
    expect(rows).to_have_count(len(trends["groups"]))
    for i, group in enumerate(trends["groups"]):
        s = group["scores"]["composite"]
        assert rows.nth(i).get_attribute("data-n") == str(s["n"])
        assert float(rows.nth(i).get_attribute("data-mean")) == s["mean"]
    screenshot(page, "scores")


def test_a_role_without_access_gets_403(server, page):
    sign_in(page, server, "ana")
    response = page.goto(f"{server.url}/users")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    screenshot(page, "forbidden")


def test_an_enumerator_disabled_on_the_users_page_is_refused_on_every_door(
        server, page, browser):
    url = server.url
    token = server.token_for("dan", "enumerator", PASSWORD)
    digest = HTTPDigestAuth("dan", PASSWORD)
    openrosa = {"X-OpenRosa-Version": "1.0"}
    pushed = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
              "form_version": server.version, "attachments": [],
              "data": build(BEST, case_id="GIN-2026-04401")}

    def push(record):
        return requests.post(f"{url}/api/v1/sync/push", timeout=10, json={
            "device_id": "tab-dan", "batch_id": str(uuid.uuid4()), "submissions": [record]},
            headers={"Authorization": f"Bearer {token}"})

    def submit(auth):
        xml = (f'<data id="rss" version="{server.version}"><case_id>GIN-2026-04402</case_id>'
               f"<meta><instanceID>uuid:{uuid.uuid4()}</instanceID></meta></data>")
        return requests.post(f"{url}/submission", auth=auth, headers=openrosa, timeout=10,
                             files={"xml_submission_file": ("s.xml", xml, "text/xml")})

    # before: dan's records through two doors, a Central session, an open console
    assert push(pushed).status_code == 200
    sent = submit(digest)
    assert sent.status_code == 201
    sent_id = re.search(r"uuid:[0-9a-f-]+", sent.request.body.decode()).group(0)
    central = requests.post(f"{url}/v1/sessions", timeout=10, json={
        "email": "dan", "password": PASSWORD}).json()["token"]
    assert requests.get(f"{url}/v1/projects", timeout=10,
                        headers={"Authorization": f"Bearer {central}"}).status_code == 200
    dans = browser.new_context().new_page()
    sign_in(dans, server, "dan", next_page="/forms")
    expect(dans.locator("h1")).to_have_text("Forms")
    requests.get(f"{url}/formList", auth=("ghost", "a-guess"), timeout=10)  # a throttle row

    sign_in(page, server, "ama")
    page.get_by_role("link", name="Accounts").click()
    row = page.locator('tr[data-user="dan"]')
    expect(row.locator(".state")).to_have_text("active")
    row.get_by_role("button", name="Disable dan").click()
    expect(page.locator(".flash")).to_contain_text("dan is disabled")
    expect(row.locator(".state")).to_have_text("disabled")
    expect(page.locator('tr[data-key="user:ghost"]')).to_be_visible()
    screenshot(page, "users")
    assert api(server, "/audit?action=user.disable")["entries"][0]["actor"] == "ama"

    # after: refused on every door
    refused = push(dict(pushed, instance_id=f"uuid:{uuid.uuid4()}"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "account_disabled"
    for auth in (("dan", PASSWORD), digest):
        assert requests.head(f"{url}/submission", auth=auth, headers=openrosa,
                             timeout=10).status_code == 403
        assert submit(auth).status_code == 403
    r = requests.get(f"{url}/v1/projects", timeout=10,
                     headers={"Authorization": f"Bearer {central}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "credentials_invalid"
    dans.goto(f"{url}/forms")
    expect(dans).to_have_url(re.compile(r"/login\?next=/forms$"))
    dans.get_by_label("User name").fill("dan")
    dans.get_by_label("Password").fill(PASSWORD)
    dans.get_by_role("button", name="Sign in").click()
    expect(dans.locator("#login-problem")).to_have_text(
        "This account is disabled. Ask an admin to enable it.")
    screenshot(dans, "login-disabled")
    dans.context.close()

    # the records received before stay
    assert api(server, f"/submissions/{pushed['instance_id']}")["data"]["case_id"] == \
        "GIN-2026-04401"
    assert api(server, f"/submissions/{sent_id}")["origin"]["user"] == "dan"
