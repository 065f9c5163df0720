"""Running the server: prepare the store once, then serve with gunicorn.

Migrations and publishing the built-in RSS form happen here, before any worker
starts, so several workers never race to migrate. gunicorn is embedded
(``BaseApplication``) so `fieldsync serve` is the production server too; the
systemd unit in deploy/ runs the same command.
"""

from __future__ import annotations

import gc
import logging
import os
import sys

from gunicorn.app.base import BaseApplication

from server import logs
from server.accounts.users import token_create, user_add, user_list
from server.app import create_app
from server.registry.publish import publish_builtin_rss
from server.scores.specs import install_builtin_specs
from server.store import open_db


def prepare_store(db_path: str) -> tuple[dict | None, str | None]:
    """Create/migrate the store, publish the RSS form if it is not there yet, and on
    a store without users create ``admin`` with a first token (returned once)."""
    db = open_db(db_path, migrate=True)
    try:
        published = publish_builtin_rss(db)
        install_builtin_specs(db)  # the scoring store: rss-v1 into scoring_specs
        token = None
        if not user_list(db):
            user_add(db, "admin", "admin", actor="fieldsync")
            token = token_create(db, "admin", actor="fieldsync")
        return published, token
    finally:
        db.close()


def serve(db_path: str, *, host: str = "127.0.0.1", port: int = 8000, role: str = "office",
          workers: int = 2, threads: int = 4) -> None:
    logs.configure()
    log = logging.getLogger("fieldsync.serve")
    db_path = os.path.abspath(db_path)
    published, token = prepare_store(db_path)
    if published:
        log.info("published", extra={"fields": published})
    if token:
        print(
            "\nFirst start: created user 'admin'. Its token (shown once, stored hashed):\n"
            f"  {token}\n"
            "Create an enumerator for a device with:\n"
            f"  fieldsync user add NAME --role enumerator --db {db_path}\n"
            f"  fieldsync token create NAME --db {db_path}\n",
            file=sys.stderr, flush=True,
        )
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
