"""The ODK XPath subset, case by case: each expression, where it is evaluated, what it gives.

The record below is evaluated against tests/forms/fixtures/household.md with the clock
fixed at 2024-05-06T10:30+02:00. Expected node-sets list the text of each node.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import pytest

from forms.errors import FormsError

from forms.expressions import form_expressions
from forms.xlsform import convert_xlsform
from forms.xpath import compile_xpath
from forms.xpath.values import format_datetime

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOW = datetime(2024, 5, 6, 10, 30, tzinfo=timezone(timedelta(hours=2)))
NAN = float("nan")
INF = float("inf")

RECORD = {
    "name": "Awa Diallo", "age": "34", "weight": "61.5", "dob": "1990-03-15",
    "visit": "2024-05-06T10:30:00.000+02:00", "wake": "06:30:00", "gps": "9.5 -13.7 10 5",
    "consent": "yes", "empty": "", "assets": "land cow tools",
    "hh": {"size": "3", "head": "Awa"},
    "members": [
        {"m_name": "Awa", "m_age": "34", "sex": "f",
         "jobs": [{"job": "farmer", "hours": "20"}, {"job": "trader", "hours": "10"}]},
        {"m_name": "Ibra", "m_age": "9", "sex": "m", "school": "yes"},
        {"m_name": "Fanta", "m_age": "", "sex": "f", "jobs": [{"job": "teacher", "hours": "35"}]},
    ],
    "country": "gn", "city": "conakry",
}


@lru_cache(maxsize=None)
def household():
    source = (FIXTURES / "household.md").read_bytes()
    return convert_xlsform(source, "household.md").model


def node_at(root, at: str):
    """'members[2]/school' -> that node, walking from the instance root."""
    node = root
    for part in filter(None, at.split("/")):
        name, _, index = part.partition("[")
        node = node.children(name)[int(index.rstrip("]")) - 1 if index else 0]
    return node


def evaluate(expression: str, at: str = "", data: dict | None = None, now=NOW):
    fx = form_expressions(household())
    root, env = fx.new_env(RECORD if data is None else data, now)
    return compile_xpath(expression).evaluate(node_at(root, at), env)


class Nodes(list):
    """Expected node-set: the text of each node, in document order."""


def plain(value):
    if type(value) is list:
        return Nodes(n.text() for n in value)
    if type(value) is datetime:
        return format_datetime(value)
    if type(value) is date:
        return value.isoformat()
    return value


def assert_same(got, expected):
    got = plain(got)
    if isinstance(expected, Nodes):
        assert isinstance(got, Nodes) and list(got) == list(expected)
    elif isinstance(expected, float):
        assert type(got) is float, f"expected a number, got {got!r}"
        if math.isnan(expected):
            assert math.isnan(got)
        else:
            assert got == expected or math.isclose(got, expected, rel_tol=1e-12)
    else:
        assert type(got) is type(expected) and got == expected, f"{got!r} != {expected!r}"


N = Nodes

ARITHMETIC = [
    ("1", 1.0), ("1.5", 1.5), (".5", 0.5), ("'abc'", "abc"), ('"a\'b"', "a'b"),
    ("1 + 2", 3.0), ("5 - 7", -2.0), ("2 * 3", 6.0), ("2*3", 6.0), ("3-1", 2.0),
    ("7 div 2", 3.5), ("7 mod 3", 1.0), ("-7 mod 3", -1.0), ("7 mod -3", 1.0),
    ("5.5 mod 2", 1.5), ("1 div 0", INF), ("-1 div 0", -INF), ("0 div 0", NAN),
    ("5 mod 0", NAN), ("-3", -3.0), ("--3", 3.0), ("1 - -1", 2.0), ("2 + 3 * 4", 14.0),
    ("(2 + 3) * 4", 20.0), ("10 - 4 - 3", 3.0), ("12 div 2 div 3", 2.0),
    ("2 * 3 mod 4", 2.0), ("/data/age+1", 35.0), ("/data/age div 2", 17.0),
    ("/data/age mod 5", 4.0), ("/data/weight * 2", 123.0), ("/data/hh/size - 1", 2.0),
    ("-/data/age", -34.0), ("0.1 + 0.2 > 0.3", True),
]

EMPTY_AND_NAN = [
    ("/data/empty + 1", NAN), ("/data/empty * 0", NAN), ("-/data/empty", NAN),
    ("/data/empty = ''", True), ("/data/empty != ''", False), ("/data/empty > 0", False),
    ("/data/empty < 0", False), ("/data/empty = 0", False), ("/data/empty != 0", True),
    ("number('')", NAN), ("number('abc')", NAN), ("number(' 12 ')", 12.0),
    ("number('1e3')", NAN), ("number('-4.5')", -4.5), ("number(true())", 1.0),
    ("number(false())", 0.0), ("number('1970-01-02')", 1.0), ("number('2024-05-06')", 19849.0),
    ("number(/data/dob)", 7378.0), ("number('1970-01-01T12:00:00Z')", 0.5),
    ("number('1970-01-02T00:00:00+02:00')", 22 / 24), ("number(/data/members[5])", NAN),
    ("0 div 0 = 0 div 0", False), ("0 div 0 != 0 div 0", True), ("1 div 0 > 1000000", True),
    ("string(/data/empty + 1)", "NaN"), ("sum(/data/members/m_age)", NAN),
]

STRINGS_OF_VALUES = [
    ("string(1)", "1"), ("string(1.5)", "1.5"), ("string(-0.25)", "-0.25"),
    ("string(1 div 0)", "Infinity"), ("string(-1 div 0)", "-Infinity"), ("string(0 div 0)", "NaN"),
    ("string(true())", "true"), ("string(false())", "false"), ("string(/data/age)", "34"),
    ("string(/data/members/m_name)", "Awa"), ("string(1000000)", "1000000"),
    ("string(12345678901)", "12345678901"), ("string(today())", "2024-05-06"),
    ("string(now())", "2024-05-06T10:30:00.000+02:00"), ("string(/data/hh)", "3Awa"),
    ("string(/data/members[5])", ""), ("string('x')", "x"), ("string(-0.5 * 2)", "-1"),
]

BOOLEANS = [
    ("true()", True), ("false()", False), ("not(true())", False), ("not(0)", True),
    ("boolean(0)", False), ("boolean(1)", True), ("boolean(-1)", True), ("boolean(0 div 0)", False),
    ("boolean('')", False), ("boolean('false')", True), ("boolean(/data/empty)", True),
    ("boolean(/data/members[5])", False), ("boolean-from-string('true')", True),
    ("boolean-from-string('1')", True), ("boolean-from-string('yes')", False),
    ("boolean-from-string('TRUE')", False), ("boolean-from-string(/data/empty)", False),
    ("true() and false()", False), ("true() or false()", True), ("1 and 'a'", True),
    ("0 or ''", False), ("/data/age > 30 and /data/consent = 'yes'", True),
    ("/data/age > 40 or /data/consent = 'no'", False), ("1 = 1 and 2 = 2 or 1 = 2", True),
    ("false() and false() or true()", True), ("true() or false() and false()", True),
    ("not(/data/age > 40)", True), ("not(/data/members[5])", True),
]

SCALAR_COMPARISONS = [
    ("1 = 1", True), ("1 = '1'", True), ("1 = '1.0'", True), ("'1' = '1.0'", False),
    ("'a' = 'a'", True), ("'a' != 'b'", True), ("'abc' < 'abd'", False), ("2 < 10", True),
    ("'2' < '10'", True), ("true() = 1", True), ("true() = 'false'", True),
    ("false() = ''", True), ("false() = 0", True), ("1 <= 1", True), ("1 >= 2", False),
    ("2 > 1", True), ("1 < 1", False), ("1 != 1", False), ("'' = 0", False),
    ("1 < 2 < 3", True), ("3 > 2 > 1", False), ("true() > false()", True),
]

NODESET_COMPARISONS = [
    ("/data/members/m_age = 9", True), ("/data/members/m_age = 10", False),
    ("/data/members/m_age != 9", True), ("/data/members/m_age > 30", True),
    ("/data/members/m_age > 40", False), ("/data/members/m_age < 10", True),
    ("/data/members/sex = 'm'", True), ("/data/members/sex = 'x'", False),
    ("/data/members/sex != 'f'", True), ("/data/members/m_name = /data/hh/head", True),
    ("/data/members/m_name != /data/hh/head", True),
    ("/data/members/m_age = /data/members/m_age", True),
    ("/data/members[5]/m_age = /data/members[5]/m_age", False),
    ("/data/members[5]/m_age != 1", False), ("/data/members[5]/m_age = ''", False),
    ("/data/members = true()", True), ("/data/members[5] = false()", True),
    ("9 = /data/members/m_age", True), ("10 > /data/members/m_age", True),
    ("1 > /data/members/m_age", False), ("'Ibra' = /data/members/m_name", True),
    ("/data/members/jobs/hours >= /data/members/m_age", True),
    ("/data/members/jobs/hours > /data/members/m_age", True),
    ("/data/members/jobs/hours > 40", False), ("/data/hh/size = 3", True),
    ("/data/hh/size = '3'", True), ("/data/hh/size = '03'", False), ("/data/hh/size = 3.0", True),
]

DATE_COMPARISONS = [
    ("/data/dob < today()", True), ("/data/dob > today()", False),
    ("today() > '2024-01-01'", True), ("/data/dob = '1990-03-15'", True),
    ("/data/dob = date('1990-03-15')", True), ("date('2024-05-06') = today()", True),
    ("/data/visit > /data/dob", True), ("'2024-02-01' < '2024-10-01'", True),
    ("now() > today()", True), ("/data/visit = now()", True),
    ("/data/dob <= '1990-03-15'", True), ("today() != date('2024-05-07')", True),
]

PATHS = [
    ("/data/age", N(["34"])), ("/data/hh/size", N(["3"])),
    ("/data/members/m_name", N(["Awa", "Ibra", "Fanta"])),
    ("/data/members[2]/m_name", N(["Ibra"])), ("/data/members[last()]/m_name", N(["Fanta"])),
    ("/data/members[position() > 1]/m_name", N(["Ibra", "Fanta"])),
    ("/data/members[m_age > 18]/m_name", N(["Awa"])),
    ("/data/members[sex = 'f']/m_name", N(["Awa", "Fanta"])),
    ("/data/members[sex = 'f'][2]/m_name", N(["Fanta"])),
    ("/data/members/jobs/job", N(["farmer", "trader", "teacher"])),
    ("/data/members[1]/jobs[2]/job", N(["trader"])),
    ("/data/members/jobs[1]/job", N(["farmer", "teacher"])),
    ("(/data/members/jobs/job)[1]", N(["farmer"])), ("(/data/members/jobs/job)[3]", N(["teacher"])),
    ("(/data/members/jobs/job)[last()]", N(["teacher"])),
    ("/data/members[2]/jobs/job", N([])), ("/data/members[2]/school", N(["yes"])),
    ("/data/members[1]/school", N([""])), ("count(/data/members[1]/school)", 1.0),
    ("/data/wake", N(["06:30:00"])), ("/data/hh/*", N(["3", "Awa"])),
    ("count(/data/members/..)", 1.0), ("/data/members/../age", N(["34"])),
    ("/data/./age", N(["34"])), ("/data/hh/size/../head", N(["Awa"])),
    ("//job", N(["farmer", "trader", "teacher"])), ("count(//m_age)", 3.0),
    ("/data//hours", N(["20", "10", "35"])),
    ("/data/members[2]/m_name | /data/members[1]/m_name", N(["Awa", "Ibra"])),
    ("count(/data/age | /data/age)", 1.0), ("/data/hh/head | /data/age", N(["34", "Awa"])),
    ("/data/child::age", N(["34"])), ("/data/hh/self::hh/size", N(["3"])),
    ("/data/hh/self::xx/size", N([])), ("/data/hh/size/parent::hh/head", N(["Awa"])),
    ("/data/hh/size/parent::node()/head", N(["Awa"])),
    ("/data/members[1]/jobs[hours > 15]/job", N(["farmer"])),
    ("/data/members[jobs/hours > 30]/m_name", N(["Fanta"])),
    ("/data/members[count(jobs) = 0]/m_name", N(["Ibra"])),
    ("/data/members[not(jobs)]/m_name", N(["Ibra"])),
    ("/data/members[1.5]/m_name", N([])), ("/data/members[0]/m_name", N([])),
    ("/data/members['x']/m_name", N(["Awa", "Ibra", "Fanta"])),
    ("/data/members[''][1]/m_name", N([])), ("/data/nothing", N([])),
    ("/other/age", N([])), ("count(/data/members[m_age = ''])", 1.0),
    ("/data/members[position() = last() - 1]/m_name", N(["Ibra"])),
    ("/data/members[m_name = current()/hh/head]/m_age", N(["34"])),
]

RELATIVE = [
    (".", "members[2]/school", N(["yes"])), ("../m_age", "members[2]/school", N(["9"])),
    ("../../age", "members[2]/school", N(["34"])), ("../m_age < 18", "members[2]/school", True),
    ("../../members[1]/m_name", "members[2]/school", N(["Awa"])),
    ("current()/../m_name", "members[2]/school", N(["Ibra"])),
    ("position(..)", "members[2]/school", 2.0), ("../jobs", "members[2]/school", N([])),
    ("/data/members/m_age", "members[2]/school", N(["9"])),
    ("sum(/data/members/m_age)", "members[2]/school", 9.0),
    ("count(/data/members)", "members[2]/school", 1.0),
    ("../job", "members[1]/jobs[2]/hours", N(["trader"])),
    ("../../m_name", "members[1]/jobs[2]/hours", N(["Awa"])),
    ("position(..)", "members[1]/jobs[2]/hours", 2.0),
    ("position(../..)", "members[1]/jobs[2]/hours", 1.0),
    ("/data/members/jobs/job", "members[1]/jobs[2]/hours", N(["trader"])),
    ("/data/members/m_name", "members[1]/jobs[2]/hours", N(["Awa"])),
    ("sum(/data/members/jobs/hours)", "members[1]/jobs[2]/hours", 10.0),
    (". <= 80", "members[1]/jobs[2]/hours", True), (". * 2", "members[1]/jobs[2]/hours", 20.0),
    (". = ''", "members[3]/m_age", True), (". + 1", "members[3]/m_age", NAN),
    ("../sex", "members[3]/m_age", N(["f"])), ("count(../jobs)", "members[3]/m_age", 1.0),
    ("position(..)", "members[3]/m_age", 3.0),
    (". >= 0 and . <= 120", "age", True), (".", "age", N(["34"])), ("current()", "age", N(["34"])),
    ("string-length()", "age", 2.0), ("string()", "age", "34"), ("number()", "age", 34.0),
    ("normalize-space()", "name", "Awa Diallo"), ("../consent", "age", N(["yes"])),
    ("size", "hh", N(["3"])), ("./head", "hh", N(["Awa"])), ("count(*)", "hh", 2.0),
    ("m_name", "members[3]", N(["Fanta"])), ("jobs/job", "members[1]", N(["farmer", "trader"])),
    (". <= today()", "dob", True), ("position(.)", "members[3]", 3.0),
]

INSTANCES = [
    ("instance('city')/root/item[country = /data/country]/name", "", N(["conakry", "kankan"])),
    ("instance('city')/root/item[country = current()/../country]/name", "city",
     N(["conakry", "kankan"])),
    ("instance('city')/root/item[country = /data/country]/label", "", N(["Conakry", "Kankan"])),
    ("instance('yn')/root/item/name", "", N(["yes", "no"])),
    ("count(instance('assets')/root/item)", "", 4.0),
    ("instance('city')/root/item[name = /data/city]/label", "", N(["Conakry"])),
    ("instance('city')/root/item[name = 'dakar']/country", "", N(["sn"])),
    ("instance('sex')/root/item[2]/label", "", N(["Male"])),
    ("instance('city')/root/item[country = 'sn']/name", "", N(["dakar"])),
    ("instance('yn')/root/item[name = current()]/label", "consent", N(["Yes"])),
    ("count(instance('city')/root/item[country = 'xx'])", "", 0.0),
    ("instance('sex')/root/item[label = 'Female']/name = /data/members/sex", "", True),
]

SELECTS = [
    ("selected(/data/assets, 'cow')", True), ("selected(/data/assets, 'co')", False),
    ("selected(/data/assets, ' cow ')", True), ("selected(/data/empty, 'cow')", False),
    ("selected('a b', 'b')", True), ("selected('a  b', '')", True),
    ("selected(/data/members[2]/school, 'yes')", True),
    ("selected-at(/data/assets, 0)", "land"), ("selected-at(/data/assets, 2)", "tools"),
    ("selected-at(/data/assets, 3)", ""), ("selected-at(/data/assets, -1)", ""),
    ("selected-at(/data/empty, 0)", ""), ("selected-at('a b', 1.5)", "b"),
    ("selected-at('a b', '1')", "b"), ("count-selected(/data/assets)", 3.0),
    ("count-selected(/data/empty)", 0.0), ("count-selected('  a   b ')", 2.0),
    ("jr:choice-name(/data/city, '/data/city')", "Conakry"),
    ("jr:choice-name('dakar', ' /data/city ')", "Dakar"),
    ("jr:choice-name('zzz', '/data/city')", ""),
    ("jr:choice-name(/data/members[2]/sex, '/data/members/sex')", "Male"),
    ("jr:choice-name('yes', '/data/consent')", "Yes"),
    ("jr:choice-name('yes', '/data/name')", ""),
]

AGGREGATES = [
    ("count(/data/members)", 3.0), ("count(/data/members/jobs)", 3.0),
    ("count(/data/members[2]/jobs)", 0.0), ("count(/data/members/jobs/job)", 3.0),
    ("count(instance('city')/root/item)", 3.0),
    ("count-non-empty(/data/members/m_age)", 2.0), ("count-non-empty(/data/members/school)", 1.0),
    ("count-non-empty(/data/members[5]/m_age)", 0.0), ("sum(/data/members/jobs/hours)", 65.0),
    ("sum(/data/members[m_age != '']/m_age)", 43.0), ("sum(/data/members[5]/m_age)", 0.0),
    ("sum(/data/members[1]/jobs/hours)", 30.0), ("min(/data/members/jobs/hours)", 10.0),
    ("max(/data/members/jobs/hours)", 35.0), ("max(/data/members/m_age)", NAN),
    ("min(3, 1, 2)", 1.0), ("max(3, '7', 2)", 7.0), ("max(/data/members[5]/m_age)", NAN),
    ("min(/data/members/jobs/hours, 5)", 5.0), ("max(1, 'x')", NAN), ("max(-1, -2)", -1.0),
    ("/data/members[position() = 2]/m_name", N(["Ibra"])), ("position(/data/members[3])", 3.0),
    ("position(/data/members[5])", NAN),
    ("indexed-repeat(/data/members/m_name, /data/members, 2)", N(["Ibra"])),
    ("indexed-repeat(/data/members/jobs/job, /data/members, 1, /data/members/jobs, 2)",
     N(["trader"])),
    ("indexed-repeat(/data/members/jobs/job, /data/members, 3, /data/members/jobs, 1)",
     N(["teacher"])),
    ("indexed-repeat(/data/members/m_name, /data/members, 4)", N([])),
    ("indexed-repeat(/data/members/m_name, /data/members, 0)", N(["Awa"])),
    ("indexed-repeat(/data/members/m_name, /data/members, 1 + 1)", N(["Ibra"])),
    ("indexed-repeat(/data/members/m_name, /data/members, /data/hh/size)", N(["Fanta"])),
    ("string(indexed-repeat(/data/members/m_age, /data/members, 1))", "34"),
]

STRINGS = [
    ("join(', ', /data/members/m_name)", "Awa, Ibra, Fanta"), ("join('-', 'a', 'b', 'c')", "a-b-c"),
    ("join(' ', /data/members[5]/m_name)", ""), ("join('', /data/members/sex)", "fmf"),
    ("join(' ', /data/age, /data/members/sex)", "34 f m f"),
    ("concat('a', 'b', 'c')", "abc"), ("concat(/data/name, ' (', /data/age, ')')", "Awa Diallo (34)"),
    ("concat()", ""), ("concat(1, true())", "1true"), ("concat(/data/members/m_name)", "AwaIbraFanta"),
    ("concat(/data/empty, 'x')", "x"), ("concat(1.50, '')", "1.5"),
    ("coalesce(/data/empty, 'x')", "x"), ("coalesce(/data/age, 'x')", "34"), ("coalesce('', '')", ""),
    ("coalesce('', 5)", 5.0), ("coalesce(/data/members[5]/m_name, /data/name)", N(["Awa Diallo"])),
    ("substr('abcdef', 2)", "cdef"), ("substr('abcdef', 1, 3)", "bc"),
    ("substr('abcdef', 0, 100)", "abcdef"), ("substr('abcdef', 4, 2)", ""),
    ("substr(/data/name, 0, 3)", "Awa"), ("substr('abc', /data/empty)", "abc"),
    ("substring('12345', 2, 3)", "234"), ("substring('12345', 1.5, 2.6)", "234"),
    ("substring('12345', 0, 3)", "12"), ("substring('12345', 0 div 0, 3)", ""),
    ("substring('12345', -42, 1 div 0)", "12345"), ("substring('12345', 2)", "2345"),
    ("string-length('abc')", 3.0), ("string-length('')", 0.0), ("string-length(/data/name)", 10.0),
    ("string-length(/data/empty)", 0.0), ("string-length('élan')", 4.0),
    ("contains('hello', 'ell')", True), ("contains('hello', '')", True),
    ("contains(/data/name, 'Dia')", True), ("contains('abc', 'd')", False),
    ("starts-with(/data/name, 'Awa')", True), ("starts-with('abc', 'b')", False),
    ("ends-with('abc', 'bc')", True), ("ends-with('abc', 'b')", False),
    ("regex('GIN', '^[A-Z]{3}$')", True), ("regex('GINE', '^[A-Z]{3}$')", False),
    ("regex('a1b2', '[0-9]')", False), ("regex('', '^$')", True),
    ("regex(/data/age, '^[0-9]+$')", True), ("regex(/data/name, 'diallo')", False),
    ("regex(/data/name, concat('^', 'Awa'))", False),
    ("normalize-space('  a   b  ')", "a b"), ("normalize-space('')", ""),
    ("translate('abc', 'abc', 'ABC')", "ABC"), ("translate('--aaa--', 'abc-', 'ABC')", "AAA"),
    ("translate('bar', 'abc', 'ABC')", "BAr"), ("translate('aaa', 'aa', 'xy')", "xxx"),
    ("substring-before('1999/04/01', '/')", "1999"), ("substring-after('1999/04/01', '/')", "04/01"),
    ("substring-before('abc', 'x')", ""), ("substring-after('abc', '')", "abc"),
]

NUMBERS = [
    ("int(3.7)", 3.0), ("int(-3.7)", -3.0), ("int('12.9')", 12.0), ("int(/data/empty)", NAN),
    ("int(1 div 0)", INF), ("round(2.5)", 3.0), ("round(-2.5)", -3.0), ("round(2.4)", 2.0),
    ("round(1.2345, 2)", 1.23), ("round(1.235, 2)", 1.24), ("round(2.675, 2)", 2.68),
    ("round(-1.5, 0)", -2.0), ("round(1234.5, -2)", 1200.0), ("round(/data/weight, 0)", 62.0),
    ("round(/data/empty)", NAN), ("round(0 div 0, 2)", NAN), ("round(7, 2)", 7.0),
    ("pow(2, 10)", 1024.0), ("pow(2, 0.5)", math.sqrt(2)), ("pow(-8, 1 div 3)", NAN),
    ("pow(0, -1)", INF), ("pow(/data/empty, 2)", NAN), ("pow(/data/hh/size, 2)", 9.0),
    ("abs(-3.5)", 3.5), ("abs(/data/empty)", NAN), ("abs(2)", 2.0),
    ("floor(2.7)", 2.0), ("floor(-2.1)", -3.0), ("ceiling(2.1)", 3.0), ("ceiling(-2.7)", -2.0),
    ("sqrt(16)", 4.0), ("sqrt(-1)", NAN), ("exp(0)", 1.0), ("log(1)", 0.0),
    ("log10(1000)", 3.0), ("exp10(2)", 100.0), ("sin(0)", 0.0), ("cos(0)", 1.0),
    ("atan2(0, 1)", 0.0), ("pi() > 3.14 and pi() < 3.15", True),
    ("random() < 1 and random() >= 0", True), ("string-length(uuid())", 36.0),
    ("string-length(uuid(8))", 8.0), ("uuid() != uuid()", True),
    ("number(/data/weight)", 61.5), ("number('.5')", 0.5),
]

DATES = [
    ("today()", "2024-05-06"), ("now()", "2024-05-06T10:30:00.000+02:00"),
    ("date('2024-02-29')", "2024-02-29"), ("date(0)", "1970-01-01"), ("date(19849)", "2024-05-06"),
    ("date('2024-02-30')", ""), ("date('')", ""), ("date(today() + 1)", "2024-05-07"),
    ("date(/data/dob)", "1990-03-15"), ("date('2024-01-01') + 1", 19724.0),
    ("today() - date('2024-05-01')", 5.0), ("today() - /data/dob", 12471.0),
    ("/data/dob + 0", 7378.0), ("decimal-date-time('1970-01-02T12:00:00Z')", 1.5),
    ("decimal-date-time('1970-01-01')", 0.0), ("decimal-date-time(now())", 19849.354166666668),
    ("decimal-date-time('x')", NAN), ("decimal-time('12:00:00Z')", 0.5),
    ("decimal-time('06:00:00')", 0.25), ("decimal-time('xx')", NAN),
    ("format-date('2024-03-05', '%Y-%m-%d')", "2024-03-05"),
    ("format-date('2024-03-05', '%e/%n/%y')", "5/3/24"),
    ("format-date('2024-03-05', '%a %d %b %Y')", "Tue 05 Mar 2024"),
    ("format-date(today(), '%d/%m/%Y')", "06/05/2024"), ("format-date('', '%Y')", ""),
    ("format-date('nonsense', '%Y')", ""), ("format-date(/data/dob, '%Y')", "1990"),
    ("format-date(0, '%Y-%m-%d')", "1970-01-01"), ("format-date('2024-03-05', '100%%')", "100%"),
    ("format-date-time('2024-03-05T14:07:09.045+01:00', '%H:%M:%S.%3')", "14:07:09.045"),
    ("format-date-time(now(), '%Y-%m-%d %H:%M')", "2024-05-06 10:30"),
    ("format-date-time('2024-03-05T04:07:09Z', '%h:%M')", "4:07"),
    ("format-date-time('2024-03-05', '%H:%M')", "00:00"),
    ("format-date(date(today() - 1), '%a')", "Sun"),
]

CONDITIONALS = [
    ("if(true(), 'a', 'b')", "a"), ("if(false(), 'a', 'b')", "b"),
    ("if(/data/age > 18, 'adult', 'child')", "adult"), ("if('', 1, 2)", 2.0),
    ("if(/data/empty, 1, 2)", 1.0), ("if(/data/empty != '', 1, 2)", 2.0),
    ("if(true(), 'ok', instance('nope')/root/item)", "ok"),
    ("if(false(), instance('nope')/root/item, 'ok')", "ok"),
    ("if(/data/members[2]/m_age < 18, count(/data/members), 0)", 3.0),
]

OPERATOR_NAMES = [
    ("div div mod", 1.5), ("and and or", True), ("mod * div", 24.0), ("count(*)", 4.0),
    ("or = 0", True), ("*[1]", Nodes(["6"])),
]

SCALAR_CASES = (ARITHMETIC + EMPTY_AND_NAN + STRINGS_OF_VALUES + BOOLEANS + SCALAR_COMPARISONS
                + NODESET_COMPARISONS + DATE_COMPARISONS + PATHS + SELECTS + AGGREGATES + STRINGS
                + NUMBERS + DATES + CONDITIONALS)


@pytest.mark.parametrize(("expression", "expected"), SCALAR_CASES,
                         ids=[c[0] for c in SCALAR_CASES])
def test_expression_gives_expected_value_at_the_root(expression, expected):
    assert_same(evaluate(expression), expected)


@pytest.mark.parametrize(("expression", "at", "expected"), RELATIVE + INSTANCES,
                         ids=[f"{c[1]}: {c[0]}" for c in RELATIVE + INSTANCES])
def test_expression_gives_expected_value_at_a_node(expression, at, expected):
    assert_same(evaluate(expression, at), expected)


@pytest.mark.parametrize(("expression", "expected"), OPERATOR_NAMES,
                         ids=[c[0] for c in OPERATOR_NAMES])
def test_operator_words_are_element_names_where_a_name_is_expected(expression, expected):
    from forms.xpath import Env, Schema, document

    doc = document("r", {"div": "6", "mod": "4", "and": "1", "or": "0"}, Schema())
    root = doc.children("r")[0]
    assert_same(compile_xpath(expression).evaluate(root, Env(doc, NOW)), expected)


# What a tablet's form engine refuses to load: refused when compiled.
REFUSED = [
    ("foo(1)", "not an ODK XForms function"), ("lower-case('A')", "not an ODK XForms function"),
    ("1 +", "syntax error"), ("(1", "syntax error"), ("'abc", "syntax error"),
    ("concat('a'", "syntax error"), ("if(1, 2)", "takes 3"), ("selected(1)", "takes 2"),
    ("today(1)", "takes 0"), ("int(/data/age, 0)", "takes 1"), ("pulldata('a', 'b')", "takes 4"),
    ("geofence(/data/gps)", "takes 2"), ("weighted-checklist(1, 2, 3)", "even number"),
    ("1 ! 2", "syntax error"), ("/data/age[", "syntax error"), ("wibble::x", "not an XPath axis"),
    ("indexed-repeat(/d/r/x, /d/r, 1, /d/r)", "takes"), ("", "empty"), ("   ", "empty"),
    ("1 2", "unexpected"), ("/data/age ==  1", "syntax error"), ("#", "unexpected character"),
]


@pytest.mark.parametrize(("expression", "reason"), REFUSED, ids=[c[0] or "<empty>" for c in REFUSED])
def test_expression_a_tablet_cannot_load_is_refused_when_compiled(expression, reason):
    with pytest.raises(FormsError) as info:
        compile_xpath(expression)
    assert info.value.code == "xlsform_expression_unsupported"
    assert reason in info.value.message


# Valid XPath the server leaves to the tablet: compiled, each construct named.
NOT_CHECKED = [
    ("property('deviceid')", "property()"), ("$x + 1", "$x"), ("ancestor::x", "ancestor::"),
    ("/data/text()", "text()"), ("/data/@id", "attribute::"),
    ("regex(., '\\p{L}+')", "regex('\\p{L}+')"),
    ("extract-signed(/data/name, 'key')", "extract-signed()"),
    ("indexed-repeat(/data/members[1]/m_name, /data/members, 1)", "indexed-repeat()"),
]


@pytest.mark.parametrize(("expression", "construct"), NOT_CHECKED, ids=[c[0] for c in NOT_CHECKED])
def test_expression_the_server_cannot_evaluate_is_kept_and_names_what_it_leaves_out(
        expression, construct):
    compiled = compile_xpath(expression)
    assert construct in [c for c, _ in compiled.unchecked]
    with pytest.raises(FormsError) as info:
        evaluate(expression)
    assert info.value.code == "expression_not_checked"


@pytest.mark.parametrize("expression", ["'a'/b", "('a')[1]", "/data/age | 'x'",
                                        "digest('a', 'SHA-3')", "base64-decode('@@')"])
def test_expression_that_fails_while_evaluating_raises_a_forms_error(expression):
    with pytest.raises(FormsError) as info:
        evaluate(expression)
    assert expression in info.value.message


def test_instance_without_data_raises_unavailable_naming_it():
    with pytest.raises(FormsError) as info:
        evaluate("instance('nope')/root/item")
    assert info.value.code == "expression_not_checked"
    assert "'nope'" in info.value.message


def test_expression_is_compiled_once_per_text():
    assert compile_xpath("/data/age + 1") is compile_xpath("/data/age + 1")


def test_once_keeps_the_value_already_held_and_computes_an_empty_one():
    assert_same(evaluate("once(1 + 1)", "age"), "34")
    assert_same(evaluate("once(1 + 1)", "empty"), 2.0)


def test_today_and_now_follow_the_context_clock_not_the_wall_clock():
    then = datetime(2001, 9, 9, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert_same(evaluate("today()", now=then), "2001-09-09")
    assert_same(evaluate("now()", now=then), "2001-09-09T23:30:00.000-05:00")


def test_today_without_a_context_clock_reads_the_wall_clock():
    got = evaluate("today()", now=None)
    assert abs((got - datetime.now(timezone.utc).date()).days) <= 1


def test_missing_repeat_gives_an_empty_node_set_and_missing_leaf_an_empty_value():
    data = {"name": "x"}
    assert_same(evaluate("count(/data/members)", data=data), 0.0)
    assert_same(evaluate("/data/hh/size", data=data), Nodes([""]))
    assert_same(evaluate("/data/hh/size + 1", data=data), NAN)


def test_union_of_nodes_from_nested_repeats_is_in_document_order():
    got = evaluate("/data/members[3]/jobs/job | /data/members[1]/jobs/job | /data/members/m_name")
    assert_same(got, Nodes(["Awa", "farmer", "trader", "Ibra", "Fanta", "teacher"]))


def test_json_numbers_in_data_read_as_their_text():
    assert_same(evaluate("/data/age + 1", data={"age": 41}), 42.0)
    assert_same(evaluate("string(/data/weight)", data={"weight": 2.5}), "2.5")


PATHS = ["/data/consent", "/data/empty", "/data/age", "/data/dob", "/data/members/m_age",
         "/data/members/sex", "/data/members/school", "/data/nothing_here"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("literal", ["'yes'", "'f'", "''", "'34'", "9", "34", "0", "-1.5",
                                     "'1990-03-15'"])
@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_path_compared_with_a_literal_follows_the_node_set_rules_either_way_round(
        path, literal, op):
    # compiled to a direct loop (evaluator._path_against_literal): it must say what
    # XPath 1.0's rule says (values.compare), some node's value against the
    # literal, with the literal on either side
    from forms.xpath.values import compare

    nodes = evaluate(path)
    value = literal.strip("'") if literal.startswith("'") else float(literal)
    assert evaluate(f"{path} {op} {literal}") is compare(nodes, value, op)
    assert evaluate(f"{literal} {op} {path}") is compare(value, nodes, op)
