"""The QR code that sets up ODK Collect or KoboCollect for this server.

Collect reads a settings QR code as its settings JSON, zlib-compressed, then
base64-encoded; settings a code leaves out keep their defaults. fieldsync's
OpenRosa door is at the server's root (``/formList``, ``/submission``), so
``general.server_url`` is the server's URL as the request reached it. An
account is added only when the supervisor chooses one, and a password only
when they type it: a stored password cannot be read back (it is hashed).
"""

from __future__ import annotations

import base64
import json
import zlib
from functools import lru_cache

import segno

QR_ERROR = "l"  # the payload is short; low error correction keeps modules large


def collect_settings(server_url: str, *, username: str | None = None,
                     password: str | None = None, project: str | None = None) -> dict:
    general = {"server_url": server_url}
    if username:
        general["username"] = username
        if password:
            general["password"] = password
    settings: dict = {"general": general, "admin": {}}
    if project:
        settings["project"] = {"name": project}
    return settings


def payload(settings: dict) -> str:
    """What the QR code carries: base64(zlib(settings JSON))."""
    text = json.dumps(settings, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")


def decode(text: str) -> dict:
    """The settings a payload carries (for checking a code)."""
    return json.loads(zlib.decompress(base64.b64decode(text)).decode("utf-8"))


@lru_cache(maxsize=256)
def svg_data_uri(text: str) -> str:
    """The QR code of ``text`` as an SVG ``data:`` URI for an ``<img>`` (kept: the
    code without an account is the same on every load of a form's page)."""
    return segno.make(text, error=QR_ERROR, micro=False).svg_data_uri(scale=5, border=4)
