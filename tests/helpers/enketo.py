"""A stand-in for Enketo Express's API v2, as a requests transport adapter.

It answers as apidocs.enketo.org/v2 documents (and Enketo Express 7 behaves),
and checks every request fieldsync sends against that documentation first:
the path and method exist; the body is application/x-www-form-urlencoded with
only the endpoint's documented parameters and every required one; the API key
is the Basic user name with an empty password; a timeout was set (fieldsync's
habit: nothing talks to the network without one). A request that breaks the
documentation fails the test at once (``Violation``), it is never answered.

    enketo = EnketoStandIn()
    app.extensions[SESSION_KEY] = enketo.session()
    ... enketo.surveys[(server_url, form_id)] -> {"id", "active"}
    ... enketo.calls -> [(method, path, fields)]
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from urllib.parse import parse_qsl, urlsplit

import requests
from lxml import etree
from requests.adapters import BaseAdapter

BASE = "https://enketo.test/-"
API_KEY = "enketorules-test-key"
# path -> (method, required parameters, optional parameters), from apidocs v2
ENDPOINTS = {
    ("POST", "/survey"): ({"server_url", "form_id"}, {"theme", "defaults"}),
    ("POST", "/survey/offline"): ({"server_url", "form_id"}, {"theme"}),
    ("POST", "/survey/single"): ({"server_url", "form_id"}, {"theme", "return_url",
                                                              "defaults"}),
    ("POST", "/survey/preview"): ({"server_url", "form_id"}, {"theme", "defaults", "go_to"}),
    ("POST", "/survey/all"): ({"server_url", "form_id"}, {"theme", "return_url", "defaults",
                                                          "parent_window_origin"}),
    ("DELETE", "/survey"): ({"server_url", "form_id"}, set()),
    ("POST", "/instance"): ({"server_url", "form_id", "instance", "instance_id"},
                            {"instance_attachments", "return_url", "go_to"}),
    ("POST", "/instance/iframe"): ({"server_url", "form_id", "instance", "instance_id"},
                                   {"instance_attachments", "return_url", "go_to",
                                    "parent_window_origin"}),
}
INSTANCE_LOCK_SECONDS = 60  # Enketo keeps an instance for editing one minute


class Violation(AssertionError):
    """fieldsync sent something Enketo's documented API does not have."""


