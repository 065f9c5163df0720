"""Scoring files: .jsonl envelopes or data, .csv by name, by path, Kobo and Central exports."""

from __future__ import annotations

import csv
import json

import pytest

from scoring import ScoringError, score_file, score_record
from tests.helpers.rss_records import BEST, WORST, build


def write_jsonl(path, objects):
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def write_csv(path, header, rows, delimiter=","):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def flat(data):
    """{bare name: value} of a nested RSS record."""
    out = {k: v for k, v in data.items() if not isinstance(v, dict)}
    for group in ("econ", "social", "psycho"):
        out.update(data.get(group, {}))
    return out


def test_jsonl_of_envelopes_and_bare_data_scores_each_line_in_order(tmp_path, spec, model):
    path = write_jsonl(tmp_path / "in.jsonl", [
        {"instance_id": "uuid:a", "form_id": "rss", "data": build(BEST)},
        build(WORST),
        {"instance_id": "uuid:c", "data": flat(build(WORST, econ_satisfaction="satisfied"))},
    ])
    out = list(score_file(spec, model, path))
    assert [o["instance_id"] for o in out] == ["uuid:a", None, "uuid:c"]
    assert [o["scores"]["composite"] for o in out] == pytest.approx([1, 0, 0.05 * 0.75])
    assert all(o["scoring_version"] == "rss-v1" for o in out)
    assert set(out[0]) == {"instance_id", "scoring_version", "scores", "indicators", "warnings"}
    json.dumps(out)


def test_jsonl_skips_blank_lines(tmp_path, spec, model):
    path = tmp_path / "in.jsonl"
    path.write_text("\n" + json.dumps(build(BEST)) + "\n\n", encoding="utf-8")
    assert len(list(score_file(spec, model, path))) == 1


def test_jsonl_line_that_is_not_json_is_named(tmp_path, spec, model):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(build(BEST)) + "\n{oops\n", encoding="utf-8")
    results = score_file(spec, model, path)
    next(results)
    with pytest.raises(ScoringError) as exc_info:
        next(results)
    assert exc_info.value.code == "scoring_input_invalid"
    assert "in.jsonl line 2" in exc_info.value.message


def test_input_that_is_neither_jsonl_nor_csv_is_refused(tmp_path, spec, model):
    path = tmp_path / "in.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ScoringError, match="neither .jsonl nor .csv"):
        list(score_file(spec, model, path))


def test_csv_with_bare_field_names_scores_like_the_record(tmp_path, spec, model):
    data = build(WORST, able_to_stay="refused", reason_to_leave="wish_to_leave",
                 productive_assets="land vehicle")
    row = flat(data)
    header = sorted(row)
    path = write_csv(tmp_path / "in.csv", header, [[row[h] for h in header]])
    [out] = score_file(spec, model, path)
    assert out["scores"] == score_record(spec, model, data)["scores"]
    assert out["indicators"]["remigration"] == 1
    assert out["indicators"]["productive_assets"] == 1


def test_csv_with_group_paths_and_empty_cells(tmp_path, spec, model):
    header = ["case_id", "consent", "econ/has_debt", "econ/debt_vs_spending",
              "psycho/able_to_stay", "psycho/reason_to_leave"]
    path = write_csv(tmp_path / "in.csv", header, [
        ["A", "yes", "no", "", "no", "need_to_leave"],
        ["B", "yes", "yes", "debt_larger", "yes", ""],
    ])
    a, b = score_file(spec, model, path)
    assert (a["indicators"]["debt_vs_spending"], a["indicators"]["remigration"]) == (1, 0)
    assert (b["indicators"]["debt_vs_spending"], b["indicators"]["remigration"]) == (0, 1)


def kobo_row(data, assets_columns):
    """One Kobo 'XML values and headers' row with choice labels as values."""
    row = flat(data)
    labels = {"very_satisfied": "Very satisfied", "never": "Never", "yes": "Yes",
              "no": "No", "very_good": "Very good", "all": "All of them",
              "very_often": "Very often", "strongly_agree": "Strongly agree",
              "very_safe": "Very safe"}
    return row, {k: labels.get(v, v) for k, v in row.items()}


