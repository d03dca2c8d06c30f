"""Colours: a string whose schema says `"format": "color"` is a CSS colour name or #RRGGBB / #RGB.

The model picks colours from this vocabulary (the emission schema turns the format into a pattern, so constrained
decoding cannot invent "tense" or copy a place name into a colour), grounding writes them canonically (lower case,
"grey" as "gray"), and both tool-contract checks refuse anything else. The browser has the same list
(web/static/colors.js; tests/test_web_grounding.py checks both agree and that Cesium parses every name).
"""

from __future__ import annotations

COLOR_FORMAT = "color"

# The CSS named colours Cesium's Color.fromCssColorString knows: CSS Color 4's list without lavenderblush,
# lightsalmon and rebeccapurple, which Cesium lacks.
CSS_COLOR_NAMES = (
    "aliceblue", "antiquewhite", "aqua", "aquamarine", "azure", "beige", "bisque", "black", "blanchedalmond", "blue",
    "blueviolet", "brown", "burlywood", "cadetblue", "chartreuse", "chocolate", "coral", "cornflowerblue", "cornsilk",
    "crimson", "cyan", "darkblue", "darkcyan", "darkgoldenrod", "darkgray", "darkgreen", "darkgrey", "darkkhaki",
    "darkmagenta", "darkolivegreen", "darkorange", "darkorchid", "darkred", "darksalmon", "darkseagreen",
    "darkslateblue", "darkslategray", "darkslategrey", "darkturquoise", "darkviolet", "deeppink", "deepskyblue",
    "dimgray", "dimgrey", "dodgerblue", "firebrick", "floralwhite", "forestgreen", "fuchsia", "gainsboro",
    "ghostwhite", "gold", "goldenrod", "gray", "green", "greenyellow", "grey", "honeydew", "hotpink", "indianred",
    "indigo", "ivory", "khaki", "lavender", "lawngreen", "lemonchiffon", "lightblue", "lightcoral", "lightcyan",
    "lightgoldenrodyellow", "lightgray", "lightgreen", "lightgrey", "lightpink", "lightseagreen", "lightskyblue",
    "lightslategray", "lightslategrey", "lightsteelblue", "lightyellow", "lime", "limegreen", "linen", "magenta",
    "maroon", "mediumaquamarine", "mediumblue", "mediumorchid", "mediumpurple", "mediumseagreen", "mediumslateblue",
    "mediumspringgreen", "mediumturquoise", "mediumvioletred", "midnightblue", "mintcream", "mistyrose", "moccasin",
    "navajowhite", "navy", "oldlace", "olive", "olivedrab", "orange", "orangered", "orchid", "palegoldenrod",
    "palegreen", "paleturquoise", "palevioletred", "papayawhip", "peachpuff", "peru", "pink", "plum", "powderblue",
    "purple", "red", "rosybrown", "royalblue", "saddlebrown", "salmon", "sandybrown", "seagreen",
    "seashell", "sienna", "silver", "skyblue", "slateblue", "slategray", "slategrey", "snow", "springgreen",
    "steelblue", "tan", "teal", "thistle", "tomato", "turquoise", "violet", "wheat", "white", "whitesmoke", "yellow",
    "yellowgreen",
)

# What the emission schema lets a model write for a colour (names in lower case, as the training data has them).
COLOR_PATTERN = "^(#[0-9A-Fa-f]{6}|#[0-9A-Fa-f]{3}|" + "|".join(CSS_COLOR_NAMES) + ")$"

_NAMES = frozenset(CSS_COLOR_NAMES)
_HEX_DIGITS = frozenset("0123456789abcdef")


def is_color(text) -> bool:
    """A CSS colour name (any case) or #RRGGBB / #RGB."""
    if not isinstance(text, str):
        return False
    text = text.lower()
    if text.startswith("#"):
        return len(text) in (4, 7) and set(text[1:]) <= _HEX_DIGITS
    return text in _NAMES


def canonical_color(text: str) -> str:
    """'Grey' -> 'gray', '#A0E51D' -> '#a0e51d': one spelling per colour, so equal colours compare equal."""
    return text.lower().replace("grey", "gray")
