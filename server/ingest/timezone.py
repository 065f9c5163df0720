"""The server's time zone for form expressions: ``FIELDSYNC_TIMEZONE``.

A tablet evaluates ``today()``, a date without a time (local midnight) and
``decimal-time()`` in its own time zone. The server stands in for it with one
zone for every record it validates, whichever door the record came through:
``UTC`` unless the environment variable says otherwise (an IANA name such as
``Africa/Dakar``, or a fixed offset such as ``+03:00``). Set it to the zone the
tablets of this office run in. A record's own timestamps keep their offsets
whatever the setting (docs/expressions.md).
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
