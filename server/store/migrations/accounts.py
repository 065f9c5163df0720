"""Sign-in state shared by every web worker: throttles, Digest nonces, account lifecycle."""

from __future__ import annotations

from sqlite_utils import Database

from server.store.migrations import migrations


@migrations(name="0015_sign_in_state")
def m0015_sign_in_state(db: Database) -> None:
    # Sign-in state shared by every web worker (accounts hardened): failed
    # sign-ins per account and per client address with the back-off they earn,
    # the addresses each account signed in from (which an attacker's failures
    # against that account never block), and each Digest (nonce, nc, cnonce)
    # used, so a captured Digest header is refused by every worker, not only by
    # the one that saw it first. A deleted account keeps its row (records name
    # their author) without credentials.
    db.execute("ALTER TABLE users ADD COLUMN deleted_at TEXT")
    db.execute(
        """CREATE TABLE login_throttles (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            first_failed_at REAL NOT NULL,
            last_failed_at REAL NOT NULL,
            blocked_until REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX login_throttles_last ON login_throttles(last_failed_at)")
    db.execute(
        """CREATE TABLE login_addresses (
            name TEXT NOT NULL,
            address TEXT NOT NULL,
            last_ok_at REAL NOT NULL,
            PRIMARY KEY (name, address)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE digest_nonce_uses (
            nonce TEXT NOT NULL,
            nc TEXT NOT NULL,
            cnonce TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (nonce, nc, cnonce)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX digest_nonce_uses_expiry ON digest_nonce_uses(expires_at)")


@migrations(name="0016_sessions_ended_at")
def m0016_sessions_ended_at(db: Database) -> None:
    # When an admin last cut the account's sign-ins off (disable, delete): a
    # console session opened before it stays ended even once the account is
    # enabled again (server/console/session.py).
    db.execute("ALTER TABLE users ADD COLUMN sessions_ended_at TEXT")
