"""Where Enketo is and how fieldsync signs in to it, from the server's settings.

    FIELDSYNC_ENKETO_URL      Enketo's public address, as browsers reach it
                              (https://fieldsync.example.org/-): the links Enketo
                              answers are built from the address it was asked at
    FIELDSYNC_ENKETO_API_KEY  the "api key" of Enketo's config (a secret: never
                              logged, never shown)
    FIELDSYNC_SERVER_URL      fieldsync's public address (https://fieldsync.example.org),
                              given to Enketo as the OpenRosa server of every form

The app reads them from its config (``ENKETO_URL``, ``ENKETO_API_KEY``,
``SERVER_URL``, environment variables with the ``FIELDSYNC_`` prefix); the
command line reads the same environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from server.enketo.errors import EnketoError

KEYS = ("ENKETO_URL", "ENKETO_API_KEY", "SERVER_URL")


@dataclass(frozen=True)
class Settings:
    enketo_url: str | None = None
    api_key: str | None = field(default=None, repr=False)  # a secret: kept out of repr
    server_url: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.enketo_url and self.api_key and self.server_url)

    def require(self) -> Settings:
        """These settings, or ``enketo_not_configured`` naming what is missing."""
        missing = [f"FIELDSYNC_{key}" for key, value in zip(
            KEYS, (self.enketo_url, self.api_key, self.server_url)) if not value]
        if missing:
            raise EnketoError(
                "enketo_not_configured",
                f"Enketo is not set up on this server: set {', '.join(missing)} "
                "(docs/enketo.md).", {"missing": missing})
        return self


def from_config(config: Mapping) -> Settings:
    """Settings from an app config (``ENKETO_URL``, ``ENKETO_API_KEY``, ``SERVER_URL``)."""
    def text(key: str) -> str | None:
        value = config.get(key)
        return str(value).strip() or None if value else None

    def url(key: str) -> str | None:
        value = text(key)
        return value.rstrip("/") if value else None
    return Settings(url("ENKETO_URL"), text("ENKETO_API_KEY"), url("SERVER_URL"))


def from_environ(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``FIELDSYNC_*`` environment variables (the command line)."""
    environ = os.environ if environ is None else environ
    return from_config({key: environ.get(f"FIELDSYNC_{key}") for key in KEYS})
