"""Dates as people type them: the model copies "noon on May 4 1999" from the request, grounding makes it ISO 8601.

A 135M model turned "noon" into 00:00 and "1999" into 2019, so a date-time argument whose tool schema marks it
`"x-copy": true` is written as a span of the request that reads as one date (`webslm.copying.for_request` offers
the longest such spans), and `parse_when` turns it into '1999-05-04T12:00:00Z'. Understood: ISO dates with or
without a time ("2029-12-08T12:45:00Z", "2030-03-24 02:00", "2010/09/12"), a month name or its first three letters
with a day (ordinals too) and a four-digit year in any order, and at most one time of day ("noon", "midnight",
"4:45am", "2 pm", "14:30", "14:30 UTC"), joined by "at", "on", "of", "the" and commas; only "the" may start a
date and none may end one. Times are UTC. The browser reads dates the same way (web/static/dates.js;
tests/test_web_grounding.py checks both agree).
"""

from __future__ import annotations

import re
from datetime import datetime

WHEN_FORMAT = "when"  # the emission schema's format for a copied date
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
_JOINERS = {"at", "on", "of", "the", "utc", "gmt", ","}
_HALF = r"(?:\s*(?P<{}>am|pm|a\.m\.|p\.m\.))"
_TOKEN = re.compile(
    r"(?P<iso>(?P<y>\d{4})[-/](?P<mo>\d{1,2})[-/](?P<d>\d{1,2})(?:t(?P<hh>\d{2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?z?)?)"
    r"(?![\w:])"
    r"|(?P<clock>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?" + _HALF.format("clock_half") + r"?(?![\w:])"
    r"|(?P<hour>\d{1,2})" + _HALF.format("half") + r"(?!\w)"
    r"|(?P<year>\d{4})(?!\w)"
    r"|(?P<day>\d{1,2})(?:st|nd|rd|th)?(?!\w)"
    r"|(?P<word>[a-z]+)\.?"
    r"|(?P<comma>,)",
    re.ASCII,
)
_NAMED_TIMES = {"noon": 12, "midday": 12, "midnight": 0}


def _days_in(year: int, month: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]


def _hour_of(hour: str, half: str | None) -> int:
    if half is None:
        return int(hour)
    if not 1 <= int(hour) <= 12:
        raise ValueError(f"{hour} is not an hour on a 12-hour clock")
    return int(hour) % 12 + (12 if half.startswith("p") else 0)


def _month_number(word: str) -> int | None:
    for number, name in enumerate(MONTHS, 1):
        if word in (name, name[:3]) or (number == 9 and word == "sept"):
            return number
    return None


def parse_when(text: str) -> str:
    """'noon on May 4 1999' -> '1999-05-04T12:00:00Z'. Raises ValueError saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a date")
    source, at = text.strip().lower(), 0
    fields: dict[str, tuple | int] = {}
    tokens: list[str] = []

    def put(name: str, value):
        if name in fields:
            raise ValueError(f"{text!r} is not a date: it writes the {name} twice")
        fields[name] = value

    while at < len(source):
        if source[at].isspace():
            at += 1
            continue
        m = _TOKEN.match(source, at)
        if m is None:
            raise ValueError(f"{text!r} is not a date: cannot read {source[at:]!r}")
        at = m.end()
        tokens.append(m.group(0))
        if m["iso"]:
            put("date", (int(m["y"]), int(m["mo"]), int(m["d"])))
            if m["hh"]:
                put("time", (int(m["hh"]), int(m["mm"]), int(m["ss"] or 0)))
        elif m["clock"]:
            put("time", (_hour_of(m["clock"], m["clock_half"]), int(m["minute"]), int(m["second"] or 0)))
        elif m["hour"]:
            put("time", (_hour_of(m["hour"], m["half"]), 0, 0))
        elif m["year"]:
            put("year", int(m["year"]))
        elif m["day"]:
            put("day", int(m["day"]))
        elif m["word"] in _NAMED_TIMES:
            put("time", (_NAMED_TIMES[m["word"]], 0, 0))
        elif m["word"] and m["word"] not in _JOINERS:
            month = _month_number(m["word"])
            if month is None:
                raise ValueError(f"{text!r} is not a date: {m['word']!r} is neither a month nor a time")
            put("month", month)
    if not tokens:
        raise ValueError(f"{text!r} is not a date: it is empty")
    if tokens[0].rstrip(".") in _JOINERS - {"the"} or tokens[-1].rstrip(".") in _JOINERS:
        raise ValueError(f"{text!r} is not a date: it starts or ends with a joining word")
    if "date" in fields:
        if fields.keys() & {"year", "month", "day"}:
            raise ValueError(f"{text!r} is not a date: it writes two dates")
        year, month, day = fields["date"]
    elif fields.keys() >= {"year", "month", "day"}:
        year, month, day = fields["year"], fields["month"], fields["day"]
    else:
        raise ValueError(f"{text!r} is not a date: it needs a day, a month and a four-digit year")
    hour, minute, second = fields.get("time", (0, 0, 0))
    if not 1 <= month <= 12 or not 1 <= day <= _days_in(year, month):
        raise ValueError(f"{text!r} is not a date: there is no day {day} in month {month} of {year}")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{text!r} is not a date: {hour:02d}:{minute:02d}:{second:02d} is not a time of day")
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def is_when(text) -> bool:
    try:
        parse_when(text)
    except ValueError:
        return False
    return True


def is_iso_datetime(text) -> bool:
    """What the tool contract's "format": "date-time" accepts: ISO 8601 as Python reads it ('Z' for UTC)."""
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        return False
    return True
