"""ODK Collect as the tests drive it: what Collect does over HTTP (form list,
download, submissions with Digest auth), and RSS instances as Collect writes
them."""

from __future__ import annotations

import random
import uuid

import requests
from lxml import etree
from requests.auth import HTTPDigestAuth

from forms.instance import record_to_instance
from forms.model import compile_xform

PASSWORD = "collect-pass-1"
LIST_NS = "{http://openrosa.org/xforms/xformsList}"
RESPONSE_NS = "{http://openrosa.org/http/response}"
VISITS_MD = b"""\
| survey |
| | type | name | label | image |
| | note | welcome | Welcome | logo.png |
| | text | village | Village | |
| | select_one_from_file villages.csv | village_code | Village code | |
| | image | site_photo | Photo of the site | |
| | begin group | hh | Household | |
| | text | head | Head of household | |
| | begin repeat | member | Member | |
| | text | name | Name | |
| | integer | age | Age | |
| | begin repeat | visit | Visit | |
| | date | when | When | |
| | image | photo | Photo | |
| | end repeat | | | |
| | end repeat | | | |
| | end group | | | |
| settings |
| | form_id | version | form_title |
| | visits | 3 | Household visits |
"""


class Collect:
    """What ODK Collect does over HTTP, driven by requests with Digest auth."""

    def __init__(self, url: str, user: str, password: str = PASSWORD):
        self.url = url
        self.http = requests.Session()
        self.http.auth = HTTPDigestAuth(user, password)
        self.http.headers["X-OpenRosa-Version"] = "1.0"

    def form_list(self, **params) -> list[dict]:
        r = self.http.get(f"{self.url}/formList", params=params, timeout=10)
        assert r.status_code == 200, r.text
        root = etree.fromstring(r.content)
        return [{etree.QName(c).localname: c.text for c in x} for x in root.iter(f"{LIST_NS}xform")]

    def download(self, entry: dict) -> bytes:
        r = self.http.get(entry["downloadUrl"], timeout=10)
        assert r.status_code == 200
        return r.content

    def model(self, form_id: str):
        entry = next(e for e in self.form_list() if e["formID"] == form_id)
        return compile_xform(self.download(entry))

    def submit(self, xml: bytes, media: dict[str, bytes] | None = None) -> requests.Response:
        parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
        parts += [(name, (name, data, "image/jpeg")) for name, data in (media or {}).items()]
        return self.http.post(f"{self.url}/submission", files=parts, timeout=30)


def message(response: requests.Response) -> str:
    return etree.fromstring(response.content).findtext(f"{RESPONSE_NS}message")


def new_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def rss_instance(model, rng: random.Random, instance_id: str | None = None) -> dict:
    """A realistic RSS record, as an enumerator would fill it."""
    def pick(path):
        return rng.choice([c.name for c in model.choices[model.fields[path].list_name]])

    round_ = pick("survey_round")
    case_id = f"GIN-2024-{rng.randint(1, 99999):05d}"
    data = {
        "start": "2026-03-10T09:12:00.000Z", "end": "2026-03-10T09:41:00.000Z",
        "today": "2026-03-10", "deviceid": "collect:7f3a9c", "username": "enum1",
        "intro": "", "case_id": case_id, "survey_round": round_,
        "interview_date": "2026-03-10", "return_date": "2025-11-02",
        "country_of_return": "GIN", "country_of_migration": "LBY", "sex": pick("sex"),
        "age": str(rng.randint(18, 60)), "consent": "yes", "no_consent": "",
    }
    for group in ("econ", "social", "psycho"):
        data[group] = {}
        for f in model.fields.values():
            if f.parent == group and f.kind == "question":
                data[group][f.name] = pick(f.path) if f.control == "select1" else ""
    data["econ"]["productive_assets"] = "land livestock"
    if data["econ"]["has_debt"] != "yes":
        data["econ"]["debt_vs_spending"] = ""
    if data["psycho"]["able_to_stay"] == "yes":
        data["psycho"]["reason_to_leave"] = ""
    data["respondent_key"] = f"{case_id}|{round_}"
    data["scoring_spec"] = "rss-v1"
    return {"instance_id": instance_id or new_id(), "form_id": model.form_id,
            "form_version": model.version, "data": data}


def collect_xml(record: dict, model) -> bytes:
    """The instance as Collect writes it: orx-prefixed meta block."""
    xml = record_to_instance(record, model)
    return xml.replace(b"<meta>", b"<orx:meta>").replace(b"</meta>", b"</orx:meta>") \
        .replace(b"<instanceID>", b"<orx:instanceID>").replace(b"</instanceID>",
                                                               b"</orx:instanceID>") \
        .replace(b"<deprecatedID>", b"<orx:deprecatedID>").replace(b"</deprecatedID>",
                                                                   b"</orx:deprecatedID>")
