"""WSGI entry for running gunicorn (or another WSGI server) directly:

    gunicorn -c deploy/gunicorn.conf.py server.wsgi:app

The store path comes from $FIELDSYNC_DB (and other settings from $FIELDSYNC_*,
see server.app). Migrate first (`fieldsync serve` does it; with gunicorn
directly, deploy/gunicorn.conf.py does it once in the master before workers
fork). `fieldsync serve` remains the simpler way: it embeds gunicorn.
"""

from server.app import create_app

app = create_app()
