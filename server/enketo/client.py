"""The calls fieldsync makes to Enketo's API v2 (apidocs.enketo.org/v2).

Every call is a form-encoded POST or DELETE under ``{ENKETO_URL}/api/v2`` with
the API key as the Basic user name and an empty password, and always with a
timeout. The client takes its ``requests`` session as a parameter, so tests
hand it a stand-in and nothing here opens a connection of its own.

    client = EnketoClient(requests.Session(), "https://fieldsync.example.org/-", key)
    client.survey_all(server_url, "rss")  # -> {"url", "offline_url", "single_url", ...}
    client.deactivate(server_url, "rss")  # DELETE /survey: the links stop working
    client.edit(server_url, "rss", xml, "uuid:...", {"house.png": url}, return_url)

Enketo's refusals become ``EnketoError``: ``enketo_unreachable`` when it does
not answer, ``enketo_edit_busy`` when a record was opened for editing less than
a minute ago (its 405), ``enketo_refused`` for the rest, with Enketo's status
and message in the details. The API key never appears in a message or a log.
"""

from __future__ import annotations

import logging

import requests

from server.enketo.errors import EnketoError

API = "/api/v2"
TIMEOUT_SECONDS = 10.0  # Enketo answers from Redis: seconds mean it is down
LINK_KEYS = ("url", "offline_url", "single_url", "single_once_url", "preview_url",
             "iframe_url", "single_iframe_url", "single_once_iframe_url",
             "preview_iframe_url")

log = logging.getLogger("fieldsync.enketo")


class EnketoClient:
    def __init__(self, session: requests.Session, enketo_url: str, api_key: str,
                 timeout: float = TIMEOUT_SECONDS):
        self.session = session
        self.base = enketo_url.rstrip("/") + API
        self._auth = (api_key, "")
        self.timeout = timeout

    def survey_all(self, server_url: str, form_id: str) -> dict:
        """Every web-form link of a form (POST /survey/all): creates the survey in
        Enketo, or activates it again; ``{"enketo_id", "links": {...}}``."""
        body = self._call("POST", "/survey/all", {"server_url": server_url,
                                                  "form_id": form_id})
        links = {k: body[k] for k in LINK_KEYS if isinstance(body.get(k), str)}
        if "url" not in links:
            raise EnketoError("enketo_refused", "Enketo's answer to /survey/all has no "
                              "'url'; check that FIELDSYNC_ENKETO_URL is Enketo's API "
                              "address.", {"keys": sorted(body)})
        return {"enketo_id": body.get("enketo_id"), "links": links}

    def deactivate(self, server_url: str, form_id: str) -> bool:
        """DELETE /survey: Enketo stops serving the form's links. False when Enketo
        holds no such survey (nothing to stop)."""
        try:
            self._call("DELETE", "/survey", {"server_url": server_url, "form_id": form_id})
        except EnketoError as exc:
            if exc.details.get("status") == 404:
                return False
            raise
        return True

    def edit(self, server_url: str, form_id: str, instance: str, instance_id: str,
             attachments: dict[str, str], return_url: str | None = None) -> str:
        """POST /instance: an edit URL for one record, valid for a short while.
        ``attachments``: file name -> a URL Enketo can fetch it from."""
        data = {"server_url": server_url, "form_id": form_id, "instance": instance,
                "instance_id": instance_id}
        for name, url in attachments.items():
            data[f"instance_attachments[{name}]"] = url
        if return_url:
            data["return_url"] = return_url
        try:
            body = self._call("POST", "/instance", data)
        except EnketoError as exc:
            if exc.details.get("status") == 405:
                raise EnketoError(
                    "enketo_edit_busy", f"Record {instance_id} was opened for editing in "
                    "Enketo less than a minute ago; use that edit, or wait a minute and "
                    "try again.", {"instance_id": instance_id}) from None
            raise
        if not isinstance(body.get("edit_url"), str):
            raise EnketoError("enketo_refused", "Enketo's answer to /instance has no "
                              "'edit_url'.", {"keys": sorted(body)})
        return body["edit_url"]

    def _call(self, method: str, path: str, data: dict) -> dict:
        url = self.base + path
        try:
            r = self.session.request(method, url, data=data, auth=self._auth,
                                     timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning("enketo_unreachable", extra={"fields": {
                "method": method, "url": url, "error": type(exc).__name__}})
            raise EnketoError(
                "enketo_unreachable", f"Enketo at {self.base} did not answer "
                f"({type(exc).__name__}); check FIELDSYNC_ENKETO_URL and that Enketo runs.",
                {"url": url}) from None
        if r.status_code >= 400:
            message = _message(r)
            log.warning("enketo_refused", extra={"fields": {
                "method": method, "url": url, "status": r.status_code, "message": message}})
            hint = (" Check FIELDSYNC_ENKETO_API_KEY against Enketo's \"api key\"."
                    if r.status_code == 401 else "")
            raise EnketoError(
                "enketo_refused", f"Enketo refused {method} {path}: {r.status_code} "
                f"{message}.{hint}", {"status": r.status_code, "enketo_message": message})
        if r.status_code == 204 or not r.content:
            return {}
        try:
            body = r.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise EnketoError("enketo_refused", f"Enketo answered {method} {path} with "
                              "something that is not a JSON object; check "
                              "FIELDSYNC_ENKETO_URL.", {"status": r.status_code})
        return body


def _message(response: requests.Response) -> str:
    """Enketo's own message of a refusal (``{"code", "message"}``), shortened."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    text = body.get("message") if isinstance(body, dict) else None
    return str(text or response.reason or "")[:300]
