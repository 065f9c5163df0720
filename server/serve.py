"""Running the server: prepare the store once, then serve with gunicorn.

Migrations and publishing the built-in RSS form happen here, before any worker
starts, so several workers never race to migrate. gunicorn is embedded
(``BaseApplication``) so `fieldsync serve` is the production server too; the
systemd unit in deploy/ runs the same command.
"""

from __future__ import annotations

import logging
import os

from gunicorn.app.base import BaseApplication

from server import logs
from server.app import create_app
from server.registry import publish_builtin_rss
from server.store import open_db


def prepare_store(db_path: str) -> dict | None:
    """Create/migrate the store and publish the RSS form if it is not there yet."""
    db = open_db(db_path, migrate=True)
    try:
        return publish_builtin_rss(db)
    finally:
        db.close()


def serve(db_path: str, *, host: str = "127.0.0.1", port: int = 8000, role: str = "office",
          workers: int = 2, threads: int = 4) -> None:
    logs.configure()
    log = logging.getLogger("fieldsync.serve")
    db_path = os.path.abspath(db_path)
    published = prepare_store(db_path)
    if published:
        log.info("published", extra={"fields": published})
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
    }).run()


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
