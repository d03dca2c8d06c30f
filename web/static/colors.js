// Colours, as webslm/colors.py: a string whose schema says "format": "color" is a CSS colour name or #RRGGBB /
// #RGB; grounding writes it canonically. tests/test_web_grounding.py checks both sides agree.

export const COLOR_FORMAT = "color";

// The CSS names Cesium knows (see colors.py).
export const CSS_COLOR_NAMES = [
  "aliceblue", "antiquewhite", "aqua", "aquamarine", "azure", "beige", "bisque", "black", "blanchedalmond", "blue",
  "blueviolet", "brown", "burlywood", "cadetblue", "chartreuse", "chocolate", "coral", "cornflowerblue", "cornsilk",
  "crimson", "cyan", "darkblue", "darkcyan", "darkgoldenrod", "darkgray", "darkgreen", "darkgrey", "darkkhaki",
  "darkmagenta", "darkolivegreen", "darkorange", "darkorchid", "darkred", "darksalmon", "darkseagreen",
  "darkslateblue", "darkslategray", "darkslategrey", "darkturquoise", "darkviolet", "deeppink", "deepskyblue",
  "dimgray", "dimgrey", "dodgerblue", "firebrick", "floralwhite", "forestgreen", "fuchsia", "gainsboro", "ghostwhite",
  "gold", "goldenrod", "gray", "green", "greenyellow", "grey", "honeydew", "hotpink", "indianred", "indigo", "ivory",
  "khaki", "lavender", "lawngreen", "lemonchiffon", "lightblue", "lightcoral", "lightcyan", "lightgoldenrodyellow",
  "lightgray", "lightgreen", "lightgrey", "lightpink", "lightseagreen", "lightskyblue", "lightslategray",
  "lightslategrey", "lightsteelblue", "lightyellow", "lime", "limegreen", "linen", "magenta", "maroon",
  "mediumaquamarine", "mediumblue", "mediumorchid", "mediumpurple", "mediumseagreen", "mediumslateblue",
  "mediumspringgreen", "mediumturquoise", "mediumvioletred", "midnightblue", "mintcream", "mistyrose", "moccasin",
  "navajowhite", "navy", "oldlace", "olive", "olivedrab", "orange", "orangered", "orchid", "palegoldenrod",
  "palegreen", "paleturquoise", "palevioletred", "papayawhip", "peachpuff", "peru", "pink", "plum", "powderblue",
  "purple", "red", "rosybrown", "royalblue", "saddlebrown", "salmon", "sandybrown", "seagreen",
  "seashell", "sienna", "silver", "skyblue", "slateblue", "slategray", "slategrey", "snow", "springgreen",
  "steelblue", "tan", "teal", "thistle", "tomato", "turquoise", "violet", "wheat", "white", "whitesmoke", "yellow",
  "yellowgreen"
];

// What the emission schema lets a model write for a colour (webslm/colors.py COLOR_PATTERN).
export const COLOR_PATTERN = `^(#[0-9A-Fa-f]{6}|#[0-9A-Fa-f]{3}|${CSS_COLOR_NAMES.join("|")})$`;

const NAMES = new Set(CSS_COLOR_NAMES);

// A CSS colour name (any case) or #RRGGBB / #RGB.
export function isColor(text) {
  if (typeof text !== "string") return false;
  const lower = text.toLowerCase();
  if (lower.startsWith("#")) return /^#([0-9a-f]{3}|[0-9a-f]{6})$/.test(lower);
  return NAMES.has(lower);
}

// 'Grey' -> 'gray', '#A0E51D' -> '#a0e51d'.
export function canonicalColor(text) {
  return text.toLowerCase().replaceAll("grey", "gray");
}
