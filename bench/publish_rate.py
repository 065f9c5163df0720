"""How many XLSForms of a folder publish, and why the others do not.

    .venv/bin/python bench/publish_rate.py DIR [DIR ...] [--quiet]

Publishes every .xlsx, .xls, .csv and .md file found under the folders into a
fresh store (a temporary file), as `fieldsync forms publish` would, and prints
one line per form (published or the refusal's code and message), the publish
rate among the forms pyxform converts and among all files, the refusals by
code, and how many published forms have expressions the server leaves to the
tablet (and which constructs). Media files beside a form are not uploaded:
expressions reading them count as checked once uploaded.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.registry.publish import forms_publish  # noqa: E402
from server.store import open_db  # noqa: E402

SUFFIXES = {".xlsx", ".xls", ".csv", ".md"}
PYXFORM_REFUSALS = {"xlsform_invalid", "xlsform_unreadable", "xlsform_type_unsupported"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--quiet", action="store_true", help="only the totals")
    args = parser.parse_args()
    files = sorted(p for folder in args.folders for p in folder.rglob("*")
                   if p.suffix.lower() in SUFFIXES and p.is_file()
                   and not p.name.startswith("~$"))
    refused: collections.Counter = collections.Counter()
    constructs: collections.Counter = collections.Counter()
    published = converted = with_unchecked = 0
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "rate.db", migrate=True)
        for path in files:
            try:
                answer = forms_publish(db, path.read_bytes(), path.name, actor="bench")
            except Exception as exc:  # noqa: BLE001 - every refusal is counted and shown
                code = getattr(exc, "code", type(exc).__name__)
                refused[code] += 1
                converted += code not in PYXFORM_REFUSALS
                if not args.quiet:
                    message = getattr(exc, "message", str(exc)).splitlines()[0][:160]
                    print(f"REFUSED {path.name}: {code}: {message}")
                continue
            published += 1
            converted += 1
            items = answer["expressions"]["items"]
            if items:
                with_unchecked += 1
                constructs.update(item["function"] for item in items)
            if not args.quiet:
                print(f"ok      {path.name}: {answer['form_id']} {answer['version']} "
                      f"({answer['expressions']['checked']} checked, "
                      f"{answer['expressions']['not_checked']} not checked)")
        db.close()
    total = len(files)
    print(f"files: {total}, converted by pyxform: {converted}, published: {published}")
    if converted:
        print(f"publish rate among forms pyxform converts: {published / converted:.1%}")
    if total:
        print(f"publish rate among all files: {published / total:.1%}")
    for code, count in refused.most_common():
        print(f"  refused {code}: {count}")
    print(f"published forms with expressions left to the tablet: {with_unchecked}")
    for construct, count in constructs.most_common(10):
        print(f"  {construct}: {count}")


if __name__ == "__main__":
    main()