def test_kobo_csv_export_with_group_paths_labels_semicolons_and_choice_columns(
        tmp_path, spec, model):
    assets = ["land", "livestock", "tools_equipment", "vehicle", "business_premises",
              "other", "none", "dont_know", "refused"]
    fields = [("econ", k) for k in BEST["econ"] if k != "productive_assets"] + [
        ("social", k) for k in BEST["social"]] + [("psycho", k) for k in BEST["psycho"]]
    header = (["start", "end", "case_id", "survey_round", "country_of_return", "consent"]
              + [f"{g}/{k}" for g, k in fields] + ["econ/productive_assets"]
              + [f"econ/productive_assets/{a}" for a in assets]
              + ["meta/instanceID", "_id", "_uuid", "_submission_time", "_index"])
    _, best_labels = kobo_row(build(BEST), assets)
    best = (["2026-03-02T10:00:00", "2026-03-02T10:30:00", "GIN-1", "6m", "GIN", "Yes"]
            + [best_labels[k] for _, k in fields] + ["Land Livestock"]
            + ["1", "1", "0", "0", "0", "0", "0", "0", "0"]
            + ["uuid:k1", "101", "k1", "2026-03-03T08:00:00", "1"])
    # Second row: assets only as per-choice columns, the joined column empty, no meta id.
    none_row = list(best)
    none_row[header.index("econ/productive_assets")] = ""
    for a in assets:
        none_row[header.index(f"econ/productive_assets/{a}")] = "1" if a == "none" else "0"
    none_row[header.index("meta/instanceID")] = ""
    none_row[header.index("_uuid")] = "k2"
    path = write_csv(tmp_path / "kobo.csv", header, [best, none_row], delimiter=";")
    first, second = score_file(spec, model, path)
    assert first["instance_id"] == "uuid:k1"
    assert first["scores"] == pytest.approx(
        {"economic": 1, "social": 1, "psychosocial": 1, "composite": 1})
    assert first["warnings"] == []
    assert second["instance_id"] == "uuid:k2"
    assert second["indicators"]["productive_assets"] == 0


def test_kobo_csv_export_with_labels_as_headers_and_values(tmp_path, spec, model):
    econ_q = model.resolve("econ_satisfaction").labels["English (en)"]
    assets_q = model.resolve("productive_assets").labels["English (en)"]
    consent_q = model.resolve("consent").labels["English (en)"]
    stay_q = model.resolve("able_to_stay").labels["English (en)"]
    header = [consent_q, f"Economic dimension/{econ_q}", assets_q,
              f"Psychosocial dimension/{stay_q}"]
    path = write_csv(tmp_path / "kobo_labels.csv", header, [
        ["Yes", "Dissatisfied", "Tools or equipment Vehicle", "Refused to answer"],
        ["Oui", "Très satisfait(e)", "Ne sait pas", "Ne sait pas"],
    ])
    a, b = score_file(spec, model, path)
    assert (a["indicators"]["econ_satisfaction"], a["indicators"]["productive_assets"],
            a["indicators"]["able_to_stay"]) == (0.25, 1, 0.5)
    assert (b["indicators"]["econ_satisfaction"], b["indicators"]["productive_assets"],
            b["indicators"]["able_to_stay"]) == (1, 0.5, 0)
    assert a["warnings"] == b["warnings"] == []


def test_odk_central_csv_export_with_dash_paths_and_key(tmp_path, spec, model):
    header = ["SubmissionDate", "consent", "econ-has_debt", "econ-debt_vs_spending",
              "econ-productive_assets", "econ-productive_assets/land", "meta-instanceID", "KEY"]
    path = write_csv(tmp_path / "central.csv", header, [
        ["2026-03-03", "yes", "yes", "spending_larger", "land", "1", "uuid:c1", "uuid:c1"],
    ])
    [out] = score_file(spec, model, path)
    assert out["instance_id"] == "uuid:c1"
    assert out["indicators"]["debt_vs_spending"] == 1
    assert out["indicators"]["productive_assets"] == 1


def test_csv_with_a_byte_order_mark_and_no_consent_column_is_scored(tmp_path, spec, model):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffecon_satisfaction,has_debt\r\nvery_satisfied,no\r\n".encode())
    [out] = score_file(spec, model, path)
    assert out["indicators"]["econ_satisfaction"] == 1
    assert out["indicators"]["debt_vs_spending"] == 1


def test_csv_row_longer_than_the_header_is_named(tmp_path, spec, model):
    path = tmp_path / "bad.csv"
    path.write_text("consent\nyes,extra\n", encoding="utf-8")
    with pytest.raises(ScoringError, match="line 2"):
        list(score_file(spec, model, path))
