"""What the console's pages show, checked against the JSON API that returns the
same data and against counts worked out by hand from what was pushed."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

from server.console.collect_qr import decode
from server.review.status import sync_status
from tests.helpers.forwarding import rss_records
from tests.helpers.console import post_form

PAGES = ("/", "/devices", "/forms", "/forms/rss", "/forms/rss/submissions", "/review",
         "/duplicates", "/scores", "/users", "/users/analyst1/delete", "/outbox", "/account")


class Scan(HTMLParser):
    """Collects what a strict Content-Security-Policy would block, and form controls
    without a label."""

    def __init__(self):
        super().__init__()
        self.inline_scripts, self.inline_styles, self.handlers = 0, 0, []
        self.labels, self.controls = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and "src" not in a:
            self.inline_scripts += 1
        if tag == "style" or "style" in a:
            self.inline_styles += 1
        self.handlers += [k for k in a if k.startswith("on")]
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a)


def test_pages_have_no_inline_script_and_send_a_strict_content_security_policy(console):
    client = console.client("admin")
    for page in PAGES:
        r = client.get(page)
        assert r.status_code == 200, page
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        scan = Scan()
        scan.feed(r.data.decode())
        assert (scan.inline_scripts, scan.inline_styles, scan.handlers) == (0, 0, []), page


def test_every_form_control_has_a_label(console):
    client = console.client("admin")
    for page in PAGES:
        scan = Scan()
        scan.feed(client.get(page).data.decode())
        unlabelled = [c for c in scan.controls
                      if c.get("id") not in scan.labels and not c.get("aria-label")
                      and c.get("type") not in ("checkbox", "radio")]
        assert unlabelled == [], page


def test_the_overview_counts_what_was_pushed_today_and_matches_the_api(console):
    page = console.client("supervisor").get("/").data.decode()
    api = console.api("supervisor", "/api/v1/overview").get_json()
    [rss] = [f for f in api["forms"] if f["form_id"] == "rss"]
    # 12 records from tab-1 and 1 from tab-2, all today; the last one is invalid
    assert rss["received_today"] == rss["received_week"] == 13
    assert rss["flagged"] >= 1
    assert f'<td data-name="received_today">{rss["received_today"]}</td>' in page


def test_sync_status_lists_each_tablet_and_enumerator_and_marks_the_silent_ones(console):
    api = console.api("supervisor", "/api/v1/devices").get_json()
    by_device = {d["device_id"]: d for d in api["devices"]}
    assert by_device["tab-1"]["enumerator"] == "enumerator1"
    assert by_device["tab-1"]["records"] >= 12
    assert by_device["tab-2"]["last_problem"].startswith("flagged: uuid:")
    page = console.client("supervisor").get("/devices?lang=en").data.decode()
    assert "tab-1" in page and "tab-2" in page
    # tab-2's last problem: its invalid record, named in words and linked to its page
    problem = by_device["tab-2"]["last_problem"].removeprefix("flagged: ")
    assert re.search(r'flagged record:\s*<a href="/submissions/' + re.escape(problem)
                     + '" title="' + re.escape(problem) + '">' + problem[5:13] + '</a>', page)
    french = console.client("supervisor").get("/devices?lang=fr").data.decode()
    assert "fiche signalée\u00a0:" in french
    later = datetime.now(timezone.utc) + timedelta(days=9)
    silent = sync_status(console.db, now=later, silent_after_days=7)["devices"]
    assert all(d["silent"] and d["days_since_last_push"] >= 8 for d in silent)


def test_the_table_pages_by_keyset_without_gaps_or_repeats(console):
    client = console.client("supervisor")
    seen, url = [], "/api/v1/forms/rss/records?limit=5"
    while url:
        body = console.api("supervisor", url).get_json()
        seen += [r["instance_id"] for r in body["rows"]]
        url = f"/api/v1/forms/rss/records?limit=5&before={body['next']}" if body["next"] \
            else None
    current = [r[0] for r in console.db.execute(
        "SELECT instance_id FROM submissions WHERE state = 'current' ORDER BY seq DESC")]
    assert seen == current
    page = client.get("/forms/rss/submissions?limit=5").data.decode()
    assert page.count('href="/submissions/uuid:') == 5 and 'rel="next"' in page


def test_the_table_filters_flagged_records_and_shows_the_chosen_columns(console):
    client = console.client("supervisor")
    page = client.get("/forms/rss/submissions?flagged=yes&col=case_id&col=consent").data
    assert b"GIN-2026-09001" in page and b"perhaps" in page
    assert b"GIN-2026-00000" not in page  # valid records are left out
    assert b"<th scope=\"col\">consent</th>" in page
    api = console.api("supervisor", "/api/v1/forms/rss/records?flagged=yes").get_json()
    assert [r["instance_id"] for r in api["rows"]] == re.findall(
        r'href="/submissions/(uuid:[^"]+)"', page.decode())


def test_the_export_buttons_download_the_current_filter(console):
    client = console.client("analyst")
    page = client.get("/forms/rss/submissions?country=GIN&review_state=received").data.decode()
    href = re.search(r'href="(/forms/rss/export\?[^"]*format=csv[^"]*)"', page).group(1)
    href = href.replace("&amp;", "&")
    assert "country=GIN" in href and "review_state=received" in href
    rows = list(csv.DictReader(io.StringIO(client.get(href).data.decode())))
    api = console.api("analyst", "/api/v1/forms/rss/submissions?format=csv&country=GIN"
                      "&review_state=received")
    assert rows == list(csv.DictReader(io.StringIO(api.data.decode())))
    assert rows and all(r["review_state"] == "received" for r in rows)


def test_the_export_buttons_carry_the_tablet_enumerator_and_flag_filters_too(console):
    client = console.client("supervisor")
    page = client.get("/forms/rss/submissions?lang=en&device=tab-2&enumerator=supervisor1"
                      "&flagged=yes").data.decode()
    href = re.search(r'href="(/forms/rss/export\?[^"]*format=csv[^"]*)"', page)
    href = href.group(1).replace("&amp;", "&")
    assert "device=tab-2" in href and "enumerator=supervisor1" in href
    assert "flagged=true" in href
    rows = list(csv.DictReader(io.StringIO(client.get(href).data.decode())))
    # the fixture's one record from tab-2, sent by supervisor1, invalid (consent "perhaps")
    assert [r["case_id"] for r in rows] == ["GIN-2026-09001"]
    assert "invalid" in rows[0]["flags"].split()
    unflagged = console.api("supervisor", "/api/v1/forms/rss/submissions?format=csv"
                            "&device=tab-2&flagged=false")
    assert list(csv.DictReader(io.StringIO(unflagged.data.decode()))) == []


def test_a_record_shows_labels_in_french_findings_beside_answers_and_its_scores(console):
    iid = console.db.execute("SELECT instance_id FROM submissions WHERE "
                             "instr(flags, 'invalid') > 0").fetchone()[0]
    client = console.client("supervisor")
    en = client.get(f"/submissions/{iid}").data.decode()
    assert "Case ID of the returnee" in en and "Economic dimension" in en
    assert 'class="finding"' in en
    fr = client.get(f"/submissions/{iid}?lang=fr").data.decode()
    assert "Dimension économique" in fr and "Score" in fr and "Provenance" in fr
    assert "Economic dimension" not in fr


def test_approving_a_record_from_its_page_is_recorded_with_who_did_it(console):
    iid = console.db.execute("SELECT instance_id FROM submissions ORDER BY id LIMIT 1"
                             ).fetchone()[0]
    client = console.client("supervisor")
    r = post_form(client, f"/submissions/{iid}", f"/submissions/{iid}/review",
                  {"state": "approved", "comment": "checked by phone"})
    assert r.status_code == 302
    got = console.api("admin", f"/api/v1/review/submissions/{iid}").get_json()
    assert got["review_state"] == "approved"
    assert got["reviews"][-1]["actor"] == "supervisor1"
    assert "checked by phone" in client.get(f"/submissions/{iid}").data.decode()


def test_a_comment_saved_with_the_same_state_is_a_note_in_the_history(console):
    iid = console.db.execute("SELECT instance_id FROM submissions ORDER BY id LIMIT 1 OFFSET 1"
                             ).fetchone()[0]
    client = console.client("supervisor")
    post_form(client, f"/submissions/{iid}", f"/submissions/{iid}/review",
              {"state": "has_issues", "comment": "age looks wrong"})
    post_form(client, f"/submissions/{iid}", f"/submissions/{iid}/review",
              {"state": "has_issues", "comment": "enumerator confirmed the age"})
    got = console.api("admin", f"/api/v1/review/submissions/{iid}").get_json()
    assert got["review_state"] == "has_issues"
    assert [(r["action"], r["state"], r["comment"]) for r in got["reviews"]] == [
        ("review", "has_issues", "age looks wrong"),
        ("comment", "has_issues", "enumerator confirmed the age")]
    page = client.get(f"/submissions/{iid}?lang=en").data.decode()
    assert "supervisor1:  «enumerator confirmed the age»" in page


def test_the_collect_qr_code_names_this_server_and_adds_an_account_only_when_chosen(console):
    client = console.client("supervisor")
    page = client.get("/forms/rss", headers={"X-Forwarded-Proto": "https"}).data.decode()
    payload = re.search(r'data-payload="([^"]+)"', page).group(1)
    settings = decode(payload)
    assert settings["general"] == {"server_url": "https://localhost"}
    assert re.search(r'<img class="qr" id="collect-qr" src="data:image/svg\+xml', page)
    r = post_form(client, "/forms/rss", "/forms/rss/collect-qr",
                  {"enumerator": "enumerator1", "password": ""})
    general = decode(re.search(r'data-payload="([^"]+)"', r.data.decode()).group(1))["general"]
    assert general == {"server_url": "http://localhost", "username": "enumerator1"}
    r = post_form(client, "/forms/rss", "/forms/rss/collect-qr",
                  {"enumerator": "enumerator1", "password": "typed-here"})
    general = decode(re.search(r'data-payload="([^"]+)"', r.data.decode()).group(1))["general"]
    assert general["password"] == "typed-here"


def test_the_score_charts_show_the_trends_api_numbers_and_the_csv_has_them(console):
    console.push(rss_records(20, console.version, seed=9), device="tab-3")
    client = console.client("analyst")
    api = console.api("analyst", "/api/v1/scores/trends?form_id=rss&by=country,quarter"
                      "&threshold=0.5").get_json()
    page = client.get("/scores?form_id=rss&by=country,quarter&threshold=0.5").data.decode()
    for group in api["groups"]:
        s = group["scores"]["composite"]
        label = " · ".join(str(v) for v in group["group"].values())
        assert f'data-group="{label}" data-n="{s["n"]}" data-mean="{s["mean"]}"' in page
    rows = list(csv.DictReader(io.StringIO(client.get(
        "/scores.csv?form_id=rss&by=country,quarter&threshold=0.5").data.decode())))
    composite = [r for r in rows if r["score"] == "composite"]
    assert [(int(r["n"]), float(r["mean"]), float(r["at_or_above"])) for r in composite] == [
        (g["scores"]["composite"]["n"], g["scores"]["composite"]["mean"],
         g["scores"]["composite"]["at_or_above"]) for g in api["groups"]]


def test_publishing_a_broken_form_shows_pyxform_error_with_sheet_and_row(console):
    client = console.client("admin")
    bad = (b"| survey |        |       |        |\n"
           b"|        | type   | name  | label  |\n"
           b"|        | text   | q1    | Q1     |\n"
           b"|        | begin group | g1 | G |\n")
    r = post_form(client, "/forms", "/forms", {"file": (io.BytesIO(bad), "broken.md")},
                  content_type="multipart/form-data")
    assert r.status_code == 422
    page = r.data.decode()
    assert "<td>survey</td>" in page and re.search(r"<td>\d+</td>", page)


def test_a_form_whose_id_holds_a_slash_and_a_space_opens_from_the_forms_list(console):
    from server.registry.publish import forms_publish

    source = (b"| survey |\n| | type | name | label |\n| | text | q | Q |\n"
              b"| settings |\n| | form_id | version | form_title |\n"
              b"| | visits/2026 round | 1 | Odd id |\n")
    forms_publish(console.db, source, "odd.md")
    client = console.client("supervisor")
    listing = client.get("/forms").data.decode()
    link = re.search(r'<a href="([^"]+)">Odd id</a>', listing).group(1)
    assert " " not in link and link.count("/") == 2  # one path segment: /forms/<id>
    page = client.get(link)
    assert page.status_code == 200 and "visits/2026 round" in page.data.decode()
    table = re.search(r'<a class="button" href="([^"]+/submissions)">',
                      page.data.decode()).group(1)
    assert client.get(table).status_code == 200
    api = console.api("supervisor", link.replace("/forms/", "/api/v1/forms/", 1)
                      + "/records")
    assert api.status_code == 200


def test_the_form_page_names_the_entity_list_tablets_receive_and_its_duplicate_rules(console):
    client = console.client("supervisor")
    page = client.get("/forms/rss?lang=en").data.decode()
    media = page[page.index('id="media-h"'):page.index('id="rules-h"')]
    # RSS fills the entity list "returnees" and reads it back as returnees.csv
    assert "returnees.csv" in media and "entity list returnees" in media
    assert "No media file" not in media
    rules = page[page.index('id="rules-h"'):]
    assert "Same person, other round: days apart at least" in rules and "60" in rules
    assert "reinterview_days</label>" not in rules
    french = client.get("/forms/rss?lang=fr").data.decode()
    assert "Rechercher les doublons probables" in french and "entités returnees, écrite par le serveur" in french


def test_french_pages_set_a_no_break_space_before_a_labels_colon(console):
    client = console.client("supervisor")
    english = client.get("/forms/rss/submissions?lang=en").data.decode()
    assert "<h1>Submissions: " in english
    french = client.get("/forms/rss/submissions?lang=fr").data.decode()
    assert "<h1>Soumissions\u00a0: " in french


def test_a_long_tablet_id_is_shortened_in_the_table_and_whole_in_its_tooltip(console):
    tablet = "0d90857b-3d7b-43d4-b025-571cc4242a23"
    console.push([console.record()], device=tablet)
    page = console.client("supervisor").get(
        f"/forms/rss/submissions?lang=en&device={tablet}").data.decode()
    assert f'<td title="{tablet}">0d90857b…</td>' in page


def test_a_records_provenance_is_named_in_words(console):
    iid = console.db.execute("SELECT instance_id FROM submissions ORDER BY id LIMIT 1"
                             ).fetchone()[0]
    client = console.client("supervisor")
    english = client.get(f"/submissions/{iid}?lang=en").data.decode()
    provenance = english[english.index('id="prov-h"'):]
    assert "<dt>Tablet</dt><dd>tab-1</dd>" in provenance
    assert "<dt>Sent by</dt><dd>enumerator1</dd>" in provenance
    assert "device_id" not in provenance and "batch_id" not in provenance
    french = client.get(f"/submissions/{iid}?lang=fr").data.decode()
    assert "<dt>Envoyée par</dt><dd>enumerator1</dd>" in french
