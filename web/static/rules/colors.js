// Colours: a string whose schema says "format": "color" is a CSS colour name or #RRGGBB / #RGB.
//
// The model picks colours from this vocabulary (the emission schema turns the format into a pattern, so
// constrained decoding cannot invent "tense" or copy a place name into a colour), grounding writes them
// canonically (lower case, "grey" as "gray"), and the tool-contract check refuses anything else. Contract tests:
// tests/test_colors.py (which also checks that Cesium parses every name).

export const COLOR_FORMAT = "color";

// The CSS named colours Cesium's Color.fromCssColorString knows: CSS Color 4's list without lavenderblush,
// lightsalmon and rebeccapurple, which Cesium lacks.
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

// What the emission schema lets a model write for a colour: a name in lower case (as the training data has them),
// Title or UPPER case (as a person typing a call may; grounding writes it in lower case), or #hex. A JSON Schema
// pattern has no case folding, hence the three spellings.
const title = (name) => name.charAt(0).toUpperCase() + name.slice(1);
const SPELLINGS = [...CSS_COLOR_NAMES, ...CSS_COLOR_NAMES.map(title), ...CSS_COLOR_NAMES.map((n) => n.toUpperCase())];
export const COLOR_PATTERN = `^(#[0-9A-Fa-f]{6}|#[0-9A-Fa-f]{3}|${SPELLINGS.join("|")})$`;

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
