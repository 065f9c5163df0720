"""The SQLite store. All SQL in fieldsync lives in this package.

``db.py`` opens connections, ``migrations.py`` owns the schema, and one query
module per area (``users``, ``forms``, ``audit``, ...) holds the statements,
always with bound parameters. Callers pass a ``sqlite_utils.Database``.
"""

from server.store.db import open_db

__all__ = ["open_db"]
