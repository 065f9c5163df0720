"""The server's secret key, kept in a file beside the store (never in it).

``load_or_create_key(path)`` reads the key, or creates it with 32 random bytes
(mode 0600) the first time. Creation is atomic: the bytes are written to a
private temporary file that is then hard-linked into place, which fails if
another process got there first; the loser reads the winner's key. So two
workers starting together agree on one key, and a reader never sees a
half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

KEY_BYTES = 32


def load_or_create_key(path: str | os.PathLike) -> bytes:
    """The key stored at ``path``; created (0600) if the file does not exist."""
    path = Path(path)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise ValueError(f"the key file {path} is shorter than {KEY_BYTES} bytes; "
                         "remove it and restart to create a new one")
    return key
