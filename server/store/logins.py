"""Queries on sign-in state shared by every web worker: failed sign-ins and
their back-off (``login_throttles``), the addresses each account signed in
from (``login_addresses``), and the Digest responses already used
(``digest_nonce_uses``). Times are Unix seconds (REAL)."""

from __future__ import annotations

from sqlite_utils import Database

THROTTLE_COLUMNS = ("key", "failures", "first_failed_at", "last_failed_at", "blocked_until")


def throttles_for(db: Database, keys: list[str]) -> dict[str, dict]:
    rows = db.execute(
        f"SELECT {', '.join(THROTTLE_COLUMNS)} FROM login_throttles "
        f"WHERE key IN ({', '.join('?' * len(keys))})", keys,
    ).fetchall()
    return {r[0]: dict(zip(THROTTLE_COLUMNS, r)) for r in rows}


def put_throttle(db: Database, row: dict) -> None:
    db.execute(
        f"INSERT OR REPLACE INTO login_throttles ({', '.join(THROTTLE_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(THROTTLE_COLUMNS))})",
        [row[c] for c in THROTTLE_COLUMNS],
    )


def delete_throttle(db: Database, key: str) -> bool:
    return db.execute("DELETE FROM login_throttles WHERE key = ?", [key]).rowcount > 0


def list_throttles(db: Database) -> list[dict]:
    rows = db.execute(f"SELECT {', '.join(THROTTLE_COLUMNS)} FROM login_throttles "
                      "ORDER BY last_failed_at DESC").fetchall()
    return [dict(zip(THROTTLE_COLUMNS, r)) for r in rows]


def forget_throttles(db: Database, failed_before: float, now: float) -> int:
    """Drop what no longer blocks and is too old to count."""
    return db.execute("DELETE FROM login_throttles WHERE last_failed_at < ? "
                      "AND blocked_until <= ?", [failed_before, now]).rowcount


def address_signed_in_at(db: Database, name: str, address: str) -> float | None:
    row = db.execute("SELECT last_ok_at FROM login_addresses WHERE name = ? AND address = ?",
                     [name, address]).fetchone()
    return row[0] if row else None


def remember_address(db: Database, name: str, address: str, now: float) -> None:
    db.execute("INSERT OR REPLACE INTO login_addresses (name, address, last_ok_at) "
               "VALUES (?, ?, ?)", [name, address, now])


def forget_addresses(db: Database, name: str | None = None,
                     before: float | None = None) -> int:
    """Forget the addresses of one account, or those not used since ``before``."""
    if name is not None:
        return db.execute("DELETE FROM login_addresses WHERE name = ?", [name]).rowcount
    return db.execute("DELETE FROM login_addresses WHERE last_ok_at < ?", [before]).rowcount


def use_digest_response(db: Database, nonce: str, nc: str, cnonce: str,
                        expires_at: float) -> bool:
    """True the first time (nonce, nc, cnonce) is recorded, False on a replay."""
    return db.execute(
        "INSERT OR IGNORE INTO digest_nonce_uses (nonce, nc, cnonce, expires_at) "
        "VALUES (?, ?, ?, ?)", [nonce, nc, cnonce, expires_at],
    ).rowcount == 1


def forget_digest_responses(db: Database, now: float) -> int:
    return db.execute("DELETE FROM digest_nonce_uses WHERE expires_at < ?", [now]).rowcount
