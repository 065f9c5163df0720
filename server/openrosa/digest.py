"""HTTP Digest authentication (RFC 2617 / RFC 7616, MD5, qop=auth), without I/O.

Nonces are stateless: ``timestamp.random.mac`` where mac is an HMAC-SHA256 of
the first two parts under the server secret, so any gunicorn worker (and the
server after a restart, as the secret is kept in the store) can check a nonce
it did not issue. A nonce is valid for ``NONCE_TTL`` seconds; an expired one
answers 401 with ``stale=true`` so the client retries without asking the user.
Replays are caught by the caller, which records each (nonce, nc, cnonce) in
the store shared by every worker until the nonce expires
(``server.openrosa.authn``).

The server keeps HA1 = md5(user:realm:password) per user, so checking a
response costs two md5s instead of a password hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

NONCE_TTL = 300
_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')
REQUIRED = ("username", "realm", "nonce", "uri", "response")


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def ha1(username: str, realm: str, password: str) -> str:
    return md5_hex(f"{username}:{realm}:{password}")


def parse_authorization(header: str) -> dict[str, str] | None:
    """``Digest k="v", k=v`` -> {k: v}; None if the scheme is not Digest."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        match = _PARAM_RE.match(rest, pos)
        if match is None or match.end() == pos:
            break
        key, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[key] = value
        pos = match.end()
    return params


def expected_response(params: dict[str, str], ha1_hex: str, method: str) -> str:
    """The response a client knowing the password computes for these params."""
    ha2 = md5_hex(f"{method}:{params['uri']}")
    if params.get("qop"):
        return md5_hex(f"{ha1_hex}:{params['nonce']}:{params.get('nc', '')}:"
                       f"{params.get('cnonce', '')}:{params['qop']}:{ha2}")
    return md5_hex(f"{ha1_hex}:{params['nonce']}:{ha2}")


@dataclass(frozen=True)
class NonceCheck:
    valid: bool  # signed by us
    stale: bool  # signed by us but too old
    expires_at: float = 0.0  # when it goes stale (Unix seconds)


class Nonces:
    """Issues and checks signed nonces."""

    def __init__(self, secret: bytes, ttl: int = NONCE_TTL, clock=time.time):
        self._secret = secret
        self._ttl = ttl
        self._clock = clock
        self.opaque = hmac.new(secret, b"opaque", hashlib.sha256).hexdigest()[:32]

    def issue(self) -> str:
        body = f"{int(self._clock())}.{secrets.token_hex(8)}"
        return f"{body}.{self._mac(body)}"

    def check(self, nonce: str) -> NonceCheck:
        if not nonce.isascii():
            return NonceCheck(valid=False, stale=False)
        body, _, mac = nonce.rpartition(".")
        stamp = body.partition(".")[0]
        if (not body or not stamp.isdecimal() or len(stamp) > 12
                or not hmac.compare_digest(mac, self._mac(body))):
            return NonceCheck(valid=False, stale=False)
        age = self._clock() - int(stamp)
        return NonceCheck(valid=True, stale=age > self._ttl or age < -60,
                          expires_at=int(stamp) + self._ttl)

    def _mac(self, body: str) -> str:
        return hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def challenge(realm: str, nonce: str, opaque: str, stale: bool = False) -> str:
    value = (f'Digest realm="{realm}", qop="auth", nonce="{nonce}", '
             f'opaque="{opaque}", algorithm=MD5')
    return value + (", stale=true" if stale else "")
