"""Signing in as a client would: Basic and Digest headers (RFC 2617 / 7616 by
hand, from the challenge the server sent), and an in-process site (the Flask
app on its own store, no network) with accounts and client addresses."""

from __future__ import annotations

import base64
import hashlib
import re
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from server.accounts import login
from server.accounts import users as accounts
from server.accounts.users import token_create, user_add
from server.app import create_app
from server.ops.serve import prepare_store
from server.store import open_db

HOUSEHOLD = Path(__file__).resolve().parents[1] / "fixtures" / "household.md"


CHEAP_HASH = "scrypt:1024:8:1"  # scrypt all the same, at a test's cost


@contextmanager
def cheap_password_hashes():
    """Hash passwords made in this block (and the stand-in hash unknown names are
    checked against) with a cheap scrypt, so tests that fail sign-ins by the
    dozen stay fast. Checking costs what hashing did: both sides stay equal."""
    with pytest.MonkeyPatch.context() as mp:
        cheap = partial(generate_password_hash, method=CHEAP_HASH)
        mp.setattr(accounts, "generate_password_hash", cheap)
        mp.setattr(login, "generate_password_hash", cheap)
        login._stand_in_hash.cache_clear()
        try:
            yield
        finally:
            login._stand_in_hash.cache_clear()


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def challenge_of(values: list[str]) -> dict[str, str]:
    """The parameters of the Digest challenge among WWW-Authenticate values."""
    value = next(v for v in values if v.startswith("Digest "))
    pairs = re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', value[len("Digest "):])
    return {key: quoted or bare for key, quoted, bare in pairs}


def digest_header(ch: dict, user: str, password: str, method: str, uri: str, nc: int,
                  cnonce: str = "0a4f113b", algorithm: str | None = "MD5") -> str:
    """What a client that knows the password sends (qop=auth)."""
    ha1 = md5(f"{user}:{ch['realm']}:{password}")
    ha2 = md5(f"{method}:{uri}")
    nc_hex = f"{nc:08x}"
    response = md5(f"{ha1}:{ch['nonce']}:{nc_hex}:{cnonce}:auth:{ha2}")
    header = (f'Digest username="{user}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", '
              f'uri="{uri}", qop=auth, nc={nc_hex}, cnonce="{cnonce}", '
              f'response="{response}", opaque="{ch["opaque"]}"')
    return header + (f", algorithm={algorithm}" if algorithm else "")


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Site:
    """The app in this process on a store of its own (RSS and the household test
    form published, an admin token), answering as if from ``address``."""

    def __init__(self, folder: Path, **config):
        self.db_path = folder / "site.db"
        prepare_store(str(self.db_path))
        self.app = create_app({"DATABASE": str(self.db_path), "LOG_LEVEL": "ERROR",
                               **config})
        self.client = self.app.test_client()
        self.admin_token = self.add("site-admin", "admin")
        r = self.call("POST", "/api/v1/forms", token=self.admin_token,
                      data={"file": (HOUSEHOLD.open("rb"), "household.md")})
        assert r.status_code in (200, 201), r.get_data(as_text=True)

    def db(self):
        return open_db(self.db_path)

    def add(self, name: str, role: str, password: str | None = None) -> str:
        """Create an account; returns a bearer token of it."""
        db = self.db()
        try:
            user_add(db, name, role, password)
            return token_create(db, name)
        finally:
            db.close()

    def call(self, method: str, path: str, *, token: str | None = None,
             auth: str | None = None, address: str = "127.0.0.1", headers=None, **kw):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if auth:
            headers["Authorization"] = auth
        return self.client.open(path, method=method, headers=headers,
                                environ_base={"REMOTE_ADDR": address}, **kw)

    def challenge(self, path: str = "/formList") -> dict[str, str]:
        r = self.call("GET", path)
        assert r.status_code == 401
        return challenge_of(r.headers.getlist("WWW-Authenticate"))

    def digest(self, name: str, password: str, method: str = "GET", path: str = "/formList",
               nc: int = 1, ch: dict | None = None) -> str:
        return digest_header(ch or self.challenge(path), name, password, method, path, nc)
