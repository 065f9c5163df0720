"""Files streamed to the caller: read on a connection of their own, since the
answer outlives the request's connection, and closed when the stream ends or
cannot start; named in a header that carries plain ASCII whatever the form id."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from flask import current_app
from sqlite_utils import Database

from server.store import open_db

_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


@contextmanager
def own_connection() -> Iterator[Database]:
    """A connection for a streamed answer; closed here if the answer fails to start
    (the caller hands it to ``closing_after`` otherwise)."""
    db = open_db(current_app.config["DATABASE"])
    try:
        yield db
    except BaseException:
        db.close()
        raise


def closing_after(db: Database, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks``, then the connection closed (also when the caller goes away)."""
    try:
        yield from chunks
    finally:
        db.close()


def disposition(filename: str) -> str:
    """A Content-Disposition value naming ``filename`` in safe ASCII."""
    return f'attachment; filename="{_FILE_UNSAFE.sub("_", filename)}"'