class EnketoStandIn(BaseAdapter):
    def __init__(self, base: str = BASE, api_key: str = API_KEY, offline: bool = True):
        super().__init__()
        self.base, self.api_key, self.offline = base, api_key, offline
        self.surveys: dict[tuple[str, str], dict] = {}
        self.instances: dict[tuple[str, str, str], dict] = {}
        self.calls: list[tuple[str, str, dict]] = []
        self.down = False  # True: every connection fails, as when Enketo is stopped

    def session(self) -> requests.Session:
        s = requests.Session()
        s.mount(self.base, self)
        return s

    def close(self) -> None:
        pass

    # -- the transport ---------------------------------------------------------------
    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        if timeout is None:
            raise Violation("a request to Enketo without a timeout")
        if self.down:
            raise requests.ConnectionError(f"connection refused: {request.url}")
        path = urlsplit(request.url).path
        api = urlsplit(self.base).path + "/api/v2"
        if not path.startswith(api):
            raise Violation(f"not under Enketo's API v2: {request.url}")
        path = path[len(api):]
        if (request.method, path) not in ENDPOINTS:
            return self._answer(request, 405, {"message": "Not allowed."})
        fields, attachments = self._fields(request)
        self.calls.append((request.method, path, {**fields, **(
            {"instance_attachments": attachments} if attachments else {})}))
        if not self._key_ok(request):
            return self._answer(request, 401, {"message": "Not Allowed. Invalid API key."},
                                {"WWW-Authenticate": 'Basic realm="Enter valid API key '
                                                     'as user name"'})
        required, optional = ENDPOINTS[(request.method, path)]
        sent = set(fields) | ({"instance_attachments"} if attachments else set())
        if required - sent:
            raise Violation(f"{request.method} {path} lacks {sorted(required - sent)}")
        if sent - required - optional:
            raise Violation(f"{request.method} {path}: undocumented {sorted(sent - required - optional)}")
        if request.method == "DELETE":
            return self._deactivate(request, fields)
        if path.startswith("/instance"):
            return self._instance(request, fields, attachments)
        return self._survey(request, path, fields)

    def _fields(self, request) -> tuple[dict, dict]:
        ctype = request.headers.get("Content-Type", "")
        if ctype != "application/x-www-form-urlencoded":
            raise Violation(f"Enketo's API takes form-encoded bodies, not {ctype!r}")
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        pairs = parse_qsl(body or "", keep_blank_values=True)
        fields, attachments = {}, {}
        for key, value in pairs:
            if key.startswith("instance_attachments[") and key.endswith("]"):
                attachments[key[len("instance_attachments["):-1]] = value
            elif key in fields:
                raise Violation(f"parameter {key} sent twice")
            else:
                fields[key] = value
        return fields, attachments

    def _key_ok(self, request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == self.api_key and password == ""

    # -- the documented answers ------------------------------------------------------
    def _survey(self, request, path, fields):
        key = (fields["server_url"], fields["form_id"])
        survey = self.surveys.get(key)
        status = 200 if survey else 201
        if survey is None:
            survey = self.surveys[key] = {"id": secrets.token_hex(4)}
        survey["active"] = True  # asking again activates a deactivated survey
        if path == "/survey/offline" and not self.offline:
            return self._answer(request, 405, {"message": "Not Allowed."})
        return self._answer(request, status, self._urls(survey["id"], path))

    def _urls(self, enketo_id: str, path: str) -> dict:
        b = f"{self.base}/"
        every = {"url": f"{b}{enketo_id}", "single_url": f"{b}single/{enketo_id}",
                 "single_once_url": f"{b}single/once-{enketo_id}",
                 "offline_url": f"{b}x/{enketo_id}", "preview_url": f"{b}preview/{enketo_id}",
                 "iframe_url": f"{b}i/{enketo_id}",
                 "single_iframe_url": f"{b}single/i/{enketo_id}",
                 "single_once_iframe_url": f"{b}single/i/once-{enketo_id}",
                 "preview_iframe_url": f"{b}preview/i/{enketo_id}", "enketo_id": enketo_id}
        if not self.offline:
            every.pop("offline_url")
        one = {"/survey": "url", "/survey/offline": "offline_url", "/survey/single":
               "single_url", "/survey/preview": "preview_url"}
        return every if path == "/survey/all" else {one[path]: every[one[path]]}

    def _deactivate(self, request, fields):
        survey = self.surveys.get((fields["server_url"], fields["form_id"]))
        if survey is None:
            return self._answer(request, 404, {"message": "Survey not found."})
        survey["active"] = False
        return self._answer(request, 204, None)

    def _instance(self, request, fields, attachments):
        root = etree.fromstring(fields["instance"].encode())
        found = root.findtext(".//{*}instanceID") or root.findtext(".//instanceID")
        if found != fields["instance_id"]:
            raise Violation(f"instance_id {fields['instance_id']} is not the instance's "
                            f"instanceID {found}")
        key = (fields["server_url"], fields["form_id"], fields["instance_id"])
        held = self.instances.get(key)
        if held and time.monotonic() - held["at"] < INSTANCE_LOCK_SECONDS:
            return self._answer(request, 405, {"message": "Not allowed. Record is already "
                                                          "being edited"})
        survey = self.surveys.setdefault(key[:2], {"id": secrets.token_hex(4)})
        survey["active"] = True
        self.instances[key] = {"instance": fields["instance"], "attachments": attachments,
                               "return_url": fields.get("return_url"), "at": time.monotonic()}
        query = f"instance_id={fields['instance_id']}"
        if fields.get("return_url"):
            query += f"&return_url={fields['return_url']}"
        return self._answer(request, 201, {"edit_url": f"{self.base}/edit/{survey['id']}"
                                                       f"?{query}"})

    def _answer(self, request, status: int, body: dict | None, headers: dict | None = None):
        r = requests.Response()
        r.status_code, r.request, r.url = status, request, request.url
        r.reason = {200: "OK", 201: "Created", 204: "No Content", 401: "Unauthorized",
                    404: "Not Found", 405: "Method Not Allowed"}.get(status, "")
        if body is not None:
            body = {**body, "code": status}
            r._content = json.dumps(body).encode()
            r.headers["Content-Type"] = "application/json; charset=utf-8"
        else:
            r._content = b""
        r.headers.update(headers or {})
        return r
