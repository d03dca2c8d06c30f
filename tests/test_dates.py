"""Dates as people type them, read as ISO 8601 (web/static/rules/dates.js), and how the emission schema asks for
them."""

from __future__ import annotations

import json

import pytest

from rules import copying, dates
from webslm.domain import load_domain
from webslm.rulebook import RuleError, parse_when
from train.dataset.generate import generate_records

READ = [
    ("noon on May 4 1999", "1999-05-04T12:00:00Z"),
    ("2029-12-08T12:45:00Z", "2029-12-08T12:45:00Z"),
    ("the 12th of September 2010 at 4:45am", "2010-09-12T04:45:00Z"),
    ("Jun 6th 2016, 12:00", "2016-06-06T12:00:00Z"),
    ("2 am on 24 March 2030", "2030-03-24T02:00:00Z"),
    ("October 20, 2026 at noon", "2026-10-20T12:00:00Z"),
    ("14:30 UTC on Mar 4 1999", "1999-03-04T14:30:00Z"),
    ("2010/9/12", "2010-09-12T00:00:00Z"),
    ("2030-03-24 02:00", "2030-03-24T02:00:00Z"),
    ("12 pm on Jan 1 2000", "2000-01-01T12:00:00Z"),
    ("12am on Jan 1 2000", "2000-01-01T00:00:00Z"),
    ("midnight, 29 February 2024", "2024-02-29T00:00:00Z"),
    ("Sept. 3 2001 11:05:09 p.m.", "2001-09-03T23:05:09Z"),
    ("Febuary 14 2025", "2025-02-14T00:00:00Z"),     # a long month name with one slip: a letter left out,
    ("4 Septmeber 2001", "2001-09-04T00:00:00Z"),    # two neighbours swapped,
    ("Febraury 14 2025", "2025-02-14T00:00:00Z"),
    ("Januarry 2 2020", "2020-01-02T00:00:00Z"),     # a letter added,
    ("Novenber 5 1990", "1990-11-05T00:00:00Z"),     # a letter changed
]
REFUSED = [
    ("May 4 1999 running", "'running' is neither a month nor a time"),
    ("on May 4 1999", "starts or ends with a joining word"),
    ("May 4 1999 at", "starts or ends with a joining word"),
    ("Feb 29 2023", "there is no day 29 in month 2 of 2023"),
    ("May 4", "needs a day, a month and a four-digit year"),
    ("noon at 3pm on May 4 1999", "writes the time twice"),
    ("May 4 1999 2000", "writes the year twice"),
    ("2020-01-01 on May 4 1999", "writes two dates"),
    ("13pm on May 4 1999", "13 is not an hour on a 12-hour clock"),
    ("25:00 on May 4 1999", "25:00:00 is not a time of day"),
    ("May 4 1999 !", "cannot read '!'"),
    ("", "it is empty"),
    ("Match 4 1999", "'match' is neither a month nor a time"),  # short names are not guessed
    ("Fbruray 14 2025", "'fbruray' is neither a month nor a time"),  # two slips
    ("Augusta 4 1999", "'augusta' is neither a month nor a time"),
]


@pytest.mark.parametrize("text, iso", READ)
def test_parse_when_reads_typed_dates(text, iso):
    assert parse_when(text) == iso and dates.isDateTime(iso)


@pytest.mark.parametrize("text, why", REFUSED)
def test_parse_when_says_why_a_text_is_not_a_date(text, why):
    with pytest.raises(RuleError, match=why.replace("(", r"\(")):
        parse_when(text)


def test_a_request_offers_its_longest_dates():
    assert copying.datesWritten("start the clock at noon on May 4 1999 running 50 times faster") == [
        "noon on May 4 1999"]
    assert copying.datesWritten("go to 2010/09/12 then to March 1 2011 at 3pm") == ["2010/09/12", "March 1 2011 at 3pm"]
    assert copying.datesWritten("fly to Lima") == []
    assert copying.datesWritten("set the date to Febuary 14 2025") == ["Febuary 14 2025"]


def test_a_written_date_is_required_and_copied_otherwise_removed():
    schema = load_domain("cesium").emission_schema()
    clock = [b for b in copying.forRequest(schema, "set the clock to noon on May 4 1999")["anyOf"]
             if b["properties"]["tool"]["const"] == "setTime"][0]["properties"]["arguments"]
    assert clock["properties"]["time"] == {"enum": ["noon on May 4 1999"]} and "time" in clock["required"]
    speed = [b for b in copying.forRequest(schema, "run the clock 20x")["anyOf"]
             if b["properties"]["tool"]["const"] == "setTime"][0]["properties"]["arguments"]
    assert "time" not in speed["properties"]


def test_grounding_reads_a_copied_date_and_says_why_it_cannot():
    domain = load_domain("cesium")
    call, problems = domain.rules.ground({"tool": "setTime", "arguments": {"time": "noon on May 4 1999"}})
    assert call["arguments"]["time"] == "1999-05-04T12:00:00Z" and problems == []
    iso = {"tool": "setTime", "arguments": {"time": "2024-06-21T12:00:00+02:00"}}
    assert domain.rules.ground(iso) == (iso, [])  # ISO the parser does not read is left for the contract
    _, problems = domain.rules.ground({"tool": "setTime", "arguments": {"time": "soon"}})
    assert [(p.field, p.message) for p in problems] == [
        ("arguments.time", "'soon' is not a date: 'soon' is neither a month nor a time")]


def test_generated_dates_are_copied_and_mean_the_reference_instant():
    domain = load_domain("cesium")
    seen = 0
    for record in generate_records(domain, 3000, seed=5):
        output = json.loads(record["output"])
        if output["tool"] == "setTime" and "time" in output["arguments"]:
            seen += 1
            assert output["arguments"]["time"] in record["instruction"]
            assert copying.datesWritten(record["instruction"]) == [output["arguments"]["time"]], record
    assert seen > 100


@pytest.mark.parametrize("formats, message", [
    (["{month} {day}"], "a datetime slot format wrote a date grounding cannot read: .* needs a day, a month"),
    (["{day}/{mm}/{year}"], "a datetime slot format wrote a date grounding cannot read"),
])
def test_a_date_format_grounding_cannot_read_is_refused(tmp_path, formats, message):
    from conftest import edited_domain
    from webslm.errors import WebslmError

    root = edited_domain(tmp_path, "cesium", "templates.json",
                         lambda templates: templates["slots"]["when"].update({"formats": formats}))
    with pytest.raises(WebslmError, match=message):
        generate_records(load_domain(root), 300, seed=1)
