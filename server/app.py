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
from werkzeug.middleware.proxy_fix import ProxyFix

from forms.errors import CodedError
from server import logs
from server.accounts import keys
from server.errors import error_body
from server.ingest.timezone import server_timezone
from server.i18n.errors import localise
from server.store import open_db

DEFAULTS = {
    "DATABASE": "fieldsync.db",
    "ROLE": "office",
    "OFFICE": "office",
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "MIGRATE": False,
    "LOG_LEVEL": "INFO",
    "SILENT_AFTER_DAYS": 7,  # the console highlights a tablet silent for longer
    "SESSION_COOKIE_NAME": "fieldsync_session",
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 7 * 24 * 3600,  # a console sign-in lasts a week at most
    "SESSION_REFRESH_EACH_REQUEST": False,  # re-sent when "last used" moves (each minute)
    "KEY_FILE": None,  # the server key (server/accounts/keys.py); default DATABASE + ".key"
    "LOGIN_THROTTLE": True,  # back-off after failed sign-ins (server/accounts/throttle.py)
    "TRUSTED_PROXIES": 0,  # reverse proxies in front whose X-Forwarded-For to believe
    # Web forms in Enketo (docs/enketo.md, server/enketo/settings.py): Enketo's public
    # address and API key (a secret, never logged), and this server's public address
    "ENKETO_URL": None,
    "ENKETO_API_KEY": None,
    "SERVER_URL": None,
    "PUBLIC_LINK_SUBMISSIONS_PER_HOUR": 120,  # per client address, through public links
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
    server_timezone()  # a FIELDSYNC_TIMEZONE that names no zone stops the start, clearly
    if app.config["KEY_FILE"]:
        keys.use_key_file(app.config["DATABASE"], app.config["KEY_FILE"])
    if int(app.config["TRUSTED_PROXIES"] or 0) > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["TRUSTED_PROXIES"]),
                                x_proto=0, x_host=0, x_port=0, x_prefix=0)
    logs.configure(app.config["LOG_LEVEL"])
    logs.install_request_log(app)
    app.secret_key = _secret_key(app.config)
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
    from server.http.params import NameConverter

    app.url_map.converters["name"] = NameConverter
    _register_blueprints(app)
    return app


def _secret_key(config) -> bytes:
    """Signs console sessions and CSRF tokens: a subkey of the server key (KEY_FILE,
    default the store's path + ".key", created on first start); random for an
    in-memory store."""
    if config.get("SECRET_KEY"):
        return config["SECRET_KEY"]
    database = str(config["DATABASE"])
    if database == ":memory:" or database.startswith("file::memory:"):
        return os.urandom(32)
    key = keys.load_or_create_key(keys.key_file_for(os.path.abspath(database)))
    return keys.derive(key, "console-cookies")


def _register_blueprints(app: Flask) -> None:
    from server.routes.admin import bp as admin_bp
    from server.routes.forms import bp as forms_bp
    from server.routes.openrosa import bp as openrosa_bp
    from server.routes.scores import bp as scores_bp
    from server.routes.exports import bp as exports_bp
    from server.routes.outbox import bp as outbox_bp
    from server.routes.sync import bp as sync_bp
    from server.routes.review import bp as review_bp
    from server.routes.entities import bp as entities_bp
    from server.routes.central import bp as central_bp  # Central's REST API
    from server.routes.odata import bp as odata_bp  # OData per form

    app.register_blueprint(forms_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(openrosa_bp)
    app.register_blueprint(sync_bp)
    app.register_blueprint(scores_bp)
    app.register_blueprint(outbox_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(entities_bp)
    app.register_blueprint(central_bp)
    app.register_blueprint(odata_bp)
    from server.routes.enketo import bp as enketo_bp  # web forms in Enketo
    from server.routes.public import bp as public_bp  # public links' OpenRosa door

    app.register_blueprint(enketo_bp)
    app.register_blueprint(public_bp)
    from server.routes.office import bp as office_bp  # the web console's JSON twins
    from server.console import init_app as init_console

    app.register_blueprint(office_bp)
    init_console(app)


def _register_error_handlers(app: Flask) -> None:
    log = logging.getLogger("fieldsync.error")

    @app.errorhandler(Exception)
    def _render(exc):
        renderer = _renderer_for(app)
        if isinstance(exc, CodedError):
            response = app.make_response(renderer(exc.status, exc.code, exc.message,
                                                  exc.details))
            if isinstance(exc.details, dict) and "retry_after" in exc.details:
                response.headers["Retry-After"] = str(exc.details["retry_after"])
            return response
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
    message, details = localise(code, message, details)  # Accept-Language: fr
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
