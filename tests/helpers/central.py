"""Instances of tests/fixtures/central/visit.md for the Central API tests."""

from __future__ import annotations


def visit_xml(instance_id: str, village: str, members: list[tuple[str, int, list[str]]],
              photo: str | None = None) -> str:
    """An instance of the visit form, written by hand: members (name, age, jobs)."""
    people = "".join(
        f"<members><name>{name}</name><age>{age}</age><income>1.5</income>"
        f"<health><sick>no</sick></health>"
        + "".join(f"<jobs><job>{job}</job><plot.area>0.5</plot.area></jobs>" for job in jobs)
        + "</members>" for name, age, jobs in members)
    return (f'<data id="visit" version="1"><village>{village}</village>'
            f"<gps>9.5 -13.7 12 5</gps><photo>{photo or ''}</photo>"
            f"<visit_time>2026-01-05T10:00:00.000+01:00</visit_time><assets>land</assets>"
            f"<hh><hh-size>{len(members)}</hh-size>{people}</hh>"
            f"<meta><instanceID>{instance_id}</instanceID></meta></data>")
