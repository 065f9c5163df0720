"""The web console: server-rendered pages for supervisors and HQ, in English and
French, under ``/`` beside the JSON API (``/api/v1``).

Views are thin: each gathers its data through the same Python functions as the
JSON API route that shows the same thing, and declares the same permission
from ``server.accounts.auth.PERMISSIONS`` (signed in with a cookie session
instead of a bearer token). No SQL here, no inline script, no build step.
"""

from __future__ import annotations

from flask import Flask

from server import i18n
from server.i18n import current_language, translations
from server.console import ids
from server.console.blueprint import bp
from server.console.labels import bound_labels, label, reasons_label, role_label
from server.console.session import CookieSessions


def init_app(app: Flask) -> None:
    from server.console.views import (admin, auth, forms, office,  # noqa: F401
                                      review, scores, submissions)
    from server.console.views import enketo  # noqa: F401  web forms, public links

    app.session_interface = CookieSessions()
    i18n.init_app(app)
    app.jinja_env.globals.update(label=label, role_label=role_label,
                                 reasons_label=reasons_label)
    app.jinja_env.filters.update(record_id=ids.record_id, tablet_id=ids.tablet_id)

    @app.context_processor
    def _labels_for_this_render() -> dict:
        return bound_labels(translations(current_language()).ugettext)
    app.register_blueprint(bp)
