"""The server key: 32 random bytes kept in a file beside (never inside) the store.

What it protects: secrets that must be readable by the server but must not be
usable by someone who only has a copy of the database file. Today that is each
account's Digest HA1 (md5 of name:realm:password, which Digest needs in clear
and which can be guessed at MD5 speed): the store holds it sealed with this key
(AES-GCM), so a copied store alone allows guessing only through the scrypt
hashes. The web console signs its cookies with a key derived from it too.

    key = load_or_create_key("/var/lib/fieldsync/fieldsync.db.key")
    token = seal(key, "digest-ha1", ha1_bytes, aad=b"enum1")
    unseal(key, "digest-ha1", token, aad=b"enum1")  # -> ha1_bytes, or None

The file is created once, with mode 0600, by ``fieldsync serve`` before its
workers start (and by any command that needs it first); it is written to a
temporary file and linked into place, so two processes racing to create it end
up with one key and neither reads a half-written file. Where the key lives:
``KEY_FILE`` in the app config (``$FIELDSYNC_KEY_FILE``), by default the store's
path plus ``.key``. Back it up (once: it never changes) apart from the store's
backups; without it Digest sign-in stops working until each account signs in
once with Basic or gets a new password (docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
KEY_SUFFIX = ".key"
ENV_KEY_FILE = "FIELDSYNC_KEY_FILE"
SEALED_PREFIX = "v1."
_NONCE_BYTES = 12

_lock = threading.Lock()
_loaded: dict[str, bytes] = {}  # key file path -> key, read once per process
_key_files: dict[str, str] = {}  # store path -> key file, where the app config names one


def load_or_create_key(path: str | Path) -> bytes:
    """The key in ``path``; created (mode 0600) if the file does not exist yet."""
    path = Path(path)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and fails if another process got there first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    if len(data) != KEY_BYTES:
        raise ValueError(f"{path} is not a fieldsync key file ({len(data)} bytes, "
                         f"expected {KEY_BYTES}); restore it from its backup.")
    return data


def key_file_for(db_path: str) -> str:
    """Where the key of the store at ``db_path`` lives."""
    return (_key_files.get(db_path) or os.environ.get(ENV_KEY_FILE)
            or db_path + KEY_SUFFIX)


def use_key_file(db_path: str, key_file: str) -> None:
    """Name the key file of a store (the app config's ``KEY_FILE``)."""
    _key_files[os.path.abspath(db_path)] = key_file


def key_for_store(db) -> bytes:
    """The key of the store ``db`` (a sqlite_utils Database), loaded once per
    process. An in-memory store gets a key of its own that lives as long as
    the process, as its data does."""
    row = db.execute("PRAGMA database_list").fetchone()
    db_path = row[2] if row else ""
    with _lock:
        if not db_path:
            return _loaded.setdefault("", secrets.token_bytes(KEY_BYTES))
        path = key_file_for(db_path)
        key = _loaded.get(path)
        if key is None:
            key = _loaded[path] = load_or_create_key(path)
        return key


def derive(key: bytes, purpose: str) -> bytes:
    """A subkey for one purpose, so no two uses ever share a key."""
    return hmac.new(key, b"fieldsync:" + purpose.encode("ascii"), hashlib.sha256).digest()


def seal(key: bytes, purpose: str, plaintext: bytes, aad: bytes = b"") -> str:
    """``plaintext`` encrypted and authenticated (AES-256-GCM) as printable text;
    ``aad`` binds it to its owner, so a sealed value moved to another row fails."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(derive(key, purpose)).encrypt(nonce, plaintext, aad)
    return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(key: bytes, purpose: str, token: str, aad: bytes = b"") -> bytes | None:
    """The plaintext of ``seal``, or None if the value was sealed with another
    key, for another owner, or altered."""
    if not token or not token.startswith(SEALED_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(token[len(SEALED_PREFIX):].encode("ascii"))
        return AESGCM(derive(key, purpose)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:],
                                                    aad)
    except (InvalidTag, ValueError):
        return None


def is_sealed(value: str | None) -> bool:
    return bool(value) and value.startswith(SEALED_PREFIX)
