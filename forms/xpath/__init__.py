"""The ODK XPath subset: parse once, compile to closures, evaluate over record data.

    expr = compile_xpath("/data/age >= 18 and selected(/data/assets, 'land')")
    doc = document("data", {"age": "34", "assets": "land cow"}, Schema(model.fields))
    expr.evaluate(doc.children("data")[0], Env(doc, now))

Values are ``str``, ``float``, ``bool``, node-sets (lists of ``Node``) and dates;
``to_str``/``to_num``/``to_bool`` convert with XPath 1.0 and ODK rules. Syntax
errors and unsupported functions raise ``FormsError("xlsform_expression_unsupported")``
from ``compile_xpath``.

Supported: all XPath 1.0 operators; child, parent, self, descendant-or-self (``//``)
and attribute axes (the data has no attributes); ``.``, ``..``, ``*``, ``node()``;
predicates (positions and conditions); absolute paths contextualised to the current
repeat instance as JavaRosa does; ``instance('list')/root/item`` over choice lists
(``name``, ``label`` in the default or first language, extra columns). Functions:
if, coalesce, once, selected, is-selected, selected-at, count-selected,
jr:choice-name, count, count-non-empty, sum, min, max, position, last, current,
instance, indexed-repeat, join, concat, substr, substring, substring-before,
substring-after, string-length, contains, starts-with, ends-with, regex (Python
``re.search``), normalize-space, translate, string, number, int, round (with
places, half away from zero), floor, ceiling, pow, abs, sqrt, exp, exp10, log,
log10, pi, sin, cos, tan, asin, acos, atan, atan2, random, uuid, boolean, not,
true, false, boolean-from-string, today, now, date, date-time, decimal-date-time,
decimal-time, format-date, format-date-time.

Left out (refused at publish by ``forms.expressions.check_form``): pulldata,
distance, area, digest, base64-decode, checklist, weighted-checklist, sort/
randomize, version, property, jr:itext, other axes (ancestor, following, ...),
``text()`` node tests and ``$variables``.
"""

from forms.xpath.evaluator import Env, Expression, compile_xpath
from forms.xpath.nodes import Node, Schema, document
from forms.xpath.values import format_datetime, parse_date, to_bool, to_num, to_str

__all__ = [
    "Env", "Expression", "Node", "Schema", "compile_xpath", "document",
    "format_datetime", "parse_date", "to_bool", "to_num", "to_str",
]
