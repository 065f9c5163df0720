"""English and French for every page, message and chart label (Babel catalogue).

The catalogue is ``server/i18n/translations/<lang>/LC_MESSAGES/messages.po``;
the .po files are the source kept in git and are compiled in memory the first
time a language is used in a process, so there is no build step and no .mo
file to forget. Messages are extracted with ``pybabel extract -F babel.cfg``
(see docs/console.md, "Translating").

The language of a request is, in order: ``?lang=fr|en`` (the console remembers
it), the signed-in user's stored choice, the console session's choice, then
the best match of ``Accept-Language``; English otherwise.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, g, has_request_context, request, session
from markupsafe import Markup

LANGUAGES = ("en", "fr")
DEFAULT = "en"
CATALOGUE = Path(__file__).parent / "translations"
_loaded: dict[str, NullTranslations] = {}
_lock = threading.Lock()
_ENGLISH = NullTranslations()  # the messages are written in English


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def translations(lang: str) -> NullTranslations:
    """The compiled catalogue of ``lang`` (English: the messages as written)."""
    if lang == DEFAULT or lang not in LANGUAGES:
        return _ENGLISH
    found = _loaded.get(lang)
    if found is None:
        with _lock:
            found = _loaded.get(lang) or _compile(lang)
            _loaded[lang] = found
    return found


def _compile(lang: str) -> NullTranslations:
    po = CATALOGUE / lang / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def current_language() -> str:
    """The language of this request (see the module's docstring)."""
    if not has_request_context():
        return DEFAULT
    lang = g.get("lang")
    if lang is None:
        lang = g.lang = _resolve()
    return lang


def _resolve() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    user = g.get("user")
    if user and user.get("language") in LANGUAGES:
        return user["language"]
    chosen = session.get("lang") if _has_session_cookie() else None
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT


def _has_session_cookie() -> bool:
    """Reading ``session`` needs the secret key; skip it when no cookie came."""
    from flask import current_app

    return bool(current_app.secret_key) and \
        current_app.config.get("SESSION_COOKIE_NAME", "session") in request.cookies


def gettext(message: str, **variables) -> str:
    text = translations(current_language()).ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    text = translations(current_language()).ungettext(singular, plural, num)
    return text % variables


_ = gettext


def template_callables(lang: str | None = None) -> dict:
    """``gettext`` and ``ngettext`` for one render, bound to the request's
    catalogue once (templates call them dozens of times). As Jinja's "newstyle"
    gettext: the translation is trusted markup, variables are escaped, and
    ``%`` formatting always applies (write a literal percent sign as ``%%``)."""
    catalogue = translations(lang or current_language())
    find, find_plural = catalogue.ugettext, catalogue.ungettext

    def gettext_(message: str, **variables) -> Markup:
        return Markup(find(message)) % variables

    def ngettext_(singular: str, plural: str, num: int, **variables) -> Markup:
        variables.setdefault("num", num)
        return Markup(find_plural(singular, plural, num)) % variables

    return {"gettext": gettext_, "ngettext": ngettext_}


def init_app(app: Flask) -> None:
    """Give Jinja ``_``, ``gettext`` and ``ngettext`` in the request's language
    (each render binds them once: see ``template_callables``)."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(gettext, ngettext, newstyle=True)
    app.jinja_env.globals["current_language"] = current_language

    @app.context_processor
    def _gettext_for_this_render() -> dict:
        return template_callables()
