"""Numbered schema migrations, applied at start and recorded in the database.

Each migration is a function registered in order; sqlite-utils records the ones
applied in ``_sqlite_migrations`` and runs each inside a transaction, so an old
store upgrades in place and a failed step leaves it as it was. Migrations live in
modules by subject and are registered in the order the modules are imported
below (by number): add a new one at the end of its subject's module, or in a
new module imported last, with the next number; never edit or reorder applied ones.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("fieldsync")


def migrate(db: Database) -> list[str]:
    """Apply pending migrations; return the names applied now."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending


# Imported for their registrations, in the order they apply.
from server.store.migrations import core, accounts, entities, central, console  # noqa: E402,F401,I001
from server.store.migrations import enketo  # noqa: E402,F401,I001
