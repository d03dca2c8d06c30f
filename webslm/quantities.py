"""Lengths with units: the model copies "15 miles" from the request, grounding turns it into metres.

A 135M model converts units badly ("8 km" came out as 800000, "500 ft" as 500), so a number argument whose tool
schema names its unit ("x-unit": "m") may be written as a quantity string, a number and a length unit as people type
them: "4.4 km", "16,000 feet", "15-mile", "0.6m", '16"'. `convert_quantity` turns it into the schema's unit. The
browser does the same with the same table (web/static/quantities.js; tests/test_web_grounding.py checks both agree).
"""

from __future__ import annotations

import re

UNIT_KEY = "x-unit"

# Metres per unit, and the spellings that mean it (matched after lower-casing).
LENGTH_UNITS: dict[str, tuple[float, tuple[str, ...]]] = {
    "mm": (0.001, ("mm", "millimeter", "millimeters", "millimetre", "millimetres")),
    "cm": (0.01, ("cm", "centimeter", "centimeters", "centimetre", "centimetres")),
    "m": (1.0, ("m", "meter", "meters", "metre", "metres")),
    "km": (1000.0, ("km", "kilometer", "kilometers", "kilometre", "kilometres")),
    "in": (0.0254, ("in", "inch", "inches", '"')),
    "ft": (0.3048, ("ft", "foot", "feet", "'")),
    "yd": (0.9144, ("yd", "yard", "yards")),
    "mi": (1609.344, ("mi", "mile", "miles")),
}
_SPELLINGS = {name: unit for unit, (_, names) in LENGTH_UNITS.items() for name in names}

# What the emission schema lets a model write (constrained decoding uses it too): an optional minus, at most 12 digits
# with optional thousands commas and at most 6 decimals (a drifting model wrote "5000000000..." until it ran out of
# tokens), an optional space or hyphen, then a unit spelling in lower, upper or title case (the grammar has no case
# folding): "26.71S" or "95d" cannot be written as a height.
_UNIT_SPELLINGS = sorted({form for spelling in _SPELLINGS for form in (spelling, spelling.upper(), spelling.title())},
                         key=lambda form: (-len(form), form))
QUANTITY_PATTERN = r"^-?[0-9]{1,12}(,[0-9]{3}){0,3}(\.[0-9]{1,6})?[ -]?(" + "|".join(_UNIT_SPELLINGS) + ")$"
_QUANTITY = re.compile(r"^\s*(-?)([0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?)\s*-?\s*([A-Za-z]+|\"|')\s*$")


def parse_quantity(text: str) -> tuple[float, str]:
    """'16,000 feet' -> (16000.0, 'ft'). Raises ValueError saying what is wrong."""
    m = _QUANTITY.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{text!r} is not a quantity like '4.4 km' or '500 ft'")
    sign, digits, unit = m.groups()
    key = _SPELLINGS.get(unit.lower())
    if key is None:
        raise ValueError(f"unknown length unit {unit!r} in {text!r}; known: {', '.join(LENGTH_UNITS)}")
    return (-1 if sign else 1) * float(digits.replace(",", "")), key


def convert_quantity(text: str, target: str) -> int | float:
    """'4.4 km' in 'm' -> 4400. Rounded to 6 decimals, integral values as int."""
    number, unit = parse_quantity(text)
    value = round(number * LENGTH_UNITS[unit][0] / LENGTH_UNITS[target][0], 6)
    return int(value) if value == int(value) else value
