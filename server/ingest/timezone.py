"""The server's time zone for form expressions: ``FIELDSYNC_TIMEZONE``.

A tablet evaluates ``today()``, a date without a time (local midnight) and
``decimal-time()`` in its own time zone. The server evaluates a record in the
zone its own ``end`` (else ``start``) timestamp shows, which the tablet wrote;
for a record that carries neither, whichever door it came through, in this
setting: ``UTC`` unless the environment variable says otherwise (an IANA name
such as ``Africa/Dakar``, or a fixed offset such as ``+03:00``). Set it to the
zone the tablets of this office run in (docs/expressions.md).
"""

from __future__ import annotations

import os
from datetime import tzinfo
from functools import lru_cache

from forms.errors import FormsError
from forms.xpath.values import timezone_named

TIMEZONE_ENV = "FIELDSYNC_TIMEZONE"


def server_timezone() -> tzinfo:
    """The configured zone; ``FormsError("timezone_invalid")`` when it names none."""
    return _zone(os.environ.get(TIMEZONE_ENV, ""))


@lru_cache(maxsize=8)
def _zone(text: str) -> tzinfo:
    try:
        return timezone_named(text)
    except ValueError as exc:
        raise FormsError("timezone_invalid", f"{TIMEZONE_ENV}: {exc}.") from None
