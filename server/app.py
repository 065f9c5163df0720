"""The Flask app factory: defaults, then environment, then the caller's config.

No module-level app: ``create_app`` builds one per process (gunicorn worker,
test, CLI), opens a store connection per request on ``g`` and closes it on
teardown. Migrations run in ``fieldsync serve`` before workers start, and here
only when ``MIGRATE`` is set (tests, single-process use).
"""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from forms.errors import CodedError
from server import logs
from server.errors import error_body
from server.store import open_db

DEFAULTS = {
    "DATABASE": "fieldsync.db",
    "ROLE": "office",
    "OFFICE": "office",
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "MIGRATE": False,
    "LOG_LEVEL": "INFO",
}
ENV_PREFIX = "FIELDSYNC"
HTTP_CODES = {
    400: "bad_request", 401: "auth_required", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
}


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    if os.environ.get("FIELDSYNC_DB"):
        app.config["DATABASE"] = os.environ["FIELDSYNC_DB"]
    app.config.from_prefixed_env(ENV_PREFIX)
    if config:
        app.config.update(config)
    app.json.sort_keys = False
    logs.configure(app.config["LOG_LEVEL"])
    logs.install_request_log(app)
    if app.config["MIGRATE"]:
        open_db(app.config["DATABASE"], migrate=True).close()

    connections = threading.local()

    @app.before_request
    def _open_db():
        # One connection per worker thread, kept between requests: closing the
        # last connection of a WAL store checkpoints it, which cost milliseconds
        # per request when connections were opened and closed each time.
        db = getattr(connections, "db", None)
        if db is None:
            db = connections.db = open_db(app.config["DATABASE"])
        g.db = db

    @app.teardown_request
    def _release_db(_exc):
        db = g.pop("db", None)
        if db is not None and db.conn.in_transaction:
            db.conn.rollback()  # a request never leaves a transaction open

    _register_error_handlers(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from server.routes.admin import bp as admin_bp
    from server.routes.forms import bp as forms_bp
    from server.routes.openrosa import bp as openrosa_bp
    from server.routes.scores import bp as scores_bp
    from server.routes.exports import bp as exports_bp
    from server.routes.outbox import bp as outbox_bp
    from server.routes.sync import bp as sync_bp
    from server.routes.review import bp as review_bp

    app.register_blueprint(forms_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(openrosa_bp)
    app.register_blueprint(sync_bp)
    app.register_blueprint(scores_bp)
    app.register_blueprint(outbox_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(review_bp)


def _register_error_handlers(app: Flask) -> None:
    log = logging.getLogger("fieldsync.error")

    @app.errorhandler(Exception)
    def _render(exc):
        renderer = _renderer_for(app)
        if isinstance(exc, CodedError):
            return renderer(exc.status, exc.code, exc.message, exc.details)
        if isinstance(exc, HTTPException):
            code = HTTP_CODES.get(exc.code, "bad_request")
            message = _http_message(exc)
            return renderer(exc.code, code, message, {})
        log.exception("unhandled error on %s %s", request.method, request.path)
        return renderer(500, "internal_error",
                        "The server failed to handle this request; it has been logged.", {})


def _renderer_for(app: Flask):
    """JSON everywhere, unless the blueprint registered its own (OpenRosa: XML)."""
    bp = request.blueprint if request else None
    custom = app.extensions.get("fieldsync_error_renderers", {}).get(bp)
    return custom or _json_error


def _json_error(status: int, code: str, message: str, details: dict):
    return error_body(code, message, details), status


def _http_message(exc: HTTPException) -> str:
    if exc.code == 404:
        return f"No such endpoint: {request.method} {request.path}. See docs/API.md."
    if exc.code == 405:
        return f"{request.method} is not allowed on {request.path}."
    if exc.code == 413:
        limit = request.max_content_length
        return f"The request body is larger than the server accepts ({limit} bytes)."
    return exc.description or exc.name
