"""Running the server: prepare the store once, then serve with gunicorn.

Migrations, the server key file (server/accounts/keys.py) and publishing the
built-in RSS form happen here, before any worker starts, so several workers
never race to migrate or to create the key. gunicorn is embedded
(``BaseApplication``) so `fieldsync serve` is the production server too; the
systemd unit in deploy/ runs the same command.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import sys

from gunicorn.app.base import BaseApplication

from server import logs
from server.accounts import keys
from server.accounts.users import seal_plain_ha1, token_create, user_add, user_list
from server.app import create_app
from server.registry.publish import publish_builtin_rss
from server.scores.specs import install_builtin_specs
from server.store import open_db

FIRST_PASSWORD_BYTES = 12  # the first admin password: 16 URL-safe characters, 96 random bits


def prepare_store(db_path: str, key_file: str | None = None) -> tuple[dict | None, dict | None]:
    """Create/migrate the store, create the server key file if there is none yet
    (``key_file``, by default the store's path + ".key"), seal any Digest
    secrets an older release kept in clear, publish the RSS form if it is not
    there yet, and on a store without users create ``admin`` with a first token
    and a random password (both stored hashed; returned once, as
    ``{"token", "password"}``, for `fieldsync serve` to print)."""
    if key_file:
        keys.use_key_file(db_path, key_file)
    db = open_db(db_path, migrate=True)
    try:
        keys.key_for_store(db)
        seal_plain_ha1(db)
        published = publish_builtin_rss(db)
        install_builtin_specs(db)  # scoring store: rss-v1 into scoring_specs
        first_admin = None
        if not user_list(db, include_deleted=True):
            password = secrets.token_urlsafe(FIRST_PASSWORD_BYTES)
            user_add(db, "admin", "admin", password, actor="fieldsync")
            first_admin = {"token": token_create(db, "admin", actor="fieldsync"),
                           "password": password}
        return published, first_admin
    finally:
        db.close()


def first_start_message(first_admin: dict, db_path: str, host: str = "127.0.0.1",
                        port: int = 8000) -> str:
    """What the first start prints once: the admin's token and password."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return (
        "\nFirst start: created user 'admin'. Its token (shown once, stored hashed):\n"
        f"  {first_admin['token']}\n"
        "Its password for the web console (shown once, stored hashed):\n"
        f"  {first_admin['password']}\n"
        f"Sign in at http://{shown}:{port}/ and change it on your account page, or with:\n"
        f"  fieldsync user password-change admin --db {db_path}\n"
        "Create an enumerator for a device with:\n"
        f"  fieldsync user add NAME --role enumerator --password-stdin --db {db_path}\n"
        f"  fieldsync token create NAME --db {db_path}\n")


def serve(db_path: str, *, host: str = "127.0.0.1", port: int = 8000, role: str = "office",
          workers: int = 2, threads: int = 4) -> None:
    logs.configure()
    log = logging.getLogger("fieldsync.serve")
    db_path = os.path.abspath(db_path)
    published, first_admin = prepare_store(db_path, os.environ.get(keys.ENV_KEY_FILE))
    if published:
        log.info("published", extra={"fields": published})
    if first_admin:
        print(first_start_message(first_admin, db_path, host, port), file=sys.stderr,
              flush=True)
    app = create_app({"DATABASE": db_path, "ROLE": role})
    log.info("serving", extra={"fields": {"host": host, "port": port, "role": role,
                                          "db": db_path, "workers": workers}})
    _Gunicorn(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": 120,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "limit_request_line": 8190,
        "post_worker_init": settle_worker,
    }).run()


def settle_worker(worker=None) -> None:
    """Once a worker has loaded the app: leave what it holds so far (modules,
    the app, pyxform's tables: some 80,000 objects that live as long as the
    process) out of the cyclic garbage collector's full passes (``gc.freeze``).

    Why: a full pass walks every object the collector tracks, and ingest
    makes enough long-lived objects (cached form plans, the typo map) to run
    one every thousand records or so; with the startup objects in it, each
    pass would walk them all again, for nothing. Objects made after this are
    collected as before. gunicorn calls it in each worker
    (``post_worker_init``); deploy/gunicorn.conf.py does the same.
    """
    gc.collect()
    gc.freeze()


class _Gunicorn(BaseApplication):
    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application
