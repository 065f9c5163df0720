"""gunicorn settings for `gunicorn -c deploy/gunicorn.conf.py server.wsgi:app`.

The same values `fieldsync serve` uses. Every setting can be overridden from
the environment (FIELDSYNC_BIND, FIELDSYNC_WORKERS, FIELDSYNC_THREADS).
"""

import os

bind = os.environ.get("FIELDSYNC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("FIELDSYNC_WORKERS", "2"))
threads = int(os.environ.get("FIELDSYNC_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = 120            # long exports stream; the proxy's read timeout must match
graceful_timeout = 10
limit_request_line = 8190
accesslog = None         # fieldsync logs each request as a JSON line itself
errorlog = "-"
loglevel = "warning"
forwarded_allow_ips = "127.0.0.1"   # trust X-Forwarded-Proto from the local proxy only


def on_starting(server):
    """Migrate the store and publish the built-in form once, before workers fork;
    on a new store, print the first admin's token and password once."""
    import sys

    from server.ops.serve import first_start_message, prepare_store

    db_path = os.path.abspath(os.environ.get("FIELDSYNC_DB", "fieldsync.db"))
    _published, first_admin = prepare_store(db_path)
    if first_admin:
        host, _, port = bind.rpartition(":")
        print(first_start_message(first_admin, db_path, host, int(port or 8000)),
              file=sys.stderr, flush=True)


def post_worker_init(worker):
    """Leave the worker's startup objects out of the collector's full passes."""
    from server.ops.serve import settle_worker

    settle_worker(worker)
