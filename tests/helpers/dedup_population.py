"""A synthetic RSS population with planted duplicates (not a test module).

``population(seed)`` builds respondents (dense case ids ``GIN-2024-00001``...,
so many ids are one typo apart), each interviewed in 1-4 rounds months apart by
mostly the same enumerator, answers drawn around a personal profile (so two
rounds of one person look alike but not identical). Then it plants duplicates:

- ``same_key``: the same case and round interviewed again by another enumerator;
- ``key_typed_differently``: the same key typed with other case, spaces, punctuation;
- ``reinterview_too_close``: the next round of a person only days later;
- ``near_identical``: a form filled again on the same device within two days
  (tablet crash) under another case id, a few answers differing;
- ``case_id_typo``: the same interview entered by another enumerator with the
  case id one keystroke off, dated within a few days of the original (0-3; the
  rule only looks ``typo_days`` around the interview date).

Each item is ``{"rec", "device", "user", "planted"}``, in ingest order (by
interview date; a planted copy always after its original).
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

GROUPS = ("econ", "social", "psycho")
ROUNDS = (("baseline", 30), ("6m", 180), ("12m", 365), ("18m", 545))
KINDS = ("same_key", "key_typed_differently", "reinterview_too_close", "near_identical",
         "case_id_typo")


def scored_fields(model) -> list:
    return [f for f in model.questions()
            if f.parent in GROUPS and f.list_name and f.kind == "question"]


def population(model, *, respondents: int = 2000, devices: int = 8, planted_each: int = 50,
               seed: int = 7, first_id: int = 1, start: date = date(2023, 1, 1),
               span_days: int = 540, ids_by_return: bool = False) -> list[dict]:
    """Respondents returned over ``span_days`` from ``start``; with
    ``ids_by_return`` their case ids follow their return dates (a programme
    registers returnees as they come back), else they are drawn in any order."""
    rng = random.Random(seed)
    flds = scored_fields(model)
    choices = {f.path: [c.name for c in model.choices[f.list_name]] for f in flds}
    items = []
    persons = []
    for _ in range(respondents):
        persons.append({
            "sex": rng.choice(["male", "female"]),
            "age": str(rng.randint(18, 60)), "country": rng.choice(["GIN", "SEN", "MLI"]),
            "returned": start + timedelta(days=rng.randint(0, span_days)),
            "profile": {p: rng.choice(c[:6]) for p, c in choices.items()},
            "enumerator": rng.randrange(devices), "rounds": [],
        })
    if ids_by_return:
        persons.sort(key=lambda p: p["returned"])
    for n, person in enumerate(persons, start=first_id):
        person["case_id"] = f"GIN-2024-{n:05d}"
        for round_name, offset in ROUNDS[:rng.randint(1, len(ROUNDS))]:
            when = person["returned"] + timedelta(days=offset + rng.randint(-10, 10))
            enum = person["enumerator"] if rng.random() < 0.8 else rng.randrange(devices)
            items.append(_item(model, rng, person, round_name, when, enum, choices))
            person["rounds"].append(items[-1])
    originals = list(items)
    taken = {it["rec"]["data"]["case_id"] for it in items}
    for kind in KINDS:
        for _ in range(planted_each):
            orig = rng.choice(originals)
            if kind == "reinterview_too_close":  # the person's last round, a round not held
                while len(orig["person"]["rounds"]) == len(ROUNDS):
                    orig = rng.choice(originals)
                orig = orig["person"]["rounds"][-1]
            items.append(_plant(model, rng, kind, orig, devices, choices, taken))
    items.sort(key=lambda it: (it["day"], it["planted"] is not None))
    return items


def _item(model, rng, person, round_name, when, enum, choices, case_id=None) -> dict:
    data = {
        "case_id": case_id or person["case_id"], "survey_round": round_name,
        "interview_date": when.isoformat(), "return_date": person["returned"].isoformat(),
        "country_of_return": person["country"], "sex": person["sex"], "age": person["age"],
        "consent": "yes",
    }
    for path, names in choices.items():
        if rng.random() < 0.05:
            continue
        value = person["profile"][path] if rng.random() < 0.55 else rng.choice(names[:6])
        group, name = path.split("/")
        data.setdefault(group, {})[name] = value
    return {"rec": _rec(model, data), "device": f"tablet-{enum}", "user": f"enum{enum}",
            "day": when, "planted": None, "person": person}


def _rec(model, data) -> dict:
    return {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
            "form_version": model.version, "deprecated_id": None, "data": data,
            "attachments": []}


def _copy(model, rng, orig: dict, changes: int, choices) -> dict:
    import copy
    data = copy.deepcopy(orig["rec"]["data"])
    for path in rng.sample(sorted(choices), changes):
        group, name = path.split("/")
        data.setdefault(group, {})[name] = rng.choice(choices[path][:6])
    return data


def _plant(model, rng, kind, orig, devices, choices, taken: set) -> dict:
    person, day = orig["person"], orig["day"]
    other_enum = (int(orig["user"][4:]) + rng.randint(1, devices - 1)) % devices
    if kind == "same_key":
        when = day + timedelta(days=rng.randint(0, 20))
        item = _item(model, rng, person, orig["rec"]["data"]["survey_round"], when,
                     other_enum, choices)
    elif kind == "key_typed_differently":
        item = dict(orig, rec=_rec(model, _copy(model, rng, orig, rng.randint(0, 3), choices)))
        data = item["rec"]["data"]
        data["case_id"] = rng.choice([
            lambda c: c.lower(), lambda c: c.replace("-", " "), lambda c: c.replace("-", ""),
            lambda c: f" {c.replace('-', '/')} "])(data["case_id"])
        data["survey_round"] = data["survey_round"].upper()
        item["day"] = day + timedelta(days=rng.randint(0, 5))
    elif kind == "reinterview_too_close":
        held = {it["rec"]["data"]["survey_round"] for it in person["rounds"]}
        nxt = next(r for r, _ in ROUNDS if r not in held)
        when = day + timedelta(days=rng.randint(5, 45))
        item = _item(model, rng, person, nxt, when, int(orig["user"][4:]), choices)
    elif kind == "near_identical":
        data = _copy(model, rng, orig, rng.randint(0, 2), choices)
        data["case_id"] = f"GIN-2024-{rng.randint(90000, 99999):05d}"
        taken.add(data["case_id"])
        item = dict(orig, rec=_rec(model, data), day=day + timedelta(days=rng.randint(0, 2)))
    else:  # case_id_typo
        data = _copy(model, rng, orig, rng.randint(0, 2), choices)
        typo = _typo(rng, data["case_id"])
        while typo in taken:  # a typo onto a real case id is a same-key match instead
            typo = _typo(rng, data["case_id"])
        data["case_id"] = typo
        taken.add(typo)
        item = dict(orig, rec=_rec(model, data), device=f"tablet-{other_enum}",
                    user=f"enum{other_enum}", day=day + timedelta(days=rng.randint(0, 3)))
    item["rec"]["data"]["interview_date"] = item["day"].isoformat()
    item["planted"] = kind
    return item


def _typo(rng, case_id: str) -> str:
    head, digits = case_id[:9], case_id[9:]
    i = rng.randrange(len(digits) - 1)
    how = rng.choice(["swap", "sub", "drop", "add"])
    if how == "swap" and digits[i] != digits[i + 1]:
        digits = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:]
    elif how == "drop":
        digits = digits[:i] + digits[i + 1:]
    elif how == "add":
        digits = digits[:i] + rng.choice("0123456789") + digits[i:]
    else:
        digits = digits[:i] + str((int(digits[i]) + rng.randint(1, 9)) % 10) + digits[i + 1:]
    return head + digits


def batches(items: list[dict]):
    """Consecutive items of one device and user, as one push each."""
    group: list[dict] = []
    for it in items:
        if group and (it["device"], it["user"]) != (group[0]["device"], group[0]["user"]):
            yield group
            group = []
        group.append(it)
    if group:
        yield group
