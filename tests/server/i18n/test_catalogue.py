"""English and French: every message the console or the API can show has its
French translation, and API errors follow the request's language."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from forms.errors import STATUS as FORMS_CODES
from scoring.errors import STATUS as SCORING_CODES
from server.app import create_app
from server.central.errors import CODES as CENTRAL_CODES
from server.enketo.errors import CODES as ENKETO_CODES
from server.entities.errors import CODES as ENTITIES_CODES
from server.errors import CODES as SERVER_CODES
from server.i18n import CATALOGUE, translations
from server.i18n.errors import MESSAGES
from server.openrosa.errors import CODES as OPENROSA_CODES
from sync.errors import STATUS as SYNC_CODES

ROOT = Path(__file__).resolve().parents[3]
PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def french():
    with (CATALOGUE / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def source_messages() -> set[str]:
    """Every message the sources mark, as `pybabel extract -F babel.cfg` finds them."""
    method_map = [("server/console/**.py", "python"), ("server/i18n/**.py", "python"),
                  ("server/console/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def forms_of(text) -> tuple[str, ...]:
    """A message's texts: one, or a plural message's singular and plural."""
    return tuple(text) if isinstance(text, (tuple, list)) else (text,)


def test_every_message_in_the_sources_has_a_french_translation():
    catalogue = {forms_of(m.id)[0]: m for m in french() if m.id}
    wanted = source_messages()
    assert len(wanted) > 250
    missing = sorted(m for m in wanted if m not in catalogue or catalogue[m].fuzzy
                     or not all(forms_of(catalogue[m].string)))
    assert missing == [], "run the extraction in docs/console.md and translate these"


def test_translations_keep_every_placeholder_of_their_message():
    def placeholders(text) -> list[str]:
        return sorted({p for form in forms_of(text) for p in PLACEHOLDER.findall(form)})

    broken = [m.id for m in french() if m.id and all(forms_of(m.string)) and
              placeholders(m.id) != placeholders(m.string)]
    assert broken == []


def test_every_registered_error_code_has_a_french_message():
    codes = (set(SERVER_CODES) | set(OPENROSA_CODES) | set(FORMS_CODES) | set(SCORING_CODES)
             | set(SYNC_CODES) | set(ENTITIES_CODES) | set(CENTRAL_CODES)
             | set(ENKETO_CODES))
    assert sorted(codes - set(MESSAGES)) == []
    fr = translations("fr")
    untranslated = [c for c in codes if fr.ugettext(MESSAGES[c]) == MESSAGES[c]]
    assert untranslated == []


def test_api_errors_answer_in_french_when_asked_and_keep_the_english_detail(tmp_path):
    app = create_app({"DATABASE": str(tmp_path / "s.db"), "MIGRATE": True})
    client = app.test_client()
    r = client.get("/api/v1/forms", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    body = r.get_json()["error"]
    assert r.status_code == 401 and body["code"] == "auth_required"
    assert body["message"] == "Connectez-vous d'abord : il faut un compte."
    assert body["details"]["message_en"].startswith("This endpoint needs credentials")
    english = client.get("/api/v1/forms").get_json()["error"]
    assert english["message"].startswith("This endpoint needs credentials")
    assert "message_en" not in english["details"]
