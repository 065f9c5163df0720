"""The ODK XPath subset: parse once, compile to closures, evaluate over record data.

    expr = compile_xpath("/data/age >= 18 and selected(/data/assets, 'land')")
    doc = document("data", {"age": "34", "assets": "land cow"}, Schema(model.fields))
    expr.evaluate(doc.children("data")[0], Env(doc, now))

Values are ``str``, ``float``, ``bool``, node-sets (lists of ``Node``) and dates;
``to_str``/``to_num``/``to_bool`` convert with XPath 1.0 and ODK rules. Syntax
errors and unsupported functions raise ``FormsError("xlsform_expression_unsupported")``
from ``compile_xpath``. See docs/XPATH.md for what is supported.
"""

from forms.xpath.evaluator import Env, Expression, compile_xpath
from forms.xpath.nodes import Node, Schema, document
from forms.xpath.values import format_datetime, parse_date, to_bool, to_num, to_str

__all__ = [
    "Env", "Expression", "Node", "Schema", "compile_xpath", "document",
    "format_datetime", "parse_date", "to_bool", "to_num", "to_str",
]
