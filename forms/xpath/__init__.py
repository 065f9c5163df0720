"""The ODK XPath subset: parse once, compile to closures, evaluate over record data.

    expr = compile_xpath("/data/age >= 18 and selected(/data/assets, 'land')")
    doc = document("data", {"age": "34", "assets": "land cow"}, Schema(model.fields))
    expr.evaluate(doc.children("data")[0], Env(doc, now))

Values are ``str``, ``float``, ``bool``, node-sets (lists of ``Node``) and dates;
``to_str``/``to_num``/``to_bool`` convert with XPath 1.0 and ODK rules. A syntax
error, a function ODK forms do not have or a wrong argument count raises
``FormsError("xlsform_expression_unsupported")`` from ``compile_xpath``: a tablet
would refuse the form. Everything else compiles.

Evaluated: all XPath 1.0 operators; child, parent, self and descendant-or-self
(``//``) steps; ``.``, ``..``, ``*``, ``node()``; predicates; absolute paths
contextualised to the current repeat instance as JavaRosa does; secondary
instances (choice lists, and the version's CSV, XML and GeoJSON media through
``Env.media``); and the whole function set of the ODK XForms specification:
strings (concat, join, substr, substring(-before/-after), translate,
string-length, normalize-space, contains, starts-with, ends-with, uuid, digest,
base64-decode, pulldata), booleans (if, coalesce, once, true, false, boolean,
boolean-from-string, not, regex, checklist, weighted-checklist), numbers
(number, random, int, sum, max, min, round, pow, log, log10, abs, the
trigonometric functions, sqrt, exp, exp10, pi, floor, ceiling), node-sets
(count, count-non-empty, position, last, instance, current, randomize), dates
(today, now, date, date-time, decimal-date-time, decimal-time, format-date,
format-date-time; ``values`` holds the time-zone rules), selects (selected,
is-selected, selected-at, count-selected, jr:choice-name), jr:itext, version,
indexed-repeat, area, distance, geofence, and JavaRosa's depend.

Kept for the tablet (the compiled ``Expression.unchecked`` names them):
property(), extract-signed(), the other axes (ancestor, following, ...),
attributes, ``text()`` node tests, ``$variables``, regular expressions Python
cannot run, and secondary instances no file provides (``__last-saved``).
"""

from forms.xpath.evaluator import Env, Expression, compile_xpath
from forms.xpath.nodes import Node, Schema, document
from forms.xpath.values import format_datetime, parse_date, to_bool, to_num, to_str

__all__ = [
    "Env", "Expression", "Node", "Schema", "compile_xpath", "document",
    "format_datetime", "parse_date", "to_bool", "to_num", "to_str",
]
